"""gantry doctor's scenario matrix (issue 5): simulated hosts with drivers 525, 550, 570 and 580,
each with GPUs of compute capability 7.0, 8.0, 8.9 and 9.0 and MIG off or on, against sample
images built here (CUDA version markers, PyTorch version files and wheels with cu tags and +cpu,
cuDNN/NCCL/TensorRT files, forward-compat libraries, a glibc, fat binaries compiled with nvcc).

Every rule has a case that fires and a near miss that must not; the expectations come from the
reference tables (cuda.md §1: toolkit minimum drivers, branches, PTX ISA; §2.3 kernel selection)
and are written out per scenario below. Hosts, images and nvcc objects are built once per module;
one store holds every image.
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "gpuhost"))
import gpuhost  # noqa: E402
from conftest import Gantry, IN_CI, need_tool  # noqa: E402
from fixtures import mkimage as mk  # noqa: E402

DRIVERS = {"525": "525.147.05", "550": "550.54.15", "570": "570.124.06", "580": "580.95.05"}
CCS = ["7.0", "8.0", "8.9", "9.0"]   # GPU i of every host has CCS[i]
MIG_GPUS = [1, 3]                    # A100 and H100 can run MIG; V100 and L4 cannot
SITE = "usr/local/lib/python3.12/dist-packages"
NVCC = Path("/usr/local/cuda/bin/nvcc")


# --------------------------------------------------------------------------------------------
# Hosts, images, store (module scope)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix-hosts")
    out = {}
    for drv, version in DRIVERS.items():
        for mig in (False, True):
            out[drv, mig] = gpuhost.build_host(
                base / f"{drv}-{'mig' if mig else 'nomig'}",
                gpuhost.mixed(CCS, version, mig=MIG_GPUS if mig else ()))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory, gantry_bin):
    return Gantry(tmp_path_factory.mktemp("matrix-store") / "store")


def metadata(name, version, pins=()):
    text = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    text += "".join(f"Requires-Dist: {n}=={v}; platform_system == \"Linux\"\n" for n, v in pins)
    return (text + "\nA wheel.\n").encode()


def wheel(name, version, pins=()):
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    return mk.Entry.file(f"{SITE}/{dist}/METADATA", metadata(name, version, pins))


def torch_files(version, cuda):
    cuda_line = f"cuda: Optional[str] = '{cuda}'" if cuda else "cuda: Optional[str] = None"
    py = f"__version__ = '{version}'\ndebug = False\n{cuda_line}\ngit_version = 'abc'\n"
    return [mk.Entry.file(f"{SITE}/torch/version.py", py.encode())]


def fake_libc(dir_, last_minor):
    """A shared object named libc.so.6 defining GLIBC_2.2.5 and GLIBC_2.3 .. GLIBC_2.<last>, the
    way the real one defines a version node per release that added symbols."""
    names = ["GLIBC_2.2.5"] + [f"GLIBC_2.{m}" for m in range(3, last_minor + 1)]
    script, prev = [], None
    for i, n in enumerate(names):
        script.append(f"{n} {{ global: gantry_sym_{i}; {'local: *; ' if prev is None else ''}}}"
                      f"{' ' + prev if prev else ''};")
        prev = n
    d = Path(dir_) / f"libc-{last_minor}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "v.map").write_text("\n".join(script) + "\n")
    (d / "c.c").write_text("".join(f"int gantry_sym_{i};\n" for i in range(len(names))))
    subprocess.run(["cc", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libc.so.6",
                    "-Wl,--version-script,v.map", "-o", "libc.so.6", "c.c"],
                   cwd=d, check=True, capture_output=True)
    return (d / "libc.so.6").read_bytes()


def glibc_need(host):
    """The highest GLIBC_2.x any 64-bit driver library of the host needs (readelf -V)."""
    need_tool("readelf")
    best = 0
    for f in sorted(Path(host.lib_dir).iterdir()):
        if f.is_symlink() or not f.is_file() or ".so" not in f.name:
            continue
        out = subprocess.run(["readelf", "-V", "-W", str(f)], capture_output=True, text=True).stdout
        for word in out.split():
            if word.startswith("GLIBC_2.") and word[8:].split(".")[0].isdigit():
                best = max(best, int(word[8:].split(".")[0]))
    assert best > 0, "the simulated driver libraries need no GLIBC version?"
    return best


def compile_kernels(tmp):
    """Shared objects with device code for chosen targets, compiled by nvcc in parallel."""
    if not NVCC.exists():
        if IN_CI:
            pytest.fail("nvcc is required in CI")
        pytest.skip("the CUDA toolkit (nvcc) is not installed")
    (tmp / "k.cu").write_text("__global__ void k(int *p) { p[0] = 1; }\n"
                              "extern \"C\" void launch(int *p) { k<<<1, 1>>>(p); }\n")
    targets = {
        "sass80_90": ["-gencode", "arch=compute_80,code=sm_80",
                      "-gencode", "arch=compute_90,code=sm_90"],
        "ptx75": ["-gencode", "arch=compute_75,code=compute_75"],
        "sass90a": ["-gencode", "arch=compute_90a,code=sm_90a"],
    }

    def build(item):
        name, flags = item
        so = tmp / f"lib{name}.so"
        subprocess.run([str(NVCC), "-shared", "-Xcompiler", "-fPIC", *flags, "-o", str(so),
                        str(tmp / "k.cu")], check=True, capture_output=True, timeout=600)
        return name, so.read_bytes()

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(build, targets.items()))


@pytest.fixture(scope="module")
def images(store, hosts, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("matrix-images")
    kernels = compile_kernels(tmp)
    need = glibc_need(hosts["580", False])
    vis = "NVIDIA_VISIBLE_DEVICES=all"
    cu12_pins = [("nvidia-cudnn-cu12", "9.7.1.26"), ("nvidia-cuda-runtime-cu12", "12.8.90"),
                 ("nvidia-nccl-cu12", "2.26.2")]
    specs = {
        # CUDA version markers
        "cuda120": (["CUDA_VERSION=12.0.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.0"], []),
        "cuda124": (["CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4",
                     "NV_CUDNN_PACKAGE_NAME=libcudnn9-cuda-12"],
                    [mk.Entry.file("usr/lib/x86_64-linux-gnu/libcudnn.so.9.1.0", b"\0"),
                     mk.Entry.file("usr/include/cudnn_version.h",
                                   b"#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 1\n"
                                   b"#define CUDNN_PATCHLEVEL 0\n"),
                     mk.Entry.file("usr/lib/x86_64-linux-gnu/libnccl.so.2.21.5", b"\0")]),
        "cuda128": (["CUDA_VERSION=12.8.1"], []),  # legacy rule: cuda>=12.8
        "cuda130json": ([], [mk.Entry.file("usr/local/cuda/version.json",
                                           b'{"cuda": {"name": "CUDA SDK", "version": "13.0.1"}}')]),
        # forward compatibility: CUDA 13.0 with the 580 compat driver
        "compat130": (["CUDA_VERSION=13.0.1",
                       "NVIDIA_REQUIRE_CUDA=cuda>=13.0 brand=tesla,driver>=525 brand=nvidia,driver>=525"],
                      [mk.Entry.file("usr/local/cuda/compat/libcuda.so.580.95.05", b"\0"),
                       mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.1", "libcuda.so.580.95.05")]),
        "nocompute": (["CUDA_VERSION=12.0.1", "NVIDIA_DRIVER_CAPABILITIES=utility"], []),
        # PyTorch
        "torch128": ([], torch_files("2.7.0+cu128", "12.8") + [
            wheel("torch", "2.7.0+cu128", cu12_pins)] + [wheel(n, v) for n, v in cu12_pins] + [
            mk.Entry.file(f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9", b"\0"),
            mk.Entry.file(f"{SITE}/nvidia/nccl/lib/libnccl.so.2", b"\0"),
            mk.Entry.file(f"{SITE}/nvidia/cuda_runtime/lib/libcudart.so.12", b"\0")]),
        "torch130": ([], torch_files("2.9.0+cu130", "13.0") + [
            wheel("nvidia-cuda-runtime", "13.0.96"), wheel("nvidia-cudnn-cu13", "9.13.0.50"),
            wheel("nvidia-nccl-cu13", "2.27.7")]),
        "torchcpu": ([], torch_files("2.4.0+cpu", None)),
        "torchskew": ([], torch_files("2.7.0+cu128", "12.8") + [
            wheel("torch", "2.7.0+cu128", cu12_pins),
            wheel("nvidia-cuda-runtime-cu12", "12.4.127"), wheel("nvidia-cudnn-cu12", "9.1.0.70")]),
        # TensorRT built for CUDA 12 in a CUDA 13 image
        "trt12in13": (["CUDA_VERSION=13.0.1"], [
            wheel("tensorrt-cu12", "10.13.2.6"),
            mk.Entry.file("usr/include/x86_64-linux-gnu/NvInferVersion.h",
                          b"#define NV_TENSORRT_MAJOR 10\n#define NV_TENSORRT_MINOR 13\n"
                          b"#define NV_TENSORRT_PATCH 2\n")]),
        # glibc: one release older than the driver libraries need, and exactly what they need
        "glibcold": ([], [mk.Entry.file("lib/x86_64-linux-gnu/libc.so.6", fake_libc(tmp, need - 1),
                                        mode=0o755)]),
        "glibcok": ([], [mk.Entry.file("lib/x86_64-linux-gnu/libc.so.6", fake_libc(tmp, need),
                                       mode=0o755)]),
        "glibcdpkg": ([], [mk.Entry.file("var/lib/dpkg/status",
                                         f"Package: libc6\nStatus: install ok installed\n"
                                         f"Version: 2.{need - 1}-1\n\n".encode())]),
    }
    for name, data in kernels.items():
        specs[name] = ([], [mk.Entry.file("usr/lib/libkern.so", data, mode=0o755)])
    built = []
    for name, (env, entries) in specs.items():
        layers = [mk.Layer(entries, compression="gzip")] if entries else []
        built.append((mk.busybox_image(extra_layers=layers, env=["PATH=/bin", vis] + env),
                      [f"{name}:1"]))
    archive = tmp / "images.tar"
    mk.write_docker_archive(archive, built)
    store.run("load", archive)
    return {"need": need, "names": list(specs)}


def doctor(store, host, ref, *args):
    store.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    res = store.run("doctor", "--json", "--driver-root", host.driver_root, "--dev-root",
                    host.dev_root, ref, *args, check=False)
    assert res.code in (0, 10), res
    findings = res.json()["findings"]
    assert res.code == (10 if any(f["severity"] == "fail" for f in findings) else 0), res
    by_id = {}
    for f in findings:
        by_id.setdefault(f["id"], []).append(f)
    return by_id


# --------------------------------------------------------------------------------------------
# Expectations
# --------------------------------------------------------------------------------------------

def expect(drv, cc, mig, image, need):
    """{rule ID: (severity, [facts in the message], [facts in the fix])} that must fire, and the
    set of IDs that must not, for one image on one GPU (compute capability cc) of one host."""
    on, off = {}, set()
    major = int(drv)
    ccmaj, ccmin = map(int, cc.split("."))
    serves = {"525": "12.0", "550": "12.4", "570": "12.8", "580": "13.0"}[drv]

    def cuda_rule(version, minimum, source):
        """CUDA <version> of the image; minimum: the exact driver of its table row."""
        v = tuple(map(int, version.split(".")[:2]))
        full = tuple(map(int, DRIVERS[drv].split("."))) >= tuple(map(int, minimum.split(".")))
        if full:
            on["CUDA-DRIVER"] = ("pass", [version, source], [])
            off.update({"CUDA-DRIVER-TOO-OLD", "CUDA-MINOR-VERSION-COMPAT"})
        elif v[0] == 12:  # minor-version compatibility: every driver here is >= 525.60.13
            on["CUDA-MINOR-VERSION-COMPAT"] = ("warn", [version, minimum, "525.60.13"], ["222"])
            off.update({"CUDA-DRIVER-TOO-OLD", "CUDA-DRIVER"})
        else:
            on["CUDA-DRIVER-TOO-OLD"] = ("fail", [version, minimum, DRIVERS[drv], source],
                                         [minimum])
            off.update({"CUDA-DRIVER", "CUDA-MINOR-VERSION-COMPAT"})

    def require(minimum_cuda):
        if tuple(map(int, serves.split("."))) < tuple(map(int, minimum_cuda.split("."))):
            on["REQUIRE-UNSATISFIED"] = ("fail", [f"cuda>={minimum_cuda}", serves],
                                         ["NVIDIA_DISABLE_REQUIRE"])
        else:
            off.add("REQUIRE-UNSATISFIED")

    if image == "cuda120":
        cuda_rule("12.0.1", "525.85.12", "CUDA_VERSION=12.0.1")
        require("12.0")
    elif image == "cuda124":
        cuda_rule("12.4.1", "550.54.15", "CUDA_VERSION=12.4.1")
        require("12.4")
        on["IMAGE-COMPONENTS"] = ("info", ["cuDNN 9.1.0 (/usr/include/cudnn_version.h)",
                                           "libcudnn.so.9.1.0", "NCCL 2.21.5"], [])
        off.add("LIB-CUDA-MISMATCH")  # cuDNN for CUDA 12 in a CUDA 12 image
    elif image == "cuda128":
        cuda_rule("12.8.1", "570.124.06", "CUDA_VERSION=12.8.1")
        require("12.8")  # the legacy CUDA_VERSION rule
    elif image == "cuda130json":
        cuda_rule("13.0.1", "580.82.07", "/usr/local/cuda/version.json")
        off.add("REQUIRE-UNSATISFIED")  # no CUDA_VERSION, no NVIDIA_REQUIRE_CUDA
    elif image == "compat130":
        if drv == "580":
            cuda_rule("13.0.1", "580.82.07", "CUDA_VERSION=13.0.1")
            on["FWD-COMPAT-UNUSED"] = ("info", ["libcuda.so.580.95.05", "580.95.05"], [])
            off.add("CUDA-FORWARD-COMPAT")
        else:  # too old, but the compat driver serves 13.0 on these data-center GPUs
            on["CUDA-FORWARD-COMPAT"] = ("warn", ["13.0.1", "580.82.07",
                                                  "/usr/local/cuda/compat/libcuda.so.580.95.05"],
                                         ["data-center"])
            off.update({"CUDA-DRIVER-TOO-OLD", "FWD-COMPAT-UNUSED"})
        off.update({"FWD-COMPAT-UNSUPPORTED-GPU", "REQUIRE-UNSATISFIED"})  # brand alternatives
    elif image == "nocompute":
        on["CAPS-NO-COMPUTE"] = ("warn", ["NVIDIA_DRIVER_CAPABILITIES"], ["compute"])
    elif image == "torch128":
        cuda_rule("12.8", "570.26", "pip nvidia-cuda-runtime-cu12 12.8.90")
        off.update({"TORCH-CUDA-TOO-NEW", "TORCH-CUDA-MISMATCH", "TORCH-WHEEL-MISMATCH",
                    "CUDNN-MISSING", "NCCL-MISSING", "TORCH-CPU-ONLY", "LIB-CUDA-MISMATCH"})
        on["IMAGE-COMPONENTS"] = ("info", ["PyTorch 2.7.0+cu128", "cuDNN 9.7.1.26",
                                           "NCCL 2.26.2"], [])
    elif image == "torch130":
        if drv == "580":
            off.update({"TORCH-CUDA-TOO-NEW", "CUDA-DRIVER-TOO-OLD"})
        else:
            on["TORCH-CUDA-TOO-NEW"] = ("fail", ["2.9.0+cu130", "CUDA 13.0", DRIVERS[drv]],
                                        ["580.65.06"])
            on["CUDA-DRIVER-TOO-OLD"] = ("fail", ["pip nvidia-cuda-runtime 13.0.96", "580.65.06"],
                                         ["580.65.06"])
        off.update({"CUDNN-MISSING", "NCCL-MISSING", "TORCH-CUDA-MISMATCH", "LIB-CUDA-MISMATCH"})
    elif image == "torchcpu":
        on["TORCH-CPU-ONLY"] = ("warn", ["2.4.0+cpu", f"/{SITE}/torch/version.py"], ["cu126"])
        off.update({"CUDNN-MISSING", "NCCL-MISSING", "TORCH-CUDA-TOO-NEW"})
    elif image == "torchskew":
        on["TORCH-WHEEL-MISMATCH"] = ("warn", ["nvidia-cudnn-cu12==9.7.1.26", "9.1.0.70"],
                                      ["pip install nvidia-cudnn-cu12==9.7.1.26"])
        on["TORCH-CUDA-MISMATCH"] = ("warn", ["CUDA 12.8", "pip nvidia-cuda-runtime-cu12 12.4.127",
                                              "older"], ["nvidia-cuda-runtime-cu12"])
        on["NCCL-MISSING"] = ("warn", ["2.7.0+cu128", "libnccl"], ["nvidia-nccl"])
        off.add("CUDNN-MISSING")
    elif image == "trt12in13":
        on["LIB-CUDA-MISMATCH"] = ("warn", ["TensorRT 10.13.2.6", "pip tensorrt-cu12",
                                            "CUDA 12", "13.0.1"], ["tensorrt-cu13"])
        on["IMAGE-COMPONENTS"] = ("info", ["TensorRT 10.13.2 (/usr/include/x86_64-linux-gnu/"
                                           "NvInferVersion.h)"], [])
    elif image == "glibcold":
        on["GLIBC-TOO-OLD"] = ("fail", [f"glibc 2.{need - 1}", "/lib/x86_64-linux-gnu/libc.so.6",
                                        f"GLIBC_2.{need}", "not found"], [f"2.{need} or newer"])
    elif image == "glibcok":
        off.add("GLIBC-TOO-OLD")
        on["IMAGE-COMPONENTS"] = ("info", [f"glibc 2.{need} (/lib/x86_64-linux-gnu/libc.so.6)"], [])
    elif image == "glibcdpkg":
        on["GLIBC-TOO-OLD"] = ("fail", [f"glibc 2.{need - 1}", "/var/lib/dpkg/status",
                                        f"GLIBC_2.{need}"], [])
    elif image in ("sass80_90", "ptx75", "sass90a"):
        if image == "sass80_90":
            runs = (ccmaj, ccmin) in {(8, 0), (8, 9), (9, 0)}
            ptx_too_new = False
        elif image == "sass90a":
            runs, ptx_too_new = (ccmaj, ccmin) == (9, 0), False
        else:  # compute_75 PTX of ISA 9.0 (CUDA 13 nvcc): JIT needs a CUDA 13.0 driver
            fits = (ccmaj, ccmin) >= (7, 5)
            runs = fits and major >= 580
            ptx_too_new = fits and not runs
        if runs:
            on["KERNELS"] = ("pass", ["1 file"], [])
            off.update({"KERNEL-NO-IMAGE", "KERNEL-PTX-TOO-NEW"})
        elif ptx_too_new:
            on["KERNEL-PTX-TOO-NEW"] = ("fail", ["/usr/lib/libkern.so", cc, "compute_75",
                                                 "ISA 9.0", "222"], ["sm_" + cc.replace(".", "")])
            off.add("KERNEL-NO-IMAGE")
        else:
            on["KERNEL-NO-IMAGE"] = ("fail", ["/usr/lib/libkern.so", cc, "209"],
                                     ["sm_" + cc.replace(".", "")])
            off.add("KERNEL-PTX-TOO-NEW")
    # the whole GPU of a MIG-enabled one
    if mig and CCS.index(cc) in MIG_GPUS:
        on["MIG-WHOLE-GPU"] = ("warn", [f"GPU {CCS.index(cc)}"], [f"device={CCS.index(cc)}:0"])
    else:
        off.add("MIG-WHOLE-GPU")
    # no glibc in the image: the rule cannot fire
    if image not in ("glibcold", "glibcdpkg"):
        off.add("GLIBC-TOO-OLD")
    return on, off


SCENARIOS = [(d, cc, mig) for d in DRIVERS for cc in CCS for mig in (False, True)
             if not (mig and CCS.index(cc) not in MIG_GPUS)]


@pytest.mark.parametrize("drv,cc,mig", SCENARIOS,
                         ids=[f"{d}-cc{cc}-{'mig' if m else 'nomig'}" for d, cc, m in SCENARIOS])
def test_matrix(store, hosts, images, drv, cc, mig):
    host = hosts[drv, mig]
    gpu = CCS.index(cc)
    problems = []
    for image in images["names"]:
        got = doctor(store, host, f"{image}:1", "--gpus", f"device={gpu}")
        on, off = expect(drv, cc, mig, image, images["need"])
        for rule, (sev, facts, fixes) in on.items():
            if rule not in got:
                problems.append(f"{image}: {rule} did not fire; got {sorted(got)}")
                continue
            f = got[rule][0]
            if f["severity"] != sev:
                problems.append(f"{image}: {rule} is {f['severity']}, want {sev}: {f['message']}")
            problems += [f"{image}: {rule} message lacks {x!r}: {f['message']}"
                         for x in facts if x not in f["message"]]
            problems += [f"{image}: {rule} fix lacks {x!r}: {f['fix']}"
                         for x in fixes if x not in f["fix"]]
        problems += [f"{image}: {rule} fired: {got[rule][0]['message']}"
                     for rule in off if rule in got]
    assert not problems, "\n".join(problems)


def test_mig_device_request_is_no_whole_gpu(store, hosts, images):
    """Near miss of MIG-WHOLE-GPU: asking for a MIG device of the GPU, not the GPU."""
    host = hosts["580", True]
    got = doctor(store, host, "cuda120:1", "--gpus", "device=1:0")
    assert "MIG-WHOLE-GPU" not in got
    got = doctor(store, host, "cuda120:1", "--gpus", "all")
    assert {f["message"].split(" ")[1] for f in got["MIG-WHOLE-GPU"]} == {"1", "3"}


def test_persistence_mode(store, tmp_path_factory, hosts):
    """HOST-PERSISTENCE-OFF comes from NVML (nvmlDeviceGetPersistenceMode) of the host."""
    host = gpuhost.build_host(tmp_path_factory.mktemp("nopersist") / "h",
                              gpuhost.preset(1, cc="9.0", persistenced=False))
    store.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    res = store.run("doctor", "--json", "--driver-root", host.driver_root, "--dev-root",
                    host.dev_root, check=False)
    f = {x["id"]: x for x in res.json()["findings"]}
    assert res.code == 0, res
    assert f["HOST-PERSISTENCE-OFF"]["severity"] == "warn"
    assert "GPU 0" in f["HOST-PERSISTENCE-OFF"]["message"]
    assert "nvidia-persistenced" in f["HOST-PERSISTENCE-OFF"]["fix"]
    # near miss: the matrix hosts run nvidia-persistenced
    on = hosts["580", False]
    store.env["FAKE_DEVICE_ROOT"] = str(on.dev_root)
    res = store.run("doctor", "--json", "--driver-root", on.driver_root, "--dev-root",
                    on.dev_root, check=False)
    assert "HOST-PERSISTENCE-OFF" not in {x["id"] for x in res.json()["findings"]}


def test_run_refuses_an_old_glibc(store, hosts, images):
    """run applies GLIBC-TOO-OLD before creating the container (exit 125, the sentence)."""
    host = hosts["580", False]
    store.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    flags = ["--gpus", "device=3", "--driver-root", host.driver_root, "--dev-root", host.dev_root]
    res = store.run("run", *flags, "glibcold:1", "true", check=False)
    assert res.code == 125, res
    assert f"GLIBC_2.{images['need']}" in res.err and "hint:" in res.err


def test_rules_are_documented():
    """Every rule ID the doctor emits is in docs/doctor.md's table."""
    repo = Path(__file__).resolve().parents[2]
    doc = (repo / "docs/doctor.md").read_text()
    ids = set()
    for src in (list((repo / "src/compat").glob("*.cpp")) + list((repo / "src/engine").glob("*.cpp"))
                + [repo / "src/cli/cmd_doctor.cpp"]):
        text = src.read_text()
        import re
        ids |= set(re.findall(r'"((?:[A-Z0-9]+-)+[A-Z0-9]+)"', text))
    # docker's health-check test kind (engine/health_check.cpp) is no rule
    ids = {i for i in ids if not i.startswith(("GLIBC_", "NVIDIA-")) and i != "CMD-SHELL"}
    missing = sorted(i for i in ids if f"`{i}`" not in doc)
    assert not missing, f"rule IDs missing from docs/doctor.md: {missing}"
