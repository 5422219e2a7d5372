"""gantry slim --keep-arch / gantry tailor (issue 23) on an image of real device code built here
(tests/fixtures/tailor_image.py): what is kept per architecture, the new image's record (labels
and /.gantry/tailor.json), the tailored program reaching its fat-binary registration with the
tailored containers, analyze's prediction equal to the result, --dry-run writing nothing, `host`
from simulated NVIDIA and AMD hosts with the doctor's check, and files that do not parse exactly
left byte-identical. No GPU here: kernels cannot run (the note of issue 23 says what only
hardware can prove)."""
import ctypes
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_nvcc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "gpuhost"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "amdhost"))
import amdhost  # noqa: E402
import gpuhost  # noqa: E402

NO_GPU = ("-e", "NVIDIA_VISIBLE_DEVICES=void")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    need_nvcc()
    from fixtures import tailor_image as ti
    d = tmp_path_factory.mktemp("tailor")
    archive = d / "tailor.tar"
    b = ti.write_tailor_image(archive, tag="tailor:1", work=d / "build")
    os.chmod(d, 0o755)
    os.chmod(archive, 0o644)
    b["archive"] = archive
    return b


def load(g, built):
    g.run("load", built["archive"])
    return "tailor:1"


def arch(report):
    return {a: (v["before"], v["after"]) for a, v in report["arch_bytes"].items()}


def copy_out(g, ref, path, dest_dir):
    """The file at PATH in image REF, copied to DEST_DIR on the host through a bind mount."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(dest_dir, 0o777)
    g.run("run", "--rm", *NO_GPU, "-v", f"{dest_dir}:/out", ref, "/bin/busybox", "cp", path, "/out/")
    return dest_dir / Path(path).name


def registrations(g, ref):
    """(library, fatSize) for every __cudaRegisterFatBinary the program makes, via the shim."""
    from fixtures import tailor_image as ti
    out = g.run("run", "--rm", *NO_GPU, "-e", f"LD_PRELOAD={ti.SHIM}", ref).out
    assert ti.APP_OK in out, out
    assert "cudaGetDeviceCount -> cudaErrorInsufficientDriver" in out, out  # no GPU, no libcuda
    regs = []
    for line in out.splitlines():
        if line.startswith("regshim: "):
            parts = line.split()
            assert parts[3] == "0x466243b1" and parts[5] == "0xba55ed50", line
            regs.append((Path(parts[1]).name, int(parts[7])))
    return regs


def fatbin(g, path):
    return g.run("doctor", "--fatbin", path, "--json").json()


def test_keep_list_cuda(g, built, tmp_path):
    ref = load(g, built)
    before_regs = registrations(g, ref)
    assert sorted(n for n, _ in before_regs) == ["libk.so", "libk.so", "tailor-app"]
    res = g.run("slim", ref, "-t", "tailor:sm80", "--keep-arch", "sm_80", "--remove", "none",
                "--json", "--check-opt=--env=NVIDIA_VISIBLE_DEVICES=void",
                "--check", "/app/tailor-app | grep -q 'main reached'")
    r = res.json()
    assert r["tag"] == "docker.io/library/tailor:sm80" and r["check"]["passed"], r
    t = r["tailor"]
    assert t["keep_arch"] == "sm_80 (+newest PTX)"
    by_path = {}
    for f in t["files"]:
        by_path.setdefault(f["path"], []).append(f)
    assert [f["outcome"] for f in by_path["/app/libk.so"]] == ["changed"]
    assert [f["outcome"] for f in by_path["/app/tailor-app"]] == ["changed"]
    assert "/app/libhip.so" not in by_path  # no AMD target named: HIP code is not touched
    a = arch(t)
    assert a["sm_80"][0] == a["sm_80"][1] > 0  # kept, byte for byte
    for gone in ("sm_75", "sm_86", "sm_90"):
        assert a[gone][0] > 0 and a[gone][1] == 0, (gone, a)
    assert a["compute_90"][0] == a["compute_90"][1] > 0  # the newest PTX: the JIT path
    assert t["totals"]["zeroed_bytes"] == sum(b - af for b, af in a.values())
    assert t["totals"]["refused"] == 0

    # the record: labels and the report inside the image
    cfg = g.run("inspect", "tailor:sm80", "--json").json()
    labels = cfg[0]["config"]["Labels"]
    assert labels["io.gantry.tailor.keep-arch"] == "sm_80 (+newest PTX)"
    assert json.loads(labels["io.gantry.tailor.removed"])["sm_90"] == a["sm_90"][0]
    inside = json.loads(g.run("run", "--rm", *NO_GPU, "tailor:sm80", "cat",
                              "/.gantry/tailor.json").out)
    assert inside["keep_arch"] == t["keep_arch"] and inside["totals"] == t["totals"]

    # the tailored library lists exactly what was kept, same file size, and loads on the host
    orig = built["libk"]
    lib = copy_out(g, "tailor:sm80", "/app/libk.so", tmp_path / "out")
    assert lib.stat().st_size == orig.stat().st_size
    fb = fatbin(g, lib)
    kept = sorted((e["kind"], e["arch"]) for e in fb["entries"] if not e["nvlink_stub"])
    assert {k for k in kept} == {("sass", "sm_80"), ("ptx", "compute_90")}, kept
    assert not fb["problems"], fb["problems"]
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/local/cuda/lib64")
    subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(lib)!r}, "
                    "mode=ctypes.RTLD_GLOBAL); print('loaded')"], env=env, check=True,
                   capture_output=True)

    # the program reaches its registration calls with the tailored containers
    after_regs = registrations(g, "tailor:sm80")
    assert sorted(n for n, _ in after_regs) == sorted(n for n, _ in before_regs)
    declared = sorted(c["declared_size"] - 16 for c in fb["containers"])
    for (name, size), (_, was) in zip(sorted(after_regs), sorted(before_regs)):
        assert size < was, (name, size, was)
        if name == "libk.so":
            assert size in declared, (size, declared)


def test_no_ptx_drops_newer_ptx(g, built):
    ref = load(g, built)
    r = g.run("slim", ref, "-t", "tailor:noptx", "--keep-arch", "8.0", "--no-ptx", "--remove",
              "none", "--json").json()
    a = arch(r["tailor"])
    assert r["tailor"]["keep_arch"] == "sm_80 (no PTX)"
    assert a["compute_90"][1] == 0 and a["sm_80"][1] == a["sm_80"][0]


def test_analyze_predicts_the_result(g, built):
    ref = load(g, built)
    pred = g.run("analyze", ref, "--keep-arch", "sm_90", "--json").json()["tailor"]
    r = g.run("slim", ref, "-t", "tailor:sm90", "--keep-arch", "sm_90", "--remove", "none",
              "--json").json()["tailor"]
    assert pred["zeroed_bytes"] == r["totals"]["zeroed_bytes"] > 0
    assert arch(pred) == arch(r)
    assert pred["files"]["changed"] == r["totals"]["changed"]
    assert pred["predicted_compressed_saving"] > 0
    text = g.run("analyze", ref, "--keep-arch", "sm_90").out
    assert "Tailoring to sm_90 (+newest PTX)" in text


def test_dry_run_writes_nothing(g, built):
    ref = load(g, built)
    images = g.run("images", "--json").out
    out = g.run("slim", ref, "-t", "tailor:dry", "--keep-arch", "sm_80", "--remove", "none",
                "--dry-run").out
    assert "Tailoring to sm_80 (+newest PTX)" in out and "sm_75" in out
    plan = g.run("slim", ref, "-t", "tailor:dry", "--keep-arch", "sm_80", "--dry-run",
                 "--json").json()
    assert plan["tailor"]["zeroed_bytes"] > 0
    assert g.run("images", "--json").out == images


def test_tailor_for_a_simulated_h100(g, built, tmp_path):
    host = gpuhost.build_host(tmp_path / "h100", gpuhost.preset(1, cc="9.0"))
    ref = load(g, built)
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)  # the simulated host's NVML reads its nodes
    roots = ["--driver-root", host.driver_root, "--dev-root", host.dev_root]
    r = g.run("tailor", ref, "-t", "tailor:h100", *roots, "--json").json()
    t = r["tailor"]
    assert t["keep_arch"] == "sm_90 (+newest PTX)", t
    a = arch(t)
    assert a["sm_90"][0] == a["sm_90"][1] > 0 and a["sm_80"][1] == 0 and a["sm_75"][1] == 0
    assert r["removed"] == {}  # tailor removes nothing else
    # without its NVML the simulated host cannot say the GPU's compute capability: exit 3, the fix
    del g.env["FAKE_DEVICE_ROOT"]
    res = g.fail("tailor", ref, "-t", "tailor:nocc", *roots, code=3)
    assert "compute capability of GPU 0" in res.err and "--keep-arch sm_90" in res.err
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    # the doctor passes on the new image where it passed on the original
    for img in (ref, "tailor:h100"):
        res = g.run("doctor", img, "--json", "--gpus", "all", *roots, check=False)
        fails = [f["id"] for f in res.json()["findings"] if f["severity"] == "fail"]
        assert not fails, (img, fails)


def test_tailor_for_a_simulated_mi250x(g, built, tmp_path):
    if "hip" not in built:
        pytest.skip("clang++ cannot build a HIP library here")
    host = tmp_path / "mi250x"
    amdhost.build(host, shape="mi250x")
    ref = load(g, built)
    r = g.run("tailor", ref, "-t", "tailor:mi250x", "--sys-root", host / "sys", "--dev-root",
              host / "dev", "--driver-root", tmp_path / "no-nvidia", "--json").json()
    t = r["tailor"]
    assert t["keep_arch"] == "gfx90a:sramecc+", t
    a = arch(t)
    assert a["gfx90a"][0] == a["gfx90a"][1] > 0, a
    assert a["gfx908"][1] == 0 and a["gfx1030"][1] == 0, a
    assert not any(k.startswith(("sm_", "compute_")) for k in a), a  # CUDA code untouched


def test_host_without_gpus_and_bad_lists(g, built, tmp_path):
    ref = load(g, built)
    empty = tmp_path / "empty"
    empty.mkdir()
    res = g.fail("tailor", ref, "-t", "x:1", "--driver-root", empty, "--dev-root", empty,
                 "--sys-root", empty, code=3)
    assert "this host has no GPU" in res.err and "--keep-arch sm_90" in res.err
    res = g.fail("slim", ref, "-t", "x:1", "--keep-arch", "sm_8x", code=2)
    assert ('"sm_8x" is neither a CUDA architecture, an AMD target nor an Intel GPU device'
            in res.err), res
    res = g.fail("slim", ref, "-t", "x:1", "--keep-arch", ",", code=2)
    assert "the list is empty" in res.err
    # --no-ptx is the CUDA format's keep option: with no CUDA GPU kept it would change nothing
    res = g.fail("slim", ref, "-t", "x:1", "--keep-arch", "gfx90a", "--no-ptx", code=2)
    assert ("--no-ptx: --keep-arch gfx90a names none of the GPUs it applies to (CUDA GPUs as "
            "sm_80 / 8.0)") in res.err, res
    res = g.fail("analyze", ref, "--no-ptx", code=2)
    assert "no --keep-arch was given" in res.err, res
    assert "x:1" not in g.run("images").out


def corrupt_fatsize(data: bytes) -> bytes:
    """The first fat-binary container's fatSize raised by 8: its entries no longer add up."""
    at = data.find(struct.pack("<I", 0xBA55ED50))
    assert at > 0
    size = struct.unpack_from("<Q", data, at + 8)[0]
    return data[:at + 8] + struct.pack("<Q", size + 8) + data[at + 16:]


def test_file_that_does_not_parse_exactly_is_left_alone(g, mk, built, tmp_path):
    from fixtures import tailor_image as ti
    bad = corrupt_fatsize(built["libk"].read_bytes())
    img = ti.image(built)
    img.layers.append(mk.Layer([mk.Entry.file("app/libbad.so", bad, mode=0o755)]))
    archive = tmp_path / "bad.tar"
    mk.write_docker_archive(archive, [(img, ["tailor:bad"])])
    g.run("load", archive)
    r = g.run("slim", "tailor:bad", "-t", "tailor:bad80", "--keep-arch", "sm_80", "--remove",
              "none", "--json").json()["tailor"]
    bad_reports = [f for f in r["files"] if f["path"] == "/app/libbad.so"]
    assert [f["outcome"] for f in bad_reports] == ["refused"], bad_reports
    assert bad_reports[0]["refused"], bad_reports
    assert r["totals"]["refused"] == 1
    out = g.run("run", "--rm", *NO_GPU, "tailor:bad80", "/bin/busybox", "sha256sum",
                "/app/libbad.so").out
    assert out.split()[0] == hashlib.sha256(bad).hexdigest()
    text = g.run("slim", "tailor:bad", "-t", "tailor:bad80b", "--keep-arch", "sm_80", "--remove",
                 "none").out
    assert "/app/libbad.so: refused:" in text


def test_rootless_tailoring(rootless, built):
    archive = Path(rootless.base) / "tailor.tar"
    shutil.copy(built["archive"], archive)
    os.chmod(archive, 0o644)
    rootless.run("load", archive)
    r = rootless.run("slim", "tailor:1", "-t", "tailor:r80", "--keep-arch", "sm_80", "--remove",
                     "none", "--json").json()
    assert r["tailor"]["totals"]["changed"] >= 2
    out = rootless.run("run", "--rm", *NO_GPU, "tailor:r80").out
    assert "main reached" in out
