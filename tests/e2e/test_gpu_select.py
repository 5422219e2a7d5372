"""GPU support end to end, what a container gets: `gantry run --gpus` selecting exactly the
GPUs and MIG devices asked for (1, 2 and 8 GPUs, NVML and /proc discovery), NVIDIA_VISIBLE_DEVICES
from -e and from the image and their precedence, CUDA requirements against the host driver,
NVIDIA_DRIVER_CAPABILITIES choosing the files mounted, and image variants (no ldconfig, no
ld.so.cache, a stub libcuda, merged /usr) getting the host driver.

The simulated hosts, images and users are gpu_common.py's (module fixture `lab`).

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider \
         tests/e2e/test_gpu_select.py
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fixtures import mkimage as mk
from gpu_common import (  # noqa: F401 (pytest fixtures, used as test arguments)
    DRIVER, LIBDIR, PROBE, check_visible, ci, ctx, expect_dev, expect_smi, gpu, lab, mig,
    resolve, root_ctx, sections)


# --------------------------------------------------------------------------
# Selection: --gpus on 1, 2 and 8 GPUs, with and without MIG, NVML and /proc discovery
# --------------------------------------------------------------------------

def selection_cases(host):
    """(--gpus value, visible GPUs, visible MIG devices) for a host."""
    d = host.desc
    n = len(d["gpus"])
    cases = [("all", *resolve(d, all_=True)),
             ("1", *resolve(d, [0])),
             ("device=0", *resolve(d, [0])),
             (gpu(host, n - 1)["uuid"], *resolve(d, [n - 1])),
             (f"device={gpu(host, 0)['uuid'].lower()}", *resolve(d, [0]))]
    if n >= 2:
        cases += [("2", *resolve(d, [0, 1])), ("device=1", *resolve(d, [1])),
                  ("device=1,0", *resolve(d, [0, 1]))]
    if n == 8:
        cases += [("device=0,2", *resolve(d, [0, 2])), ("device=7", *resolve(d, [7])),
                  ("5", *resolve(d, range(5))),
                  (f"device={gpu(host, 3)['uuid']},{gpu(host, 6)['uuid']}", *resolve(d, [3, 6])),
                  ("count=3", *resolve(d, [0, 1, 2]))]
    mg = [g["index"] for g in d["gpus"] if g["mig_mode"]]
    if mg:
        i = mg[0]
        m1 = mig(host, i, 1)
        cases += [(f"device={i}:0", *resolve(d, migs=[(i, 0)])),
                  (f"device=0,{i}:2", *resolve(d, [0], [(i, 2)])),
                  (m1["uuid"], *resolve(d, migs=[(i, 1)])),
                  (f"device={m1['uuid']},{mig(host, i, 0)['uuid']}",
                   *resolve(d, migs=[(i, 0), (i, 1)])),
                  # a whole MIG-enabled GPU: its node, no instance -> no CUDA device on it
                  (f"device={i}", *resolve(d, [i]))]
    if len(mg) > 1:
        i, j = mg[:2]
        cases += [(f"device={j}:2,{i}:0,1", *resolve(d, [1], [(i, 0), (j, 2)])),
                  (mig(host, j, 0)["uuid"], *resolve(d, migs=[(j, 0)]))]
    return cases


@pytest.mark.parametrize("which", ["1", "2", "8", "mig", "mig-files", "8-mig", "550"])
def test_gpus_flag_selects_exactly(ctx, lab, which):
    host = lab.hosts[which]
    for value, gpus, migs in selection_cases(host):
        res = ctx.run(host, "--gpus", value, "gt/cuda-probe:1", "sh", "-c", PROBE)
        check_visible(res, host, gpus, migs, f"--gpus {value} on host {which} as {ctx.who}")
    if which == "550":
        out = ctx.run(host, "--gpus", "all", "gt/cuda-probe:1", "cuda_probe", "--nvml").out
        assert "driver_version: 550.127.05" in out and "cuda_driver_version: 12040" in out


@pytest.mark.parametrize("net", ["bridge", "none"])
def test_gpus_are_the_same_on_every_network(ctx, lab, net):
    """Issue 75: a network namespace of the container's own (bridge: pasta's) changes nothing
    of its GPUs: the same driver, nvidia-smi, nodes and libraries as in the host's network."""
    host = lab.hosts["2"]
    res = ctx.run(host, "--network", net, "--gpus", "all", "gt/cuda-probe:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(host.desc, all_=True), f"--network {net} as {ctx.who}")


@pytest.mark.parametrize("which", ["1", "2", "8", "8-mig"])
def test_gpus_flag_with_proc_discovery(ctx, lab, which):
    """Without NVML on the host side GPUs come from /proc/driver/nvidia; the container still
    sees exactly the selected (non-MIG) GPUs."""
    host = lab.hosts[which]
    d = host.desc
    for value, gpus, migs in selection_cases(host):
        if migs or any(d["gpus"][i]["mig_mode"] for i in gpus) or value.startswith("MIG-"):
            continue  # MIG devices are known through NVML only
        res = ctx.run(host, "--gpus", value, "gt/cuda-probe:1", "sh", "-c", PROBE, nvml=False)
        check_visible(res, host, gpus, migs, f"--gpus {value} on host {which} (/proc discovery)")


def test_container_env_stops_a_second_injection(ctx, lab):
    """reference/nvidia-driver.md section 7.6: the final env says NVIDIA_VISIBLE_DEVICES=void, so
    an NVIDIA hook running downstream (nested runtime) injects nothing more; in particular not
    the whole parent GPU of a MIG device."""
    host = lab.hosts["mig"]
    for args in (["--gpus", "device=0,1:1"], ["-e", "NVIDIA_VISIBLE_DEVICES=1:0"]):
        env = ctx.run(host, *args, "gt/cuda-probe:1", "env").out
        got = [line for line in env.splitlines() if line.startswith("NVIDIA_VISIBLE_DEVICES=")]
        assert got == ["NVIDIA_VISIBLE_DEVICES=void"], f"{args}: {env}"


def test_unknown_gpu_is_refused_listing_the_hosts_gpus(ctx, lab):
    host = lab.hosts["mig"]
    for args in (["--gpus", "device=2"], ["--gpus", "GPU-00000000-0000-0000-0000-000000000000"],
                 ["--gpus", "device=1:7"], ["-e", "NVIDIA_VISIBLE_DEVICES=0,5"]):
        res = ctx.run(host, *args, "gt/cuda-probe:1", "sh", "-c", "echo started", check=False)
        assert res.code == 125, f"{args}: {res!r}"
        assert "started" not in res.out
        assert "unknown GPU" in res.err, res.err
        for g in host.desc["gpus"]:
            assert g["uuid"] in res.err, f"{args}: the error should list {g['uuid']}: {res.err}"
        assert mig(host, 1, 0)["uuid"] in res.err
    # /proc discovery lists the GPUs too
    host = lab.hosts["2"]
    res = ctx.run(host, "--gpus", "device=3", "gt/cuda-probe:1", "true", nvml=False, check=False)
    assert res.code == 125 and all(g["uuid"] in res.err for g in host.desc["gpus"]), res


def test_no_driver_under_driver_root_is_a_clear_error(ctx, lab):
    empty = ctx.mkdir("no-driver")
    res = ctx.gan.run("run", "--gpus", "all", "--driver-root", empty, "--dev-root", empty,
                      "gt/cuda-probe:1", "true", check=False)
    assert res.code == 125 and "driver" in res.err.lower(), res


# --------------------------------------------------------------------------
# NVIDIA_VISIBLE_DEVICES from -e and the image
# --------------------------------------------------------------------------

def test_visible_devices_env_mig(ctx, lab):
    host = lab.hosts["mig"]
    d = host.desc
    cases = [
        ("all", resolve(d, all_=True)),
        (" 0 , 1:2 ", resolve(d, [0], [(1, 2)])),
        (f"{mig(host, 1, 2)['uuid']}", resolve(d, migs=[(1, 2)])),
        (f"{mig(host, 1, 0)['uuid'].upper()},1:1",
         resolve(d, migs=[(1, 0), (1, 1)])),
        ("1", resolve(d, [1])),
    ]
    for value, (gpus, migs) in cases:
        res = ctx.run(host, "-e", f"NVIDIA_VISIBLE_DEVICES={value}", "gt/cuda-probe:1",
                      "sh", "-c", PROBE)
        check_visible(res, host, gpus, migs, f"NVIDIA_VISIBLE_DEVICES={value!r}")


def test_visible_devices_env_semantics(ctx, lab):
    host = lab.hosts["2"]
    d = host.desc
    g0, g1 = gpu(host, 0)["uuid"], gpu(host, 1)["uuid"]
    cases = [
        ("all", resolve(d, all_=True)),
        ("0", resolve(d, [0])),
        ("1", resolve(d, [1])),
        (" 0 , 1 ", resolve(d, [0, 1])),
        (f"{g0}", resolve(d, [0])),
        (f"{g1},{g0}", resolve(d, [0, 1])),
        (f"{g1.lower()}", resolve(d, [1])),
    ]
    for value, (gpus, migs) in cases:
        res = ctx.run(host, "-e", f"NVIDIA_VISIBLE_DEVICES={value}", "gt/cuda-probe:1",
                      "sh", "-c", PROBE)
        check_visible(res, host, gpus, migs, f"NVIDIA_VISIBLE_DEVICES={value!r}")

    # none: the driver (libraries, nvidia-smi, control nodes) without any GPU
    res = ctx.run(host, "-e", "NVIDIA_VISIBLE_DEVICES=none", "gt/cuda-probe:1", "sh", "-c", PROBE)
    s = sections(res.out)
    assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in s["probe"], res
    assert "device_count: 0" in s["probe"] and s["probe"][-1] == "probe_rc=4", res
    assert s["smi"] == ["No devices were found"], res
    assert s["dev"] == expect_dev(host.desc, set(), set()), res
    assert f"libnvidia-ml.so.{DRIVER}" in s["lib"]

    # void, empty, and a plain image without the variable: nothing injected at all
    for args in (["-e", "NVIDIA_VISIBLE_DEVICES=void"], ["-e", "NVIDIA_VISIBLE_DEVICES="],
                 ["-e", "NVIDIA_VISIBLE_DEVICES=0,void"], []):
        res = ctx.run(host, *args, "gt/cuda-probe:1", "sh", "-c", PROBE)
        s = sections(res.out)
        assert s["probe"][-1] == "probe_rc=3", f"{args}: {res!r}"
        assert "cannot load libcuda.so.1" in s["probe"][0]
        assert s["dev"] == [] and s["lib"] == [], f"{args}: {res!r}"
        assert "nvidia-smi: not found" in res.err


def test_image_env_and_precedence(ctx, lab):
    host = lab.hosts["2"]
    d = host.desc
    # the image's NVIDIA_VISIBLE_DEVICES=1
    res = ctx.run(host, "gt/env-nvd1:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(d, [1]), "image env NVIDIA_VISIBLE_DEVICES=1")
    # -e overrides the image
    res = ctx.run(host, "-e", "NVIDIA_VISIBLE_DEVICES=0", "gt/env-nvd1:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(d, [0]), "-e over image env")
    # --gpus overrides both the image and -e
    res = ctx.run(host, "--gpus", "device=0", "gt/env-nvd1:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(d, [0]), "--gpus over image env")
    res = ctx.run(host, "--gpus", "all", "-e", "NVIDIA_VISIBLE_DEVICES=void", "gt/env-void:1",
                  "sh", "-c", PROBE)
    check_visible(res, host, *resolve(d, all_=True), "--gpus over -e void")
    # the image says void: nothing
    res = ctx.run(host, "gt/env-void:1", "sh", "-c", PROBE)
    assert sections(res.out)["probe"][-1] == "probe_rc=3" and sections(res.out)["dev"] == [], res
    # nvidia/cuda-style image: all GPUs, compute+utility only
    res = ctx.run(host, "gt/cudaenv:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(d, all_=True), "nvidia/cuda-style image")
    assert f"libGLX_nvidia.so.{DRIVER}" not in sections(res.out)["lib"]
    # legacy image (CUDA_VERSION, no NVIDIA_REQUIRE_CUDA): all GPUs and all capabilities
    res = ctx.run(host, "gt/legacy:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(d, all_=True), "legacy CUDA_VERSION image", display=True)
    lib = sections(res.out)["lib"]
    for name in (f"libGLX_nvidia.so.{DRIVER}", f"libnvcuvid.so.{DRIVER}",
                 f"libnvidia-ngx.so.{DRIVER}"):
        assert name in lib, f"legacy image: all capabilities expected, {name} missing: {lib}"
    # CUDA_VERSION with NVIDIA_REQUIRE_CUDA but no NVIDIA_VISIBLE_DEVICES: not a GPU container
    res = ctx.run(host, "gt/require-only:1", "sh", "-c", PROBE)
    assert sections(res.out)["probe"][-1] == "probe_rc=3" and sections(res.out)["dev"] == [], res
    # capabilities from the image env
    res = ctx.run(host, "gt/env-utility:1", "sh", "-c", PROBE)
    s = sections(res.out)
    assert s["probe"][-1] == "probe_rc=3" and f"libnvidia-ml.so.{DRIVER}" in s["lib"], res
    assert s["smi"] == expect_smi(d, {0, 1}, set()), res


def test_cuda_requirements_checked_against_the_host_driver(root_ctx, lab):
    """NVIDIA_REQUIRE_CUDA / legacy CUDA_VERSION need a driver serving that CUDA version
    (580 serves 13.0); NVIDIA_DISABLE_REQUIRE=true skips the check."""
    host = lab.hosts["2"]
    for image, need in (("gt/require-131:1", "cuda>=13.1"), ("gt/legacy-131:1", "cuda>=13.1")):
        res = root_ctx.run(host, image, "sh", "-c", "echo started", check=False)
        assert res.code == 125 and "started" not in res.out, f"{image}: {res!r}"
        assert need in res.err, f"{image}: the error should name {need}: {res.err}"
        # a legacy image (CUDA_VERSION only) gets every capability, display's modeset node too
        legacy = "legacy" in image
        res = root_ctx.run(host, "-e", "NVIDIA_DISABLE_REQUIRE=true", image, "sh", "-c", PROBE)
        check_visible(res, host, *resolve(host.desc, all_=True), f"{image} with DISABLE_REQUIRE",
                      display=legacy)
        res = root_ctx.run(host, "--no-require", image, "sh", "-c", PROBE)
        check_visible(res, host, *resolve(host.desc, all_=True), f"{image} with --no-require",
                      display=legacy)
        assert "requirements not checked" in res.err
    # the nvidia/cuda-style requirement (cuda>=13.0 or brand=tesla,driver 535) is met
    assert root_ctx.run(host, "gt/cudaenv:1").code == 0


# --------------------------------------------------------------------------
# NVIDIA_DRIVER_CAPABILITIES decides what is mounted
# --------------------------------------------------------------------------

def test_driver_capabilities_select_files(ctx, lab):
    host = lab.hosts["2"]
    v = DRIVER

    def run(caps):
        args = ["-e", f"NVIDIA_DRIVER_CAPABILITIES={caps}"] if caps is not None else []
        script = PROBE + '; echo "@@bin"; ls /usr/bin | grep nvidia; echo "@@nvml"; ' \
                         'cuda_probe --nvml; echo "nvml_rc=$?"'
        res = ctx.run(host, "--gpus", "device=1", *args, "gt/cuda-probe:1", "sh", "-c", script)
        return res, sections(res.out)

    # utility only: NVML and nvidia-smi, no libcuda, no uvm
    res, s = run("utility")
    assert f"libnvidia-ml.so.{v}" in s["lib"] and "libnvidia-ml.so.1" in s["lib"], res
    assert not any(n.startswith("libcuda") for n in s["lib"]), res
    assert s["probe"][-1] == "probe_rc=3", res
    assert s["dev"] == ["/dev/nvidia1", "/dev/nvidiactl"], res
    assert s["smi"] == expect_smi(host.desc, {1}, set()), res
    assert "nvidia-smi" in s["bin"] and "nvidia-cuda-mps-control" not in s["bin"], res
    assert s["nvml"][-1] == "nvml_rc=0" and f"driver_version: {v}" in s["nvml"], res

    # default (unset) and compute,utility: both
    for caps in (None, "compute,utility", "utility,compute", ""):
        res, s = run(caps)
        check_visible(res, host, {1}, set(), f"NVIDIA_DRIVER_CAPABILITIES={caps!r}")
        assert f"libnvidia-ml.so.{v}" in s["lib"] and s["nvml"][-1] == "nvml_rc=0", res
        assert f"libnvidia-ptxjitcompiler.so.{v}" in s["lib"], res
        assert f"libGLX_nvidia.so.{v}" not in s["lib"] and f"libnvcuvid.so.{v}" not in s["lib"]
        assert "nvidia-cuda-mps-control" in s["bin"], res

    # compute without utility: libcuda, no NVML, no nvidia-smi
    res, s = run("compute")
    assert f"libcuda.so.{v}" in s["lib"] and f"libnvidia-ml.so.{v}" not in s["lib"], res
    assert s["probe"][-1] == "probe_rc=0" and "nvidia-smi" not in s["bin"], res

    # graphics: the GL/EGL/Vulkan driver, no CUDA
    res, s = run("graphics")
    for name in (f"libGLX_nvidia.so.{v}", "libGLX_nvidia.so.0", "libGLX_indirect.so.0",
                 f"libEGL_nvidia.so.{v}", "libEGL_nvidia.so.0", f"libnvidia-glcore.so.{v}",
                 f"libnvidia-eglcore.so.{v}", f"libGLESv2_nvidia.so.{v}"):
        assert name in s["lib"], f"graphics: {name} missing: {s['lib']}"
    assert f"libcuda.so.{v}" not in s["lib"] and f"libnvidia-ml.so.{v}" not in s["lib"]
    assert "/dev/nvidia-uvm" not in s["dev"] and "/dev/nvidia1" in s["dev"], res

    # video: the codec libraries (and, as in libnvidia-container, the compute libraries)
    res, s = run("video")
    for name in (f"libnvcuvid.so.{v}", "libnvcuvid.so.1", f"libnvidia-encode.so.{v}",
                 f"libnvidia-opticalflow.so.{v}", f"libvdpau_nvidia.so.{v}",
                 f"libcuda.so.{v}"):
        assert name in s["lib"], f"video: {name} missing: {s['lib']}"
    assert f"libGLX_nvidia.so.{v}" not in s["lib"], res

    # display: graphics plus the modeset node
    res, s = run("display")
    assert "/dev/nvidia-modeset" in s["dev"] and f"libGLX_nvidia.so.{v}" in s["lib"], res

    # all
    res, s = run("all")
    for name in (f"libcuda.so.{v}", f"libnvidia-ml.so.{v}", f"libGLX_nvidia.so.{v}",
                 f"libnvcuvid.so.{v}", f"libnvidia-ngx.so.{v}"):
        assert name in s["lib"], f"all: {name} missing"

    # an unknown capability is refused before anything starts
    r = ctx.run(host, "--gpus", "all", "-e", "NVIDIA_DRIVER_CAPABILITIES=compute,bogus",
                "gt/cuda-probe:1", "sh", "-c", "echo started", check=False)
    assert r.code in (2, 125) and "started" not in r.out and "bogus" in r.err, r


def test_graphics_capability_brings_icd_configs(ctx, lab):
    """graphics needs the vendor ICD files (libnvidia-container's glvnd ICDs; the EGL vendor
    JSON, Vulkan ICD and OpenCL ICD nvidia-ctk mounts), or libglvnd / the Vulkan loader never find
    the driver."""
    host = lab.hosts["1"]
    files = ["/usr/share/glvnd/egl_vendor.d/10_nvidia.json", "/etc/vulkan/icd.d/nvidia_icd.json"]
    res = ctx.run(host, "--gpus", "all", "-e", "NVIDIA_DRIVER_CAPABILITIES=graphics",
                  "gt/cuda-probe:1", "sh", "-c", " ; ".join(f"cat {f}" for f in files),
                  check=False)
    for f in files:
        want = (host.driver_root / f.lstrip("/")).read_text()
        assert want in res.out, f"graphics capability: {f} not injected: {res!r}"


# --------------------------------------------------------------------------
# Images without ldconfig / ld.so.cache, images with their own stub libcuda
# --------------------------------------------------------------------------

@pytest.mark.parametrize("image", ["cuda-probe-noldconfig", "cuda-probe-nocache",
                                   "cuda-probe-stub", "cuda-probe-stub-unlisted"])
def test_image_variants_get_the_host_driver(ctx, lab, image):
    host = lab.hosts["2"]
    res = ctx.run(host, "--gpus", "all", f"gt/{image}:1", "sh", "-c", PROBE)
    check_visible(res, host, *resolve(host.desc, all_=True), image)
    res = ctx.run(host, "--gpus", "device=0", f"gt/{image}:1", "cuda_probe", "--nvml")
    assert f"libnvidia-ml: {LIBDIR}/libnvidia-ml.so.{DRIVER}" in res.out
    assert f"driver_version: {DRIVER}" in res.out


def _merged_usr_layer():
    """The CUDA program layer with Debian 12 / Ubuntu's merged-/usr layout: lib -> usr/lib,
    lib64 -> usr/lib64, sbin -> usr/sbin (relative links inside the image, followed in-root)."""
    with tempfile.TemporaryDirectory(prefix="cuda-merged-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        ci._stage(root, True, None, False)
        usrlib = root / "usr/lib/x86_64-linux-gnu"
        for f in (root / "lib/x86_64-linux-gnu").iterdir():
            shutil.move(str(f), usrlib / f.name)
        shutil.rmtree(root / "lib")
        shutil.rmtree(root / "lib64")
        (root / "usr/lib64").mkdir()
        os.symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                   root / "usr/lib64/ld-linux-x86-64.so.2")
        (root / "usr/sbin").mkdir()
        shutil.move(str(root / "sbin/ldconfig"), root / "usr/sbin/ldconfig")
        os.rmdir(root / "sbin")
        for name in ("lib", "lib64", "sbin"):
            os.symlink(f"usr/{name}", root / name)
        ci._run_ldconfig(root)
        return mk.Layer(ci._entries(root))


def test_merged_usr_image_gets_the_driver(ctx, lab):
    host = lab.hosts["mig"] if ctx.who == "root" else lab.hosts["mig-files"]
    img = mk.Image([mk.busybox_layer(), _merged_usr_layer()], cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, ["gt/merged-usr:1"])], "merged-usr")
    res = ctx.run(host, "--gpus", "all", "gt/merged-usr:1", "sh", "-c",
                  PROBE + f"; echo @@fw; ls /lib/firmware/nvidia/{DRIVER} /usr/lib/firmware/nvidia/"
                  f"{DRIVER}; echo @@links; readlink /lib; readlink /lib64")
    check_visible(res, host, *resolve(host.desc, all_=True), "merged-/usr image")
    s = sections(res.out)
    assert s["fw"].count("gsp_ga10x.bin") == 2, res
    assert s["links"] == ["usr/lib", "usr/lib64"], res
