"""gantry doctor's ROCm rules (issue 22) on simulated AMD hosts (tests/fixtures/amdhost), with
images holding real HIP shared libraries compiled here by Debian's clang."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "amdhost"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "gpuhost"))
import amdhost  # noqa: E402
import gpuhost  # noqa: E402
from conftest import need_tool  # noqa: E402

HIP_SRC = """struct dim3 { unsigned x, y, z; };
typedef struct ihipStream_t* hipStream_t;
extern "C" int hipLaunchKernel(const void*, dim3, dim3, void**, unsigned long, hipStream_t);
__attribute__((global)) void k(float* x) { x[0] = 1; }
"""


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    base = tmp_path_factory.mktemp("amd-hosts")
    out = {}
    for name, kw in {"mi250x": dict(shape="mi250x"), "rx7900": dict(shape="rx7900"),
                     "intree": dict(shape="mi300x", in_tree=True),
                     "rocm54": dict(shape="mi250x")}.items():
        amdhost.build(base / name, **kw)
        out[name] = base / name
    # ROCm 5.4's amdgpu-dkms reports 5.18.13 (ROCm/amdgpu#148)
    (out["rocm54"] / "sys/sys/module/amdgpu/version").write_text("5.18.13\n")
    return out


@pytest.fixture(scope="module")
def hip(tmp_path_factory):
    """HIP shared libraries built with clang for chosen targets (no ROCm needed)."""
    need_tool("clang++")
    d = tmp_path_factory.mktemp("hip")
    (d / "k.hip").write_text(HIP_SRC)
    out = {}
    for name, archs in {"mi200_navi21": ["gfx90a:xnack-", "gfx1030"], "navi21": ["gfx1030"],
                        "mi200": ["gfx90a"]}.items():
        so = d / f"lib{name}.so"
        subprocess.run(["clang++", "-x", "hip", *[f"--offload-arch={a}" for a in archs],
                        "-nogpulib", "-nogpuinc", "-shared", "-fPIC", str(d / "k.hip"), "-o", str(so)],
                       check=True, capture_output=True, timeout=300,
                       env={**os.environ, "TMPDIR": str(d)})  # clang leaves temp dirs
        out[name] = so
    return out


def doctor(g, host, *args, code=None):
    res = g.run("doctor", "--json", "--gpu-vendor", "amd", "--sys-root", host / "sys",
                "--dev-root", host / "dev", *args, check=False)
    if code is not None:
        assert res.code == code, res
    return {f["id"]: f for f in res.json()["findings"]}


def image(g, mk, tmp_path, name, files=(), env=()):
    """An image from busybox plus FILES: (path in image, bytes)."""
    entries = [mk.Entry.file(p, data, mode=0o755) for p, data in files]
    layers = [mk.Layer(entries, compression="gzip")] if entries else []
    img = mk.busybox_image(extra_layers=layers, env=["PATH=/bin", *env])
    archive = tmp_path / f"{name}.tar"
    mk.write_docker_archive(archive, [(img, [f"{name}:1"])])
    g.run("load", archive)
    return f"{name}:1"


def rocm(version):
    return [(f"opt/rocm-{version}/.info/version", f"{version}-39\n".encode())]


def test_host_rules(g, hosts):
    f = doctor(g, hosts["mi250x"], code=0)
    assert f["AMD-DRIVER"]["severity"] == "pass" and "6.12.12" in f["AMD-DRIVER"]["message"]
    assert "gfx90a:sramecc+" in f["AMD-GPU"]["message"]
    # an in-tree amdgpu has no version file: said so, not a failure
    f = doctor(g, hosts["intree"], code=0)
    assert f["AMD-DRIVER"]["severity"] == "info" and "in-tree" in f["AMD-DRIVER"]["message"]
    # no AMD GPU at all: empty sys and dev roots
    empty = hosts["mi250x"].parent / "empty"
    for d in ("sys", "dev"):
        (empty / d).mkdir(parents=True, exist_ok=True)
    f = doctor(g, empty, code=10)
    assert f["AMD-NO-DRIVER"]["severity"] == "fail" and "modprobe amdgpu" in f["AMD-NO-DRIVER"]["fix"]


def test_kfd_access_names_the_group(rootless, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to build real device nodes and run as nobody")
    host = rootless.base / "host"
    desc = amdhost.build(host, shape="rx7900")
    if not desc["real_nodes"]:
        pytest.skip("mknod failed: the fixture made stand-in files")
    res = rootless.run("doctor", "--json", "--gpu-vendor", "amd", "--sys-root", host / "sys",
                       "--dev-root", host / "dev", check=False)
    assert res.code == 10, res
    f = {x["id"]: x for x in res.json()["findings"]}
    k = f["AMD-KFD-ACCESS"]
    assert k["severity"] == "fail" and str(host / "dev/dev/kfd") in k["message"]
    assert "gid 109" in k["message"] and "70-amdgpu.rules" in k["fix"], k
    assert f["AMD-RENDER-ACCESS"]["severity"] == "fail"
    # near miss: AMD's udev rule (mode 0666) lets anyone open them
    for n in [host / "dev/dev/kfd", *(host / "dev/dev/dri").glob("renderD*")]:
        os.chmod(n, 0o666)
    res = rootless.run("doctor", "--json", "--gpu-vendor", "amd", "--sys-root", host / "sys",
                       "--dev-root", host / "dev", check=False)
    ids = {x["id"] for x in res.json()["findings"]}
    assert not ids & {"AMD-KFD-ACCESS", "AMD-RENDER-ACCESS"}, res
    assert res.code == 0, res


def test_no_code_object_for_the_gpu(g, mk, hosts, hip, tmp_path):
    ref = image(g, mk, tmp_path, "hipk", [("usr/lib/libk.so", hip["mi200_navi21"].read_bytes())])
    # RX 7900 XTX (gfx1100) and its iGPU (gfx1036): neither has a code object
    f = doctor(g, hosts["rx7900"], ref, code=10)
    k = f["HIP-NO-CODE-OBJECT"]
    assert k["severity"] == "fail" and "/usr/lib/libk.so" in k["message"]
    assert "gfx1100" in k["message"] and "gfx1036" in k["message"]
    assert "gfx90a:xnack-" in k["message"] and "gfx1030" in k["message"]
    assert "hipErrorNoBinaryForGpu" in k["message"] and "--offload-arch=gfx1100" in k["fix"]
    # near miss: MI250X GCDs are gfx90a:sramecc+:xnack- (xnack off by default)
    f = doctor(g, hosts["mi250x"], ref, code=0)
    assert "HIP-NO-CODE-OBJECT" not in f and f["HIP-CODE-OBJECTS"]["severity"] == "pass"
    # ... and HSA_XNACK=1 makes them xnack+, which the xnack- code object does not fit
    f = doctor(g, hosts["mi250x"], ref, "-e", "HSA_XNACK=1", code=10)
    assert "HIP-NO-CODE-OBJECT" in f
    # --path keeps the scan away from the library
    f = doctor(g, hosts["rx7900"], ref, "--path", "opt/")
    assert "HIP-NO-CODE-OBJECT" not in f


def test_hsa_override(g, mk, hosts, hip, tmp_path):
    navi = image(g, mk, tmp_path, "navi", [("usr/lib/libk.so", hip["navi21"].read_bytes())])
    # gfx1030 code on a gfx1100 GPU: the documented workaround makes it fit
    f = doctor(g, hosts["rx7900"], navi, "-e", "HSA_OVERRIDE_GFX_VERSION=10.3.0", code=0)
    assert "HSA-OVERRIDE-NO-CODE" not in f and "HIP-NO-CODE-OBJECT" not in f
    assert "gfx1030" in f["HIP-CODE-OBJECTS"]["message"]
    # pointing at an ISA the image has no code for
    mi = image(g, mk, tmp_path, "mi", [("usr/lib/libk.so", hip["mi200"].read_bytes())])
    f = doctor(g, hosts["rx7900"], mi, "-e", "HSA_OVERRIDE_GFX_VERSION=10.3.0", code=10)
    assert f["HSA-OVERRIDE-NO-CODE"]["severity"] == "fail"
    assert "HSA_OVERRIDE_GFX_VERSION=10.3.0" in f["HSA-OVERRIDE-NO-CODE"]["message"]
    # on GPUs the image supports natively (MI250X, gfx90a code present): harmful; from the
    # image's own Env as well as -e
    both = image(g, mk, tmp_path, "both", [("usr/lib/libk.so", hip["mi200_navi21"].read_bytes())],
                 env=["HSA_OVERRIDE_GFX_VERSION=10.3.0"])
    f = doctor(g, hosts["mi250x"], both)
    assert f["HSA-OVERRIDE-NATIVE"]["severity"] == "warn"
    assert "unset HSA_OVERRIDE_GFX_VERSION" in f["HSA-OVERRIDE-NATIVE"]["fix"]
    f = doctor(g, hosts["mi250x"], both, "-e", "HSA_OVERRIDE_GFX_VERSION=9.0.10")
    assert "HSA-OVERRIDE-NATIVE" not in f  # the GPUs' own ISA: no change


def test_kernel_driver_vs_rocm(g, mk, hosts, tmp_path):
    new = image(g, mk, tmp_path, "rocm61", rocm("6.1.2"))
    f = doctor(g, hosts["rocm54"], new, code=10)
    k = f["ROCM-KMD-TOO-OLD"]
    assert k["severity"] == "fail" and "ROCm 6.1" in k["message"] and "5.2 to 5.6" in k["message"]
    assert "user-kernel-space-compat-matrix" in k["fix"]
    # near miss: ROCm 5.6 is in the table's row for ROCm 5.4's driver
    ok = image(g, mk, tmp_path, "rocm56", rocm("5.6.0"))
    f = doctor(g, hosts["rocm54"], ok, code=0)
    assert f["ROCM-KMD-COMPAT"]["severity"] == "pass" and "ROCM-KMD-TOO-OLD" not in f
    # a driver version gantry cannot place (the fixture's 6.12.12) and an in-tree driver: info
    for host in ("mi250x", "intree"):
        f = doctor(g, hosts[host], new, code=0)
        assert f["ROCM-KMD-UNKNOWN"]["severity"] == "info"


SITE = "usr/local/lib/python3.12/dist-packages"


def test_torch_builds(g, mk, hosts, tmp_path):
    def torch(name, version, hip_line):
        py = f"__version__ = '{version}'\ncuda: Optional[str] = None\nhip: Optional[str] = {hip_line}\n"
        return image(g, mk, tmp_path, name, rocm("6.1.2") + [(f"{SITE}/torch/version.py", py.encode())])
    f = doctor(g, hosts["mi250x"], torch("torchcpu", "2.4.0+cpu", "None"))
    assert f["ROCM-TORCH-CPU-ONLY"]["severity"] == "warn" and "2.4.0+cpu" in f["ROCM-TORCH-CPU-ONLY"]["message"]
    f = doctor(g, hosts["mi250x"], torch("torchrocm", "2.4.0+rocm6.1", "'6.1.40091-a8dbc0c19'"))
    assert "ROCM-TORCH-CPU-ONLY" not in f and f["ROCM-TORCH"]["severity"] == "info"
    assert "/opt/rocm-6.1.2" in f["ROCM-IMAGE"]["message"] and "torch.version.hip" in f["ROCM-IMAGE"]["message"]


def test_pytorch_rocm_arch(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "arch", rocm("6.1.2"), env=["PYTORCH_ROCM_ARCH=gfx90a;gfx942"])
    f = doctor(g, hosts["rx7900"], ref)
    assert f["ROCM-ARCH-LIST"]["severity"] == "warn" and "gfx1100" in f["ROCM-ARCH-LIST"]["message"]
    f = doctor(g, hosts["mi250x"], ref)
    assert "ROCM-ARCH-LIST" not in f


def test_cuda_image_on_an_amd_host(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "cuda", env=["CUDA_VERSION=12.4.1"])
    f = doctor(g, hosts["mi250x"], ref, code=10)
    assert f["AMD-CUDA-IMAGE"]["severity"] == "fail" and "12.4.1" in f["AMD-CUDA-IMAGE"]["message"]
    # near miss: a ROCm image
    f = doctor(g, hosts["mi250x"], image(g, mk, tmp_path, "rocmonly", rocm("6.1.2")))
    assert "AMD-CUDA-IMAGE" not in f


def test_rocm_image_on_an_nvidia_host(g, mk, tmp_path):
    host = gpuhost.build_host(tmp_path / "nv", gpuhost.preset(1, cc="9.0"))
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    nosys = tmp_path / "nosys"
    nosys.mkdir()
    args = ["doctor", "--json", "--driver-root", host.driver_root, "--dev-root", host.dev_root,
            "--sys-root", nosys]
    res = g.run(*args, image(g, mk, tmp_path, "rocmimg", rocm("6.1.2")), check=False)
    f = {x["id"]: x for x in res.json()["findings"]}
    assert res.code == 10 and f["ROCM-IMAGE-NO-AMD"]["severity"] == "fail", res
    assert "/opt/rocm-6.1.2" in f["ROCM-IMAGE-NO-AMD"]["message"]
    res = g.run(*args, image(g, mk, tmp_path, "plainimg"), check=False)
    assert "ROCM-IMAGE-NO-AMD" not in {x["id"] for x in res.json()["findings"]}


def test_doctor_fatbin_lists_hip_code_objects(g, hip, tmp_path):
    so = hip["mi200_navi21"]
    doc = g.run("doctor", "--fatbin", so, "--json").json()
    h = doc["hip"]
    assert h["found"] and len(h["bundles"]) == 1 and h["bundles"][0]["compression"] == "none"
    code = [e for e in h["entries"] if e["device_code"]]
    assert sorted(e["target_id"] for e in code) == ["gfx1030", "gfx90a:xnack-"]
    for e in code:
        assert e["code_object_version"] == 4 and e["size"] > 0 and e["kind"] == "hipv4"
    assert {t["target_id"] for t in h["totals"]} == {"gfx1030", "gfx90a:xnack-"}
    assert doc["entries"] == []  # no CUDA in it
    text = g.run("doctor", "--fatbin", so).out
    assert "2 HIP code objects" in text and "TARGET" in text and "gfx90a:xnack-" in text, text
    # the raw section, as objcopy extracts it, reads the same
    need_tool("objcopy")
    raw = tmp_path / "fatbin.bin"
    subprocess.run(["objcopy", "-O", "binary", "--only-section=.hip_fatbin", str(so), str(raw)],
                   check=True)
    doc = g.run("doctor", "--fatbin", raw, "--json").json()
    assert sorted(e["target_id"] for e in doc["hip"]["entries"] if e["device_code"]) == \
        ["gfx1030", "gfx90a:xnack-"]
    # the same bundle compressed as clang's --offload-compress writes it (CCOB v2, zlib)
    import hashlib
    import struct
    import zlib
    plain = raw.read_bytes()
    packed = zlib.compress(plain, 9)
    header = b"CCOB" + struct.pack("<HHII", 2, 0, 24 + len(packed), len(plain))
    ccob = tmp_path / "ccob.bin"
    ccob.write_bytes(header + hashlib.md5(plain).digest()[:8] + packed)
    doc = g.run("doctor", "--fatbin", ccob, "--json").json()["hip"]
    assert doc["bundles"][0]["compression"] == "zlib" and doc["bundles"][0]["ccob_version"] == 2
    assert doc["bundles"][0]["uncompressed_size"] == len(plain)
    assert sorted(e["target_id"] for e in doc["entries"] if e["device_code"]) == \
        ["gfx1030", "gfx90a:xnack-"]
    assert "zlib (CCOB v2)" in g.run("doctor", "--fatbin", ccob).out
    # a hostile bundle (an entry offset far outside it) fails cleanly, naming the file
    data = bytearray(raw.read_bytes())
    data[32:40] = b"\xff" * 8
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    res = g.run("doctor", "--fatbin", bad, check=False)
    assert res.code == 4 and str(bad) in res.err and "Traceback" not in res.err, res
    # a file without GPU code has none
    doc = g.run("doctor", "--fatbin", "/bin/sh", "--json").json()
    assert doc["hip"]["found"] is False
