"""gantry doctor: host and image rules on simulated GPU hosts (first rules of issue 5)."""
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "gpuhost"))
import gpuhost  # noqa: E402
from conftest import need_nvcc  # noqa: E402


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    base = tmp_path_factory.mktemp("doctor-hosts")
    return {
        "two": gpuhost.build_host(base / "two", gpuhost.preset(2, cc="8.0")),
        "mig": gpuhost.build_host(base / "mig", gpuhost.preset(2, cc="8.0", mig=[1])),
    }


def doctor(g, host, *args, check_code=None, nvml=True):
    # the fake NVML sees nodes under FAKE_DEVICE_ROOT; without it discovery reads /proc
    if nvml:
        g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    else:
        g.env.pop("FAKE_DEVICE_ROOT", None)
    res = g.run("doctor", "--json", "--driver-root", host.driver_root, "--dev-root", host.dev_root,
                *args, check=False)
    if check_code is not None:
        assert res.code == check_code, res
    return res, {f["id"]: f for f in res.json()["findings"]}


def image(g, mk, tmp_path, name, env):
    img = mk.busybox_image(env=["PATH=/bin"] + env)
    archive = tmp_path / f"{name}.tar"
    mk.write_docker_archive(archive, [(img, [f"{name}:1"])])
    g.run("load", archive)
    return f"{name}:1"


def test_host_passes_and_lists_gpus(g, hosts):
    res, f = doctor(g, hosts["two"], check_code=0)
    assert f["HOST-DRIVER"]["severity"] == "pass"
    assert "580.95.05" in f["HOST-DRIVER"]["message"] and "13.0" in f["HOST-DRIVER"]["message"]
    assert res.json()["result"] == "info"


def test_no_driver_fails_with_the_fix(g, tmp_path):
    res = g.run("doctor", "--driver-root", tmp_path / "nothing", check=False)
    assert res.code == 10
    assert "HOST-NO-DRIVER" in res.out and "--driver-root" in res.out


def test_missing_gpu_node_fails(g, hosts, tmp_path):
    host = hosts["two"]
    node = Path(host.dev_root) / "dev/nvidia1"
    saved = tmp_path / "saved-node"
    shutil.move(node, saved)
    try:
        # /proc still lists GPU 1 (the driver knows it); its node is gone
        res, f = doctor(g, host, check_code=10, nvml=False)
        assert f["HOST-NODE-GPU"]["severity"] == "fail" and "nvidia1" in f["HOST-NODE-GPU"]["message"]
        assert f["HOST-NVML"]["severity"] == "warn"
    finally:
        shutil.move(saved, node)


def test_cuda_newer_than_the_driver(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "cuda131", ["CUDA_VERSION=13.1.0", "NVIDIA_VISIBLE_DEVICES=all"])
    res, f = doctor(g, hosts["two"], ref, check_code=10)
    assert f["REQUIRE-UNSATISFIED"]["severity"] == "fail"
    assert "cuda>=13.1" in f["REQUIRE-UNSATISFIED"]["message"]
    # minor-version compatibility: it runs, with the PTX caveat and the exact minimum
    assert f["CUDA-MINOR-VERSION-COMPAT"]["severity"] == "warn"
    assert "590.44.01" in f["CUDA-MINOR-VERSION-COMPAT"]["message"]
    # near miss: CUDA 13.0 on a 580 driver is fully supported
    ref = image(g, mk, tmp_path, "cuda130", ["CUDA_VERSION=13.0.1", "NVIDIA_VISIBLE_DEVICES=all"])
    res, f = doctor(g, hosts["two"], ref, check_code=0)
    assert f["CUDA-DRIVER"]["severity"] == "pass"
    assert "REQUIRE-UNSATISFIED" not in f


def test_cuda_12_needs_525(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "cuda118", ["CUDA_VERSION=11.8.0", "NVIDIA_VISIBLE_DEVICES=all",
                                            "NVIDIA_REQUIRE_CUDA=cuda>=11.8"])
    res, f = doctor(g, hosts["two"], ref, check_code=0)
    assert f["CUDA-DRIVER"]["severity"] == "pass"


def test_capabilities_without_compute(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "nocompute", ["CUDA_VERSION=13.0.0", "NVIDIA_VISIBLE_DEVICES=all",
                                              "NVIDIA_DRIVER_CAPABILITIES=utility"])
    res, f = doctor(g, hosts["two"], ref)
    assert f["CAPS-NO-COMPUTE"]["severity"] == "warn"
    res, f = doctor(g, hosts["two"], ref, "-e", "NVIDIA_DRIVER_CAPABILITIES=compute,utility")
    assert "CAPS-NO-COMPUTE" not in f


def test_mig_enabled_whole_gpu(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "mig", ["CUDA_VERSION=13.0.0"])
    res, f = doctor(g, hosts["mig"], ref, "--gpus", "device=1")
    assert f["MIG-WHOLE-GPU"]["severity"] == "warn" and "GPU 1" in f["MIG-WHOLE-GPU"]["message"]
    res, f = doctor(g, hosts["mig"], ref, "--gpus", "device=0")
    assert "MIG-WHOLE-GPU" not in f


def test_unknown_gpu_and_platform(g, mk, hosts, tmp_path):
    ref = image(g, mk, tmp_path, "plain", ["CUDA_VERSION=13.0.0"])
    res, f = doctor(g, hosts["two"], ref, "--gpus", "device=7", check_code=10)
    assert "GPU-UNKNOWN" in f and "7" in f["GPU-UNKNOWN"]["message"]
    img = mk.busybox_image(arch="arm64", variant="v8")
    archive = tmp_path / "arm.tar"
    mk.write_docker_archive(archive, [(img, ["arm:1"])])
    g.run("load", archive)
    res, f = doctor(g, hosts["two"], "arm:1", check_code=10)
    assert f["IMAGE-PLATFORM"]["severity"] == "fail" and "arm64" in f["IMAGE-PLATFORM"]["message"]


NVCC = Path("/usr/local/cuda/bin/nvcc")


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """Shared objects compiled with nvcc for chosen targets (the CUDA toolkit is on this machine)."""
    need_nvcc()
    import subprocess
    d = tmp_path_factory.mktemp("kernels")
    (d / "k.cu").write_text("__global__ void k(int *p) { p[0] = 1; }\n"
                            "extern \"C\" void launch(int *p) { k<<<1, 1>>>(p); }\n")
    out = {}
    for name, flags in {"sm90": ["-gencode", "arch=compute_90,code=sm_90"],
                        "ptx80": ["-gencode", "arch=compute_80,code=compute_80"]}.items():
        so = d / f"lib{name}.so"
        subprocess.run([str(NVCC), "-shared", "-Xcompiler", "-fPIC", *flags, "-o", str(so),
                        str(d / "k.cu")], check=True, capture_output=True, timeout=300)
        out[name] = so.read_bytes()
    return out


def kernel_image(g, mk, tmp_path, name, so_bytes):
    layer = mk.Layer([mk.Entry.dir("usr"), mk.Entry.dir("usr/lib"),
                      mk.Entry.file("usr/lib/libkern.so", so_bytes, mode=0o755)], compression="gzip")
    img = mk.busybox_image(extra_layers=[layer], env=["PATH=/bin", "CUDA_VERSION=13.0.0",
                                                        "NVIDIA_VISIBLE_DEVICES=all"])
    archive = tmp_path / f"{name}.tar"
    mk.write_docker_archive(archive, [(img, [f"{name}:1"])])
    g.run("load", archive)
    return f"{name}:1"


def test_no_kernel_image_for_the_gpu(g, mk, hosts, tmp_path, kernels, tmp_path_factory):
    ref = kernel_image(g, mk, tmp_path, "sm90only", kernels["sm90"])
    res, f = doctor(g, hosts["two"], ref, check_code=10)  # A100s: compute capability 8.0
    k = f["KERNEL-NO-IMAGE"]
    assert k["severity"] == "fail" and "/usr/lib/libkern.so" in k["message"]
    assert "sm_90" in k["message"] and "8.0" in k["message"] and "sm_80" in k["fix"]
    # near miss: the same image on an H100 host (9.0) has its kernels
    h100 = gpuhost.build_host(tmp_path_factory.mktemp("h100") / "h", gpuhost.preset(1, cc="9.0"))
    res, f = doctor(g, h100, ref, check_code=0)
    assert f["KERNELS"]["severity"] == "pass" and "KERNEL-NO-IMAGE" not in f
    # --path restricts the scan
    res, f = doctor(g, hosts["two"], ref, "--path", "opt/")
    assert "KERNEL-NO-IMAGE" not in f


def test_ptx_is_jit_compiled(g, mk, hosts, tmp_path, kernels):
    ref = kernel_image(g, mk, tmp_path, "ptx80", kernels["ptx80"])
    res, f = doctor(g, hosts["two"], ref, check_code=0)
    assert f["KERNELS"]["severity"] == "pass"


def test_run_refuses_a_doomed_launch(g, mk, hosts, tmp_path, kernels):
    ref = kernel_image(g, mk, tmp_path, "doomed", kernels["sm90"])
    host = hosts["two"]
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    flags = ["--gpus", "all", "--driver-root", host.driver_root, "--dev-root", host.dev_root]
    res = g.run("run", *flags, ref, "echo", "started", check=False)
    assert res.code == 125 and "started" not in res.out
    assert "libkern.so" in res.err and "8.0" in res.err and "hint:" in res.err
    res = g.run("run", "--no-require", *flags, ref, "echo", "started")
    assert "started" in res.out and "libkern.so" in res.err  # one warning line instead
    # the verdict is cached per image, driver and GPUs: the check is not repeated
    if os.geteuid() == 0:  # root's runtime dir
        assert list(Path("/run/gantry/doctor-cache").glob("doctor-*.json")), "no cached verdict"


SITE = "usr/local/lib/python3.12/dist-packages"


def torch_image(g, mk, tmp_path, name, version, cuda, libs=()):
    cuda_line = f"cuda: Optional[str] = '{cuda}'" if cuda else "cuda: Optional[str] = None"
    py = f"__version__ = '{version}'\ndebug = False\n{cuda_line}\ngit_version = 'abc'\n"
    entries = [mk.Entry.file(f"{SITE}/torch/version.py", py.encode())]
    entries += [mk.Entry.file(f"{SITE}/nvidia/lib/{lib}", b"\0") for lib in libs]
    layer = mk.Layer(entries, compression="gzip")
    img = mk.busybox_image(extra_layers=[layer], env=["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all"])
    archive = tmp_path / f"{name}.tar"
    mk.write_docker_archive(archive, [(img, [f"{name}:1"])])
    g.run("load", archive)
    return f"{name}:1"


def test_torch_cpu_only(g, mk, hosts, tmp_path):
    ref = torch_image(g, mk, tmp_path, "torchcpu", "2.4.0+cpu", None)
    res, f = doctor(g, hosts["two"], ref, check_code=0)
    assert f["TORCH-CPU-ONLY"]["severity"] == "warn" and "2.4.0+cpu" in f["TORCH-CPU-ONLY"]["message"]
    assert "torch/version.py" in f["TORCH-CPU-ONLY"]["message"]


def test_torch_cuda_build_checks(g, mk, hosts, tmp_path):
    good = ["libcudart.so.12", "libcudnn.so.9", "libnccl.so.2"]
    ref = torch_image(g, mk, tmp_path, "torch128", "2.7.0+cu128", "12.8", good)
    res, f = doctor(g, hosts["two"], ref, check_code=0)  # 580 serves 12.8
    assert not any(k.startswith(("TORCH-", "CUDNN", "NCCL")) for k in f)
    # cuDNN and NCCL missing
    ref = torch_image(g, mk, tmp_path, "torchnocudnn", "2.7.0+cu128", "12.8", ["libcudart.so.12"])
    res, f = doctor(g, hosts["two"], ref, check_code=10)
    assert f["CUDNN-MISSING"]["severity"] == "fail" and f["NCCL-MISSING"]["severity"] == "warn"
    # the image's CUDA runtime is a different major than torch's tag
    ref = torch_image(g, mk, tmp_path, "torchmix", "2.9.0+cu130", "13.0",
                      ["libcudart.so.12", "libcudnn.so.9", "libnccl.so.2"])
    res, f = doctor(g, hosts["two"], ref)
    assert f["TORCH-CUDA-MISMATCH"]["severity"] == "warn" and "libcudart.so.12" in f["TORCH-CUDA-MISMATCH"]["message"]


def test_torch_newer_than_the_driver(g, mk, hosts, tmp_path, tmp_path_factory):
    old = gpuhost.build_host(tmp_path_factory.mktemp("drv550") / "h",
                             gpuhost.preset(1, cc="8.0", driver="550.54.15"))
    ref = torch_image(g, mk, tmp_path, "torch128b", "2.7.0+cu128", "12.8",
                      ["libcudart.so.12", "libcudnn.so.9", "libnccl.so.2"])
    res, f = doctor(g, old, ref)
    # 550 serves 12.4: 12.8 runs only through minor-version compatibility (>= 525.60.13)
    assert "TORCH-CUDA-TOO-NEW" not in f
    ref = torch_image(g, mk, tmp_path, "torch130", "2.9.0+cu130", "13.0",
                      ["libcudart.so.13", "libcudnn.so.9", "libnccl.so.2"])
    res, f = doctor(g, old, ref, check_code=10)
    assert f["TORCH-CUDA-TOO-NEW"]["severity"] == "fail" and "580.65.06" in f["TORCH-CUDA-TOO-NEW"]["fix"]


def test_forward_compat_libraries(g, mk, hosts, tmp_path, tmp_path_factory):
    layer = mk.Layer([mk.Entry.file("usr/local/cuda/compat/libcuda.so.590.44.01", b"\0"),
                      mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.1", "libcuda.so.590.44.01")],
                     compression="gzip")
    img = mk.busybox_image(extra_layers=[layer], env=["PATH=/bin", "CUDA_VERSION=13.0.0",
                                                        "NVIDIA_VISIBLE_DEVICES=all"])
    archive = tmp_path / "compat.tar"
    mk.write_docker_archive(archive, [(img, ["compat:1"])])
    g.run("load", archive)
    # data-center GPUs on 580: the 590 compat driver would be used, and can be
    res, f = doctor(g, hosts["two"], "compat:1", check_code=0)
    assert "FWD-COMPAT-UNSUPPORTED-GPU" not in f and "FWD-COMPAT-UNUSED" not in f
    # a GeForce GPU cannot use forward compatibility (CUDA error 804)
    base = tmp_path_factory.mktemp("geforce")
    geforce = gpuhost.build_host(base / "h", gpuhost.preset(1, cc="8.6"))
    assert "geforce" in json.dumps(geforce.desc).lower(), geforce.desc
    res, f = doctor(g, geforce, "compat:1", check_code=10)
    assert f["FWD-COMPAT-UNSUPPORTED-GPU"]["severity"] == "fail" and "804" in f["FWD-COMPAT-UNSUPPORTED-GPU"]["message"]
    # a newer host driver ignores the compat libraries
    newer = gpuhost.build_host(base / "n", gpuhost.preset(1, cc="8.0", driver="595.45.04"))
    res, f = doctor(g, newer, "compat:1", check_code=0)
    assert f["FWD-COMPAT-UNUSED"]["severity"] == "info"


def test_doctor_fatbin_lists_every_entry(g, tmp_path):
    """`gantry doctor --fatbin FILE`: each SASS/PTX entry of a real nvcc output with its arch,
    compression and sizes, nvlink's empty stub containers skipped, totals per arch; --json the
    same; a file without CUDA code has none; a missing file exits 3."""
    import subprocess
    need_nvcc()
    so, src = tmp_path / "libboth.so", tmp_path / "k.cu"
    src.write_text("__global__ void k(int *p) { p[0] = 1; }\n")
    subprocess.run([str(NVCC), "-shared", "-Xcompiler", "-fPIC",
                    "-gencode", "arch=compute_80,code=sm_80",
                    "-gencode", "arch=compute_90,code=compute_90", "-o", str(so), str(src)],
                   check=True, capture_output=True, timeout=300)
    doc = g.run("doctor", "--fatbin", so, "--json").json()
    assert doc["elf"] is True and doc["path"] == str(so)
    code = [e for e in doc["entries"] if not e["nvlink_stub"]]
    assert [(e["kind"], e["arch"]) for e in code] == [("sass", "sm_80"), ("ptx", "compute_90")]
    sass, ptx = code
    assert sass["cubin_sm"] == 80 and re.fullmatch(r"\d+\.\d", sass["toolkit"])
    assert re.fullmatch(r"\d+\.\d", ptx["ptx_isa"]) and "toolkit" not in ptx
    for e in code:
        assert e["size"] > 0 and e["uncompressed_size"] > 0 and e["section"] == ".nv_fatbin"
        assert e["compression"] in ("none", "lz4", "zstd")
    totals = {t["arch"]: t for t in doc["totals"]}
    assert set(totals) == {"sm_80", "compute_90"}
    assert totals["sm_80"]["size"] == sass["size"] and totals["compute_90"]["entries"] == 1
    assert doc["problems"] == []
    text = g.run("doctor", "--fatbin", so).out
    assert "2 entries" in text and "KIND" in text, text
    rows = {line.split()[1]: line.split() for line in text.splitlines()
            if line.startswith(("sass ", "ptx "))}
    assert rows["sm_80"][0] == "sass" and rows["compute_90"][0] == "ptx"
    assert rows["compute_90"][5] == ptx["ptx_isa"] and rows["sm_80"][5] == sass["toolkit"]
    assert re.search(r"^total\s+2\s+%d\s" % (sass["size"] + ptx["size"]), text, re.M), text
    # no CUDA code, no file
    assert "0 fatbin containers, 0 entries" in g.run("doctor", "--fatbin", "/bin/true").out
    r = g.fail("doctor", "--fatbin", tmp_path / "missing.so", code=3)
    assert "missing.so" in r.err
