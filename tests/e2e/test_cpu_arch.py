"""`gantry build --cpu-arch` and the CPU checks of `run` and `doctor` (issue 41): the toolchain
variables a build's RUN steps get, the labels the image records, and an image that needs
AVX-512 (by its label, or by the GNU_PROPERTY_X86_ISA_1_NEEDED note `ld -z x86-64-v4` writes
into an ELF file) refused before launch on a host without it, instead of dying with SIGILL.
Hosts are simulated with GANTRY_PROC_ROOT (a directory holding a cpuinfo file); the one real
run of the x86-64-v4 binary expects what this machine's own CPU allows."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import load_busybox, need_tool

BASE = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx "
        "fxsr sse sse2 ht syscall nx lm constant_tsc pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 "
        "movbe popcnt aes xsave avx f16c rdrand lahf_lm abm bmi1 avx2 bmi2 sha_ni")
V3 = BASE  # an x86-64-v3 host (a Zen 2, a Haswell) without AVX-512
V4 = BASE + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni"


def proc_root(where: Path, flags: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "cpuinfo").write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\n"
                                   f"flags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return where


def labels(g, ref):
    return json.loads(g.run("inspect", "--json", ref).out)[0]["config"].get("Labels") or {}


def ctx_with(tmp_path: Path, dockerfile: str, files=None) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, data in (files or {}).items():
        shutil.copy2(data, ctx / name)
    return ctx


FLAGS = """\
FROM sample:latest
RUN echo "$CFLAGS|$CXXFLAGS|$CMAKE_C_FLAGS|$CMAKE_CXX_FLAGS|$RUSTFLAGS|$GANTRY_CPU_ARCH" > /flags
"""


def test_cpu_arch_level_sets_the_toolchain_variables_and_labels(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    r = g.run("build", "-t", "cpu:v3", "--cpu-arch", "x86-64-v3", ctx_with(tmp_path, FLAGS))
    assert "compiling for the CPU: -march=x86-64-v3 (needs abm avx avx2" in r.err, r
    out = g.run("run", "--rm", "cpu:v3", "cat", "/flags").out.strip()
    assert out == ("-march=x86-64-v3|-march=x86-64-v3|-march=x86-64-v3|-march=x86-64-v3|"
                   "-C target-cpu=x86-64-v3|x86-64-v3"), out
    lab = labels(g, "cpu:v3")
    assert lab["io.gantry.cpu.arch"] == "x86-64-v3"
    feats = lab["io.gantry.cpu.features"].split()
    assert "avx2" in feats and "fma" in feats and "avx512f" not in feats
    # the variables are the build's, not the image's
    env = json.loads(g.run("inspect", "--json", "cpu:v3").out)[0]["config"].get("Env") or []
    assert not any(e.startswith(("CFLAGS=", "RUSTFLAGS=")) for e in env)
    r = g.fail("build", "--cpu-arch", "pentium9", ctx_with(tmp_path, FLAGS), code=2)
    assert "--cpu-arch pentium9: not a CPU target gantry knows" in r.err
    assert "x86-64-v4" in r.err


def test_cpu_arch_host_reads_the_hosts_cpu(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    g.env["GANTRY_PROC_ROOT"] = str(proc_root(tmp_path / "proc", V3))
    g.run("build", "-t", "cpu:host", "--cpu-arch", "host", ctx_with(tmp_path, FLAGS))
    assert g.run("run", "--rm", "cpu:host", "cat", "/flags").out.startswith("-march=native|")
    lab = labels(g, "cpu:host")
    assert lab["io.gantry.cpu.arch"] == "native"
    feats = lab["io.gantry.cpu.features"].split()
    assert {"avx2", "aes", "sha_ni", "pclmulqdq"} <= set(feats), feats
    assert "avx512f" not in feats
    assert "ht" not in feats and "nx" not in feats  # not instruction-set extensions


def test_label_needing_avx512_refused_on_a_host_without(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    g.run("build", "-t", "cpu:v4", "--cpu-arch", "x86-64-v4", ctx_with(tmp_path, FLAGS))
    g.env["GANTRY_PROC_ROOT"] = str(proc_root(tmp_path / "v3", V3))
    r = g.fail("run", "--rm", "cpu:v4", "true", code=125)
    assert ("image cpu:v4 needs CPU features this host lacks: avx512bw, avx512cd, avx512dq, "
            "avx512f, avx512vl for its label io.gantry.cpu.features (built with --cpu-arch "
            "x86-64-v4)") in r.err, r
    assert "--cpu-arch host" in r.err and "--no-require" in r.err
    r = g.run("run", "--rm", "--no-require", "cpu:v4", "echo", "ran")
    assert r.out.strip() == "ran" and "requirements not checked: --no-require" in r.err
    d = g.run("doctor", "cpu:v4", check=False)
    assert d.code == 10, d
    assert "CPU-IMAGE-LABEL" in d.out and "avx512f" in d.out and "x86-64-v3" in d.out, d
    g.env["GANTRY_PROC_ROOT"] = str(proc_root(tmp_path / "v4", V4))
    assert g.run("run", "--rm", "cpu:v4", "echo", "ok").out.strip() == "ok"


@pytest.fixture(scope="module")
def v4_binary(tmp_path_factory):
    """A static program linked with -z x86-64-v4 (binutils marks it GNU_PROPERTY_X86_ISA_1_V4)."""
    need_tool("gcc")
    d = tmp_path_factory.mktemp("v4")
    (d / "app.c").write_text('#include <stdio.h>\nint main(void){puts("v4-app ran");return 0;}\n')
    subprocess.run(["gcc", "-O2", "-static", "-march=x86-64-v4", "-Wl,-z,x86-64-v4", "-o",
                    str(d / "app"), str(d / "app.c")], check=True)
    notes = subprocess.run(["readelf", "-n", str(d / "app")], capture_output=True,
                           text=True).stdout
    assert "x86-64-v4" in notes, notes
    return d / "app"


def real_host_has_avx512() -> bool:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return {"avx512f", "avx512bw", "avx512cd", "avx512dq",
                    "avx512vl"} <= set(line.split(":", 1)[1].split())
    return False


def test_elf_isa_note_refused_before_launch(g, mk, tmp_path, v4_binary):
    load_busybox(g, mk, tmp_path)
    df = "FROM sample:latest\nCOPY app /usr/local/bin/app\nCMD [\"app\"]\n"
    g.run("build", "-t", "elf:v4", ctx_with(tmp_path, df, {"app": v4_binary}))
    g.env["GANTRY_PROC_ROOT"] = str(proc_root(tmp_path / "v3", V3))
    r = g.fail("run", "--rm", "elf:v4", code=125)
    assert ("needs CPU features this host lacks: avx512f, avx512bw, avx512cd, avx512dq, "
            "avx512vl for /usr/local/bin/app (its ELF note asks for x86-64-v4)") in r.err, r
    # by its name in PATH too; a baseline program of the same image runs
    g.fail("run", "--rm", "elf:v4", "app", code=125)
    assert g.run("run", "--rm", "elf:v4", "echo", "sh ok").out.strip() == "sh ok"
    d = g.run("doctor", "elf:v4", check=False)
    assert d.code == 10 and "CPU-IMAGE-ELF" in d.out and "/usr/local/bin/app" in d.out, d
    # on this machine's own CPU: it runs where the CPU has AVX-512, else gantry refuses it
    del g.env["GANTRY_PROC_ROOT"]
    res = g.run("run", "--rm", "elf:v4", check=False)
    if real_host_has_avx512():
        assert res.code == 0 and res.out.strip() == "v4-app ran", res
    else:
        assert res.code == 125 and "avx512f" in res.err, res


def test_rootless_build_labels_and_run_refuses(rootless, mk):
    g = rootless
    base = Path(g.base)
    load_busybox(g, mk, base)
    ctx = base / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(FLAGS)
    ctx.chmod(0o755)
    (ctx / "Dockerfile").chmod(0o644)
    g.run("build", "-t", "cpu:rl", "--cpu-arch", "skylake-avx512", ctx)
    assert labels(g, "cpu:rl")["io.gantry.cpu.arch"] == "skylake-avx512"
    proc = proc_root(base / "proc", V3)
    proc.chmod(0o755)
    (proc / "cpuinfo").chmod(0o644)
    g.env["GANTRY_PROC_ROOT"] = str(proc)
    r = g.fail("run", "--rm", "cpu:rl", "cat", "/flags", code=125)
    assert "built with --cpu-arch skylake-avx512" in r.err, r


# aarch64 hosts' /proc/cpuinfo: a Features line, no flags (issue 80). NVIDIA Grace (Neoverse V2)
# and Jetson AGX Orin (Cortex-A78AE), simulated as the x86 hosts above are.
GRACE = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt "
         "fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs "
         "sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm "
         "svebf16 i8mm bf16 dgh bti")
ORIN = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc "
        "dcpop asimddp uscat ilrcpc flagm paca pacg")


def arm_proc_root(where: Path, features: str, part: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    block = (f"Features\t: {features}\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
             f"CPU variant\t: 0x0\nCPU part\t: {part}\nCPU revision\t: 0\n\n")
    (where / "cpuinfo").write_text("processor\t: 0\n" + block + "processor\t: 1\n" + block)
    return where


def test_aarch64_cores_grace_image_refused_on_orin(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    r = g.run("build", "-t", "cpu:grace", "--cpu-arch", "neoverse-v2", ctx_with(tmp_path, FLAGS))
    assert "compiling for the CPU: -mcpu=neoverse-v2 (needs " in r.err, r
    out = g.run("run", "--rm", "--no-require", "cpu:grace", "cat", "/flags").out.strip()
    assert out == ("-mcpu=neoverse-v2|-mcpu=neoverse-v2|-mcpu=neoverse-v2|-mcpu=neoverse-v2|"
                   "-C target-cpu=neoverse-v2|neoverse-v2"), out
    feats = labels(g, "cpu:grace")["io.gantry.cpu.features"].split()
    assert {"sve2", "bf16", "i8mm", "atomics"} <= set(feats), feats
    g.env["GANTRY_PROC_ROOT"] = str(arm_proc_root(tmp_path / "orin", ORIN, "0xd42"))
    r = g.fail("run", "--rm", "cpu:grace", "true", code=125)
    assert ("image cpu:grace needs CPU features this host lacks: asimdfhm, bf16, fcma, frint, "
            "i8mm, jscvt, sve, sve2 for its label") in r.err, r
    assert "(built with --cpu-arch neoverse-v2)" in r.err, r
    d = g.run("doctor", "cpu:grace", check=False)
    assert d.code == 10, d
    assert "this host's CPU is armv8.2-a" in d.out and "CPU-IMAGE-LABEL" in d.out, d
    g.env["GANTRY_PROC_ROOT"] = str(arm_proc_root(tmp_path / "grace", GRACE, "0xd4f"))
    assert g.run("run", "--rm", "cpu:grace", "echo", "ok").out.strip() == "ok"
    d = g.run("doctor", "cpu:grace", check=False)
    assert "this host's CPU is armv9-a with SVE2" in d.out, d
    r = g.fail("build", "--cpu-arch", "armv7-a", ctx_with(tmp_path, FLAGS), code=2)
    assert "for aarch64 one of armv8-a" in r.err and "cortex-a78ae" in r.err, r
