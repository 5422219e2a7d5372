"""GPUs under WSL2 (issue 41) on simulated WSL2 hosts (tests/fixtures/wslhost): /dev/dxg as a misc
node with a dynamic minor, the lib share and the driver stores with the real file names (NVIDIA's
and an Intel iGPU's), NVIDIA's fake libcuda/NVML/nvidia-smi answering only when /dev/dxg opens.

NVIDIA: discovery picks the store holding libcuda.so.1.1, `run` injects as nvidia-ctk's wsl mode
(what cuda_probe and nvidia-smi print inside prove it), `cdi generate` writes that mode's spec,
`doctor` reports the Windows driver and what WSL2 lacks. AMD: /dev/dxg, libdxcore.so and
librocdxg.so, HSA_ENABLE_DXG_DETECTION=1, the ROCm releases that work there. As root and as the
unprivileged user nobody.
"""
import os
import sys

import pytest

from conftest import TESTS, Gantry
from gpu_common import lab_dirs, user_stores, who  # noqa: F401 (who: a fixture)

sys.path.insert(0, str(TESTS / "fixtures" / "wslhost"))
sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import cuda_image as ci  # noqa: E402
import wslhost  # noqa: E402
from fixtures import mkimage as mk  # noqa: E402

STORE = f"/usr/lib/wsl/drivers/{wslhost.NVIDIA_STORE}"


class Lab:
    pass


def _rocm_image(version):
    files = [mk.Entry.file(f"opt/rocm-{version}/.info/version", f"{version}-39\n".encode())]
    return mk.busybox_image(extra_layers=[mk.Layer(files, compression="gzip")],
                            env=["PATH=/bin"])


@pytest.fixture(scope="module")
def lab(gantry_bin):
    lab = Lab()
    with lab_dirs("gantry-wsl-") as (base, bindir):
        lab.hosts = {
            "nvidia": wslhost.build_host(base / "nvidia", gpus=2),
            "shadowed": wslhost.build_host(base / "shadowed", linux_driver=True, igpu=False),
            "amd": wslhost.build_host(base / "amd", nvidia=False, rocdxg=True),
            "bare": wslhost.build_host(base / "bare", nvidia=False),
        }
        lab.empty = base / "empty"  # an empty --sys-root: no KFD topology
        lab.empty.mkdir()
        os.chmod(lab.empty, 0o755)
        archive = base / "images.tar"
        compat = mk.Layer([mk.Entry.file("usr/local/cuda/compat/libcuda.so.590.44.01", b"\0"),
                           mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.1",
                                            "libcuda.so.590.44.01")], compression="gzip")
        compat_img = mk.busybox_image(extra_layers=[compat], env=[
            "PATH=/bin", "CUDA_VERSION=13.0.0", "NVIDIA_VISIBLE_DEVICES=all"])
        mk.write_docker_archive(archive, [(ci.cuda_image(), ["wsl/cuda:1"]),
                                          (compat_img, ["wsl/compat:1"]),
                                          (_rocm_image("6.4.1"), ["wsl/rocm64:1"]),
                                          (_rocm_image("7.2.0"), ["wsl/rocm72:1"])])
        os.chmod(archive, 0o644)
        lab.users = user_stores(base, bindir, gantry_bin, archive)
        yield lab


def gantry(lab, who, host):
    root, user, binary = lab.users[who]
    return Gantry(root, user=user, binary=binary, env={"FAKE_DEVICE_ROOT": str(host.dev_root)})


def roots(lab, host):
    return ["--driver-root", host.driver_root, "--dev-root", host.dev_root,
            "--sys-root", lab.empty]


def doctor(lab, who, name, *args, code=0):
    host = lab.hosts[name]
    res = gantry(lab, who, host).run("doctor", "--json", *roots(lab, host), *args, check=False)
    assert res.code == code, res
    return {f["id"]: f for f in res.json()["findings"]}


def test_nvidia_run_gets_the_driver_store_as_nvidia_ctk_mounts_it(lab, who):
    host = lab.hosts["nvidia"]
    g = gantry(lab, who, host)
    script = ('cuda_probe; echo "probe_rc=$?"; nvidia-smi -L; echo "dxg=$(stat -c %t:%T /dev/dxg)"; '
              'readlink /usr/bin/nvidia-smi; echo "lib=$(ls /usr/lib/wsl/lib)"; '
              'echo "stores=$(ls /usr/lib/wsl/drivers)"; echo "nvd=$NVIDIA_VISIBLE_DEVICES"')
    res = g.run("run", "--rm", "--gpus", "all", *roots(lab, host), "wsl/cuda:1", "sh", "-c",
                script)
    out = res.out
    # the driver API from the store (through the container's linker cache), both GPUs
    assert f"libcuda: {STORE}/libcuda.so.1.1" in out, out
    assert "device_count: 2" in out and "probe_rc=0" in out, out
    assert "GPU 1: NVIDIA GeForce RTX 3090" in out, out
    # /dev/dxg with the host's (dynamic) minor; nvidia-smi a link to the store's
    rdev = os.stat(host.dev_root / "dev/dxg").st_rdev
    if host.real_nodes:
        assert f"dxg={os.major(rdev):x}:{os.minor(rdev):x}" in out, out
    assert f"{STORE}/nvidia-smi" in out, out
    # of the lib share only libdxcore.so; of the stores only NVIDIA's
    assert "lib=libdxcore.so\n" in out, out
    assert f"stores={wslhost.NVIDIA_STORE}\n" in out, out
    assert "nvd=void" in out, out
    # WSL2 cannot select GPUs: a request for one gets every GPU, and says so
    res = g.run("run", "--rm", "--gpus", "device=1", *roots(lab, host), "wsl/cuda:1")
    assert "device_count: 2" in res.out, res
    assert "on WSL2 a container cannot get some GPUs and not others" in res.err, res


def test_nvidia_doctor_reports_the_windows_driver(lab, who):
    f = doctor(lab, who, "nvidia")
    d = f["HOST-DRIVER"]
    assert d["severity"] == "pass" and "581.57" in d["message"] and "Windows" in d["message"]
    assert wslhost.NVIDIA_STORE in f["HOST-WSL"]["message"]
    assert wslhost.INTEL_STORE not in f["HOST-WSL"]["message"]
    assert f["WSL-NO-MIG"]["severity"] == "info"
    assert not {"HOST-NODE-CTL", "HOST-NODE-UVM", "HOST-NODE-GPU"} & set(f), f
    # an image asking for one GPU: warned, not failed
    f = doctor(lab, who, "nvidia", "--gpus", "1", "wsl/cuda:1")
    assert f["WSL-DEVICE-SELECTION"]["severity"] == "warn", f
    # forward compatibility does not exist on WSL2: the image's compat libcuda is not used (on
    # these GeForce GPUs a native host fails FWD-COMPAT-UNSUPPORTED-GPU)
    f = doctor(lab, who, "nvidia", "wsl/compat:1")
    assert f["FWD-COMPAT-UNUSED"]["severity"] == "info" and "WSL2" in f["FWD-COMPAT-UNUSED"]["message"]
    assert "FWD-COMPAT-UNSUPPORTED-GPU" not in f, f
    # a Linux driver installed inside WSL shadows the store
    f = doctor(lab, who, "shadowed")
    s = f["WSL-LINUX-DRIVER"]
    assert s["severity"] == "warn" and "libcuda.so.580.95.05" in s["message"], s
    assert "apt-get purge" in s["fix"]
    # no NVIDIA store: a failure naming the Windows driver, and run refuses the same way
    f = doctor(lab, who, "bare", "--gpu-vendor", "nvidia", code=10)
    assert "holds libcuda.so.1.1" in f["HOST-NO-DRIVER"]["message"]
    assert "Windows" in f["HOST-NO-DRIVER"]["fix"]
    host = lab.hosts["bare"]
    res = gantry(lab, who, host).fail("run", "--rm", "--gpus", "all", "--gpu-vendor", "nvidia",
                                      *roots(lab, host), "wsl/cuda:1")
    assert "holds libcuda.so.1.1" in res.err and "NVIDIA driver on Windows" in res.err, res


def test_nvidia_cdi_generate_is_nvidia_ctks_wsl_mode(lab):
    host = lab.hosts["nvidia"]
    who = next(iter(lab.users))
    res = gantry(lab, who, host).run("cdi", "generate", "--format", "json", *roots(lab, host))
    import json
    spec = json.loads(res.out)
    assert [d["name"] for d in spec["devices"]] == ["all"]
    assert spec["devices"][0]["containerEdits"]["deviceNodes"] == [
        {"path": "/dev/dxg", "hostPath": str(host.dev_root / "dev/dxg")}]
    edits = spec["containerEdits"]
    mounted = {m["containerPath"] for m in edits["mounts"]}
    want = {"/usr/lib/wsl/lib/libdxcore.so"} | {
        f"{STORE}/{n}" for n in ("libcuda.so.1.1", "libcuda_loader.so", "libnvidia-ml.so.1",
                                 "libnvidia-ml_loader.so", "libnvidia-ptxjitcompiler.so.1",
                                 "libnvdxgdmal.so.1", "nvcubins.bin", "nvidia-smi",
                                 "nvwgf2umx.dll", "nvcuda64.dll", "nvml.dll")}
    assert mounted == want, mounted ^ want
    assert all(m["hostPath"] == str(host.driver_root) + m["containerPath"]
               for m in edits["mounts"])
    hooks = {h["args"][2]: h["args"][3:] for h in edits["hooks"]}
    links = hooks.pop("create-symlinks")
    assert links[-2:] == ["--link", f"{STORE}/nvidia-smi::/usr/bin/nvidia-smi"], links
    # the SONAME link beside the store's file, as `gantry run` (which applies this spec) makes it
    assert f"libcuda.so.1.1::{STORE}/libcuda.so.1" in links, links
    assert hooks == {"update-ldcache": ["--folder", STORE, "--folder", "/usr/lib/wsl/lib"]}
    assert edits["env"] == ["NVIDIA_VISIBLE_DEVICES=void"]
    assert 'one device "all"' in res.err


def test_amd_run_gets_the_dxg_bridge(lab, who):
    host = lab.hosts["amd"]
    g = gantry(lab, who, host)
    script = ("ls -l /dev/dxg /usr/lib/libdxcore.so /usr/lib/librocdxg.so; "
              "test -e /dev/kfd && echo kfd; env | grep HSA_")
    res = g.run("run", "--rm", "--gpus", "all", *roots(lab, host), "wsl/rocm72:1", "sh", "-c",
                script)
    assert "/usr/lib/librocdxg.so" in res.out and "/usr/lib/libdxcore.so" in res.out, res
    assert "HSA_ENABLE_DXG_DETECTION=1" in res.out and "kfd" not in res.out.split(), res
    # a value the container sets stays
    res = g.run("run", "--rm", "--gpus", "all", "-e", "HSA_ENABLE_DXG_DETECTION=0",
                *roots(lab, host), "wsl/rocm72:1", "sh", "-c", "env | grep HSA_")
    assert res.out.split() == ["HSA_ENABLE_DXG_DETECTION=0"], res
    # an image whose ROCm predates librocdxg (6.4): refused before launch, unless --no-require
    res = g.fail("run", "--rm", "--gpus", "all", *roots(lab, host), "wsl/rocm64:1", "true",
                 code=125)
    assert "ROCm 6.4 cannot use GPUs on WSL2" in res.err and "7.1" in res.err, res
    res = g.run("run", "--rm", "--gpus", "all", "--no-require", *roots(lab, host),
                "wsl/rocm64:1", "true")
    assert "cannot use GPUs on WSL2" in res.err, res
    # WSL2 without librocdxg: refused, naming it
    bare = lab.hosts["bare"]
    res = gantry(lab, who, bare).fail("run", "--rm", "--gpus", "all", "--gpu-vendor", "amd",
                                      *roots(lab, bare), "wsl/rocm72:1", "true")
    assert "no librocdxg.so" in res.err and "ROCm 7.1 or newer" in res.err, res


def test_amd_doctor_knows_the_rocm_releases_that_run_on_wsl(lab, who):
    f = doctor(lab, who, "amd", "wsl/rocm72:1")
    assert f["ROCM-WSL"]["severity"] == "pass" and "7.2" in f["ROCM-WSL"]["message"], f
    assert "librocdxg" in f["HOST-WSL"]["message"]
    f = doctor(lab, who, "amd", "wsl/rocm64:1", code=10)
    assert f["ROCM-WSL-TOO-OLD"]["severity"] == "fail" and "6.4" in f["ROCM-WSL-TOO-OLD"]["message"]
    f = doctor(lab, who, "bare", "--gpu-vendor", "amd", code=10)
    assert f["HOST-WSL-ROCDXG"]["severity"] == "fail", f
