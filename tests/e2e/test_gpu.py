"""GPU support end to end: `gantry run --gpus`, NVIDIA_* env semantics, capability selection,
mount hardening, the hostile-image shapes of the NVIDIA container CVEs, CDI generate / validate /
consume, and podman consuming a spec gantry generated.

Every case runs on simulated GPU hosts (tests/fixtures/gpuhost: a driver root and a dev root
whose fake libcuda / NVML / nvidia-smi answer only for the device nodes a process can open), so
what `cuda_probe` and `nvidia-smi -L` print inside the container proves what gantry injected.
Host-side discovery uses the fake NVML only when FAKE_DEVICE_ROOT=<host>/dev is in gantry's
environment; without it gantry falls back to /proc (no compute capability, no MIG): both are run.
Cases run as root and as the unprivileged user nobody (hosts live in a directory nobody can
read; their device nodes are real nodes, or regular stand-in files for the "-files" host).

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e/test_gpu.py
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import GANTRY, NOBODY, TESTS, Gantry, host_lock, need_tool
from fixtures import mkimage as mk

sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import cuda_image as ci  # noqa: E402
import gpuhost as gh  # noqa: E402

ROOT = os.geteuid() == 0
LIBDIR = "/usr/lib/x86_64-linux-gnu"
DRIVER = "580.95.05"

# Host descriptions: name -> (preset args, devices)
HOSTS = {
    "1": ((1,), {}, "auto"),
    "2": ((2,), {"cc": "9.0"}, "auto"),
    "8": ((8,), {}, "auto"),
    "mig": ((2,), {"mig": [1]}, "auto"),          # GPU 0 whole, GPU 1 with three MIG instances
    "mig-files": ((2,), {"mig": [1]}, "files"),   # same, device nodes as regular stand-in files
    "8-mig": ((8,), {"cc": "9.0", "mig": [2, 5]}, "auto"),
    "550": ((1,), {"cc": "7.5", "driver": "550.127.05"}, "auto"),
    "lib64": ((1,), {"libdir": "usr/lib64"}, "auto"),  # RHEL's and GKE's lib64: no multiarch
}

# Inside the container: the driver API, nvidia-smi, the nvidia device nodes, the library dir.
PROBE = ('cuda_probe; echo "probe_rc=$?"; echo "@@smi"; nvidia-smi -L; echo "@@dev"; '
         'find /dev -name "nvidia*" ! -type d | sort; echo "@@lib"; ls ' + LIBDIR)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

class Lab:
    """Simulated hosts, test images and the two gantry users (root, nobody)."""


def _image_set():
    env = list(mk.DEFAULT_ENV)
    imgs = [(ci.cuda_image(**kw), [f"gt/{name}:1"]) for name, kw in ci.VARIANTS.items()]
    imgs += [
        # NVIDIA_VISIBLE_DEVICES and friends from the image config
        (ci.cuda_image(env=env + ["NVIDIA_VISIBLE_DEVICES=1"]), ["gt/env-nvd1:1"]),
        (ci.cuda_image(env=env + ["NVIDIA_VISIBLE_DEVICES=void"]), ["gt/env-void:1"]),
        (ci.cuda_image(env=env + ["NVIDIA_VISIBLE_DEVICES=all",
                                  "NVIDIA_DRIVER_CAPABILITIES=utility"]), ["gt/env-utility:1"]),
        # legacy CUDA image: CUDA_VERSION without NVIDIA_REQUIRE_CUDA -> all GPUs, all caps
        (ci.cuda_image(env=env + ["CUDA_VERSION=12.4.1"]), ["gt/legacy:1"]),
        # an nvidia/cuda-style image (NVIDIA_VISIBLE_DEVICES=all, compute,utility, REQUIRE_CUDA)
        (ci.cuda_image(cuda_env=True), ["gt/cudaenv:1"]),
        # CUDA_VERSION with NVIDIA_REQUIRE_CUDA and no NVIDIA_VISIBLE_DEVICES: not a GPU image
        (ci.cuda_image(env=env + ["CUDA_VERSION=13.0.1", "NVIDIA_REQUIRE_CUDA=cuda>=13.0"]),
         ["gt/require-only:1"]),
        # requirements the 580 (CUDA 13.0) host does not meet
        (ci.cuda_image(env=env + ["NVIDIA_VISIBLE_DEVICES=all",
                                  "NVIDIA_REQUIRE_CUDA=cuda>=13.1"]), ["gt/require-131:1"]),
        (ci.cuda_image(env=env + ["CUDA_VERSION=13.1.0"]), ["gt/legacy-131:1"]),
    ]
    return imgs


def _make_gantry(root, user, binary, env=None):
    return Gantry(root, user=user, binary=binary, env=env)


@pytest.fixture(scope="module")
def lab(gantry_bin):
    lab = Lab()
    base = Path(tempfile.mkdtemp(prefix="gantry-gpu-", dir="/tmp"))
    os.chmod(base, 0o755)
    bindir = Path(str(base) + "-bin")
    lab.base = base
    try:
        hosts = base / "hosts"
        hosts.mkdir()
        lab.hosts = {}
        for name, (args, kw, devices) in HOSTS.items():
            lab.hosts[name] = gh.build_host(hosts / name, gh.preset(*args, **kw), devices=devices)
        archive = base / "images.tar"
        mk.write_docker_archive(archive, _image_set())
        os.chmod(archive, 0o644)
        lab.archive = archive
        if ROOT:
            bindir.mkdir(mode=0o755)
            binary = bindir / "gantry"
            shutil.copy2(GANTRY, binary)
            os.chmod(binary, 0o755)
            (base / "store").mkdir()
            os.chown(base / "store", NOBODY.pw_uid, NOBODY.pw_gid)
            lab.users = {"root": (base / "root-store", None, GANTRY),
                         "rootless": (base / "store", NOBODY, binary)}
        else:
            lab.users = {"rootless": (base / "store", None, GANTRY)}
        for root, user, binary in lab.users.values():
            _make_gantry(root, user, binary).run("load", archive)
        yield lab
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(bindir, ignore_errors=True)


class Ctx:
    """gantry as one user against the lab's hosts."""

    def __init__(self, lab, who):
        self.lab = lab
        self.who = who
        self.root, self.user, self.binary = lab.users[who]
        self.gan = _make_gantry(self.root, self.user, self.binary)
        # a directory this user may write (victims, specs)
        self.where = lab.base if who == "rootless" else lab.base / "root-work"
        self.where.mkdir(exist_ok=True)

    def gantry(self, host=None, nvml=True):
        env = {"FAKE_DEVICE_ROOT": str(host.dev_root)} if host is not None and nvml else {}
        return _make_gantry(self.root, self.user, self.binary, env)

    def run(self, host, *args, nvml=True, check=True):
        return self.gantry(host, nvml).run("run", "--driver-root", host.driver_root,
                                           "--dev-root", host.dev_root, *args, check=check)

    def mkdir(self, name):
        """A directory under the lab this user owns."""
        p = self.where / name
        p.mkdir(exist_ok=True)
        if self.user is not None:
            os.chown(p, self.user.pw_uid, self.user.pw_gid)
        return p

    def load(self, images, name):
        archive = self.where / f"{name}.tar"
        mk.write_docker_archive(archive, images)
        os.chmod(archive, 0o644)
        self.gan.run("load", archive)


@pytest.fixture(scope="module", params=["root", "rootless"])
def ctx(request, lab):
    if request.param not in lab.users:
        pytest.skip("needs root")
    return Ctx(lab, request.param)


@pytest.fixture(scope="module")
def root_ctx(lab):
    if "root" not in lab.users:
        pytest.skip("needs root")
    return Ctx(lab, "root")


# --------------------------------------------------------------------------
# Expectations
# --------------------------------------------------------------------------

def sections(out):
    """Split PROBE output into {"probe": [...], "smi": [...], "dev": [...], "lib": [...]}."""
    res, cur = {"probe": []}, "probe"
    for line in out.splitlines():
        if line.startswith("@@"):
            cur = line[2:]
            res[cur] = []
        else:
            res[cur].append(line)
    return res


def resolve(desc, gpus=(), migs=(), all_=False):
    """(visible GPU indices, visible (gpu, mig) pairs) for a selection; a MIG device brings
    its parent GPU."""
    if all_:
        gpus = [g["index"] for g in desc["gpus"]]
        migs = [(g["index"], j) for g in desc["gpus"] for j in range(len(g["mig"] or []))]
    gpus = set(gpus) | {i for i, _ in migs}
    return gpus, set(migs)


def expect_probe(desc, gpus, migs):
    rows = []
    for g in desc["gpus"]:
        if g["index"] not in gpus:
            continue
        if not g["mig_mode"]:
            rows.append((g["name"], g["uuid"], g["cc"], str(g["memory_mib"] << 20)))
            continue
        for j, m in enumerate(g["mig"]):
            if (g["index"], j) in migs:
                rows.append((f"{g['name']} MIG {m['profile']}", m["uuid"], g["cc"],
                             str(m["memory_mib"] << 20)))
    return ["\t".join((str(i),) + r) for i, r in enumerate(rows)]


def expect_smi(desc, gpus, migs):
    lines, k = [], 0
    for g in desc["gpus"]:
        if g["index"] not in gpus:
            continue
        lines.append(f"GPU {k}: {g['name']} (UUID: {g['uuid']})")
        n = 0
        for j, m in enumerate(g["mig"] or []):
            if (g["index"], j) in migs:
                lines.append(f"  MIG {m['profile']:<11} Device {n:2d}: (UUID: {m['uuid']})")
                n += 1
        k += 1
    return lines or ["No devices were found"]


def expect_dev(desc, gpus, migs, compute=True, display=False):
    nodes = ["/dev/nvidiactl"]
    if compute:
        nodes += ["/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"]
    if display:
        nodes.append("/dev/nvidia-modeset")
    for g in desc["gpus"]:
        if g["index"] in gpus:
            nodes.append(f"/dev/nvidia{g['minor']}")
        for j, m in enumerate(g["mig"] or []):
            if (g["index"], j) in migs:
                nodes += [f"/dev/nvidia-caps/nvidia-cap{m['gi_cap']}",
                          f"/dev/nvidia-caps/nvidia-cap{m['ci_cap']}"]
    return sorted(nodes)


def check_visible(res, host, gpus, migs, what, display=False):
    """The container saw exactly GPUs `gpus` and MIG devices `migs` of `host`."""
    d = host.desc
    s = sections(res.out)
    probe = s["probe"]
    want = expect_probe(d, gpus, migs)
    ctx = f"{what}: {res!r}"
    assert f"libcuda: {LIBDIR}/libcuda.so.{d['driver']}" in probe, ctx
    assert f"cuda_driver_version: {d['cuda_version']}" in probe, ctx
    assert f"device_count: {len(want)}" in probe, ctx
    assert [line for line in probe if "\t" in line] == want, ctx
    assert probe[-1] == f"probe_rc={0 if want else 4}", ctx
    assert s["smi"] == expect_smi(d, gpus, migs), ctx
    assert s["dev"] == expect_dev(d, gpus, migs, display=display), ctx


def gpu(host, i):
    return host.desc["gpus"][i]


def mig(host, i, j):
    return host.desc["gpus"][i]["mig"][j]


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


# --------------------------------------------------------------------------
# Mount hardening
# --------------------------------------------------------------------------

def mountinfo(text):
    """{mount point: set of per-mount options} from /proc/self/mountinfo."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 6:
            out[f[4]] = set(f[5].split(","))
    return out


def test_driver_files_read_only_nosuid_nodev(ctx, lab):
    host = lab.hosts["2"]
    lib = host.lib_dir / f"libcuda.so.{DRIVER}"
    before = sha(lib)
    script = (f"echo x > {LIBDIR}/libcuda.so.1; echo w1=$?; "
              f"echo x >> {LIBDIR}/libcuda.so.{DRIVER}; echo w2=$?; "
              f"rm -f {LIBDIR}/libcuda.so.{DRIVER}; "
              f"readlink {LIBDIR}/libcuda.so.1; echo @@; cat /proc/self/mountinfo")
    res = ctx.run(host, "--gpus", "all", "gt/cuda-probe:1", "sh", "-c", script)
    head, _, mi = res.out.partition("@@\n")
    assert "w1=1" in head and "w2=1" in head, res
    assert "Read-only file system" in res.err, res
    assert head.splitlines()[-1] == f"libcuda.so.{DRIVER}", res
    assert sha(lib) == before
    mounts = mountinfo(mi)
    for point in (f"{LIBDIR}/libcuda.so.{DRIVER}", f"{LIBDIR}/libnvidia-ml.so.{DRIVER}",
                  "/usr/bin/nvidia-smi", f"/lib/firmware/nvidia/{DRIVER}/gsp_ga10x.bin"):
        assert point in mounts, f"{point} is not a mount: {sorted(mounts)}"
        assert {"ro", "nosuid", "nodev"} <= mounts[point], f"{point}: {mounts[point]}"
    sock = "/run/nvidia-persistenced/socket"
    sockets = [p for p in mounts if p.endswith("nvidia-persistenced/socket")]
    assert sockets, f"{sock} not mounted: {sorted(mounts)}"
    for p in sockets:
        assert {"nosuid", "nodev", "noexec"} <= mounts[p], f"{p}: {mounts[p]}"
    for p, opts in mounts.items():
        if p.startswith("/dev/nvidia"):
            assert "nosuid" in opts and "noexec" in opts, f"{p}: {opts}"


# --------------------------------------------------------------------------
# Hostile images (reference/security.md)
# --------------------------------------------------------------------------

def victim_name(tag):
    return f"/tmp/gantry-gpu-victim-{tag}-{uuid.uuid4().hex[:10]}"


def snapshot(path):
    """Everything under a host directory (names, types, content hashes)."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return None
    if not p.is_dir():
        return sha(p)
    return sorted((str(q.relative_to(p)), q.is_dir(), None if q.is_dir() or q.is_symlink()
                   else sha(q)) for q in p.rglob("*"))


COMPAT_DIRS = [mk.Entry.dir(p) for p in ("usr/local", "usr/local/cuda", "usr/local/cuda/compat")]


def new_driver_names(before, directory="/etc"):
    """Entries that appeared in a host directory and look like injected driver files or
    gantry drop-ins (other processes may legitimately touch /etc meanwhile)."""
    new = set(os.listdir(directory)) - set(before)
    return sorted(n for n in new if re.search(r"nvidia|cuda|gantry|\.so|ld\.so", n))


def _stub_libcuda_bytes(tmp):
    out = Path(tmp) / "stub-libcuda.so"
    ci._stub_libcuda(out)
    return out.read_bytes()


def test_cve_2024_0132_compat_symlink_to_host_root(ctx, lab):
    """/usr/local/cuda/compat/libcuda.so.999.1 -> /: compat libraries are never mounted, so no
    host file can appear in the container."""
    host = lab.hosts["2"]
    marker = host.out / "README"  # exists on the host only
    layer = mk.Layer(COMPAT_DIRS + [
        mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.999.1", "/"),
        mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.999.88.77", "/"),
        mk.Entry.symlink("usr/local/cuda/compat/libnvidia-ptxjitcompiler.so.999.1",
                         str(host.out))])
    img = mk.Image([mk.busybox_layer(), ci.cuda_layer(), layer], cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, ["gt/hostile-compat:1"])], "hostile-compat")
    compat = "/usr/local/cuda/compat"
    script = (f"test -e {compat}/libcuda.so.999.1{marker} && echo HOST-ROOT-VISIBLE; "
              f"test -e {compat}/libcuda.so.999.88.77{marker} && echo HOST-ROOT-VISIBLE; "
              f"test -e {compat}/libnvidia-ptxjitcompiler.so.999.1/README && "
              "echo HOST-DIR-VISIBLE; "
              f"test -e {marker} && echo HOST-FILE-VISIBLE; "
              "cuda_probe; echo probe_rc=$?; echo @@; cat /proc/self/mountinfo")
    res = ctx.run(host, "--gpus", "all", "gt/hostile-compat:1", "sh", "-c", script, check=False)
    assert res.code in (0, 125), res
    assert "VISIBLE" not in res.out, res
    if res.code == 0:
        head, _, mi = res.out.partition("@@\n")
        assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in head and "probe_rc=0" in head, res
        mounts = mountinfo(mi)
        assert not [p for p in mounts if p.startswith("/usr/local/cuda")], sorted(mounts)


@pytest.mark.parametrize("compat, used", [("590.48.01", True), ("575.57.08", False),
                                          ("580.95.05", False)])
def test_cuda_compat_enabled_without_a_mount(ctx, lab, tmp_path, compat, used):
    """Forward compatibility: the image's compat libcuda is used through an ld.so.conf.d
    drop-in when it is newer than the host driver (580), never mounted; otherwise the host's."""
    host = lab.hosts["1"]
    tag = f"gt/compat-{compat}:1"
    layer = mk.Layer(COMPAT_DIRS + [
        mk.Entry.file(f"usr/local/cuda/compat/libcuda.so.{compat}",
                      _stub_libcuda_bytes(tmp_path), 0o755),
        mk.Entry.symlink("usr/local/cuda/compat/libcuda.so.1", f"libcuda.so.{compat}")])
    img = mk.Image([mk.busybox_layer(), ci.cuda_layer(), layer], cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, [tag])], f"compat-{compat}")
    res = ctx.run(host, "--gpus", "all", tag, "sh", "-c",
                  "cuda_probe; echo probe_rc=$?; echo @@; cat /proc/self/mountinfo")
    head, _, mi = res.out.partition("@@\n")
    if used:
        assert f"libcuda: /usr/local/cuda/compat/libcuda.so.{compat}" in head, res
    else:
        assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in head and "probe_rc=0" in head, res
    assert not [p for p in mountinfo(mi) if p.startswith("/usr/local/cuda")], mi


LIBDIR_SHAPES = {
    # CVE-2024-0133 / 0134: the library directory (mount targets, SONAME links) points out
    "libdir-abs-new": lambda v: ("usr/lib/x86_64-linux-gnu", v),
    "libdir-abs-existing": lambda v: ("usr/lib/x86_64-linux-gnu", v),
    "libdir-dotdot": lambda v: ("usr/lib/x86_64-linux-gnu", "../../../../../../.." + v),
    "libdir-etc": lambda v: ("usr/lib/x86_64-linux-gnu", "/etc"),
    "firmware": lambda v: ("lib/firmware", v),
    "usr-bin": lambda v: ("usr/bin", v),
}


@pytest.mark.parametrize("shape", sorted(LIBDIR_SHAPES))
def test_cve_2024_0133_0134_symlinked_injection_dirs(ctx, lab, shape):
    """Injection targets under an image symlink to a host path: nothing is created or changed on
    the host; gantry either refuses (125) or creates everything inside the container."""
    host = lab.hosts["1"]
    victim = victim_name(shape)
    if shape == "libdir-abs-existing" or shape == "firmware":
        os.mkdir(victim)
        os.chmod(victim, 0o777)  # an escape as nobody could write here too
    rel, target = LIBDIR_SHAPES[shape](victim)
    parts = rel.split("/")
    entries = [mk.Entry.file("etc/debian_version", "12.11\n")]
    entries += [mk.Entry.dir("/".join(parts[:i])) for i in range(1, len(parts))]
    entries.append(mk.Entry.symlink(rel, target))
    img = mk.busybox_image(extra_layers=[mk.Layer(entries)])
    tag = f"gt/hostile-{shape}:1"
    ctx.load([(img, [tag])], f"hostile-{shape}")
    etc_before = sorted(os.listdir("/etc"))
    before = snapshot(victim)
    try:
        res = ctx.run(host, "--gpus", "all", tag, "sh", "-c",
                      f"ls /{rel}/ > /dev/null; echo ran", check=False)
        assert res.code in (0, 125), res
        if res.code == 125:
            assert "gantry: error:" in res.err, res
        else:
            assert "ran" in res.out
        assert snapshot(victim) == before, f"{shape}: host {victim} changed: {snapshot(victim)}"
        assert new_driver_names(etc_before) == [], "files appeared in host /etc"
        for name in ("libcuda.so", "libcuda.so.1", f"libcuda.so.{DRIVER}", "nvidia-smi"):
            assert not os.path.lexists(f"/etc/{name}"), f"host /etc/{name} was created"
    finally:
        if os.path.isdir(victim) and not os.path.islink(victim):
            shutil.rmtree(victim, ignore_errors=True)
        elif os.path.lexists(victim):
            os.unlink(victim)


def test_cve_2025_23267_ldcache_and_conf_d_symlinks(ctx, lab, tmp_path):
    """/etc/ld.so.cache and /etc/ld.so.conf.d pointing at host files: updating the container's
    linker cache (and writing the compat drop-in) changes no host file."""
    host = lab.hosts["1"]
    vfile = victim_name("ldcache")
    vdir = victim_name("confd")
    Path(vfile).write_text("victim\n")
    os.chmod(vfile, 0o666)
    os.mkdir(vdir)
    os.chmod(vdir, 0o777)
    stub = _stub_libcuda_bytes(tmp_path)
    compat = COMPAT_DIRS + [
        mk.Entry.file("usr/local/cuda/compat/libcuda.so.590.48.01", stub, 0o755)]
    shapes = {
        "shadow": [mk.Entry.symlink("etc/ld.so.cache", "/etc/shadow"),
                   mk.Entry.symlink("etc/ld.so.conf.d", "/etc")],
        "host-only": [mk.Entry.symlink("etc/ld.so.cache", vfile),
                      mk.Entry.symlink("etc/ld.so.conf.d", vdir)],
        "dotdot": [mk.Entry.symlink("etc/ld.so.cache", "../../../../.." + vfile),
                   mk.Entry.symlink("etc/ld.so.conf.d", "../../../../.." + vdir)],
    }
    watched = ["/etc/shadow", "/etc/passwd", "/etc/group", "/etc/ld.so.cache", vfile, vdir]
    try:
        for name, entries in shapes.items():
            img = mk.Image([mk.busybox_layer(), ci.cuda_layer(),
                            mk.Layer(compat + entries)], cmd=["/usr/bin/cuda_probe"])
            tag = f"gt/hostile-ld-{name}:1"
            ctx.load([(img, [tag])], f"hostile-ld-{name}")
            before = {p: snapshot(p) for p in watched}
            etc_before = sorted(os.listdir("/etc"))
            res = ctx.run(host, "--gpus", "all", tag, "sh", "-c", "cuda_probe; echo ran",
                          check=False)
            assert res.code in (0, 125), f"{name}: {res!r}"
            if res.code == 0:
                assert "ran" in res.out
            after = {p: snapshot(p) for p in watched}
            assert after == before, f"{name}: host files changed"
            assert new_driver_names(etc_before) == [], f"{name}: files appeared in host /etc"
    finally:
        os.unlink(vfile)
        shutil.rmtree(vdir, ignore_errors=True)


POC_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
static void mark(const char *path) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int fd;
    exe[n > 0 ? n : 0] = 0;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd >= 0) {
        dprintf(fd, "%d %s\n", (int)getpid(), exe);
        close(fd);
    }
}
__attribute__((constructor)) static void owned(void) {
    mark("/owned");
    mark(MARK2);
}
"""


@pytest.fixture(scope="module")
def poc(lab):
    """A .so whose constructor records who loaded it in /owned and in a /tmp path."""
    need_tool("cc")
    mark2 = victim_name("owned")
    src = lab.base / "poc.c"
    src.write_text(POC_C)
    out = lab.base / "poc.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", f'-DMARK2="{mark2}"', "-o", str(out),
                    str(src)], check=True, capture_output=True)
    return out.read_bytes(), mark2


def _poc_images(poc_bytes):
    imgs = []
    for name, preload in (("abs", "/poc.so"), ("cwd", "/proc/self/cwd/poc.so")):
        layer = mk.Layer([mk.Entry.file("poc.so", poc_bytes, 0o755)])
        img = mk.Image([mk.busybox_layer(), ci.cuda_layer(), layer],
                       env=list(mk.DEFAULT_ENV) + [f"LD_PRELOAD={preload}",
                                                   "NVIDIA_VISIBLE_DEVICES=all"],
                       cmd=["/usr/bin/cuda_probe"])
        imgs.append((img, [f"gt/preload-{name}:1"]))
    return imgs


def cdi_run_supported(gan):
    h = gan.run("run", "--help").out
    return "--device" in h and "--cdi-spec-dir" in h


def test_cve_2025_23266_ld_preload_image_env(ctx, lab, poc):
    """ENV LD_PRELOAD=/poc.so (and /proc/self/cwd/poc.so): only the workload loads it; no host
    /owned, and no gantry helper (ldconfig, hooks) inside the container loaded it either."""
    poc_bytes, mark2 = poc
    ctx.load(_poc_images(poc_bytes), "preload")
    host = lab.hosts["1"]
    assert not os.path.exists("/owned"), "host /owned exists before the test: remove it"
    assert not os.path.exists(mark2)
    spec_dir = None
    if cdi_run_supported(ctx.gan):
        spec_dir = ctx.mkdir("preload-cdi")
        ctx.gantry(host).run("cdi", "generate", "--driver-root", host.driver_root, "--dev-root",
                             host.dev_root, "--output", spec_dir / "nvidia.yaml")
    try:
        for name in ("abs", "cwd"):
            tag = f"gt/preload-{name}:1"
            runs = [["--gpus", "all"], []]
            if spec_dir:
                runs.append(["-e", "NVIDIA_VISIBLE_DEVICES=void", "--cdi-spec-dir", spec_dir,
                             "--device", "nvidia.com/gpu=all"])
            for args in runs:
                # busybox is static: nothing in the container should have loaded poc.so
                res = ctx.run(host, *args, tag, "sh", "-c",
                              "cat /owned 2>/dev/null; cat " + mark2 + " 2>/dev/null; echo done")
                assert res.out == "done\n", f"{name} {args}: something loaded poc.so: {res!r}"
                # positive control: the dynamically linked workload does load it
                res = ctx.run(host, *args, tag, "sh", "-c", "cuda_probe > /dev/null; cat /owned")
                assert "/usr/bin/cuda_probe" in res.out, f"{name} {args}: {res!r}"
                assert not os.path.exists("/owned"), f"{name} {args}: host /owned was written"
                assert not os.path.exists(mark2), f"{name} {args}: host {mark2} was written"
    finally:
        for p in ("/owned", mark2):
            if os.path.exists(p):
                print(f"ESCAPE: {p}: {Path(p).read_text()!r}")
        if os.path.exists(mark2):
            os.unlink(mark2)


# --------------------------------------------------------------------------
# CDI
# --------------------------------------------------------------------------

def generate(gan, host, *args):
    return gan.run("cdi", "generate", "--driver-root", host.driver_root, "--dev-root",
                   host.dev_root, *args)


def test_cdi_generate_validates_and_lists(ctx, lab):
    host = lab.hosts["mig"]
    d = host.desc
    gan = ctx.gantry(host)
    out = ctx.mkdir("cdi-gen")
    other = ctx.mkdir("cdi-gen-variants")
    generate(gan, host, "--output", out)  # a directory: nvidia.yaml inside
    generate(gan, host, "--format", "json", "--device-name-strategy", "uuid", "--output",
             other / "uuid.json")
    idx = generate(gan, host, "--device-name-strategy", "index").out
    (other / "index.yaml").write_text(idx)
    os.chmod(other / "index.yaml", 0o644)
    for f in (out / "nvidia.yaml", other / "uuid.json", other / "index.yaml"):
        res = gan.run("cdi", "validate", f)
        assert res.code == 0 and "ok" in res.out and "nvidia.com/gpu" in res.out, res

    listed = set(ctx.gan.run("cdi", "list", "--spec-dir", out).out.split())
    uuids = {f"nvidia.com/gpu={g['uuid']}" for g in d["gpus"]}
    uuids |= {f"nvidia.com/gpu={m['uuid']}" for g in d["gpus"] for m in g["mig"] or []}
    indices = {"nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=1:0",
               "nvidia.com/gpu=1:1", "nvidia.com/gpu=1:2"}
    assert uuids | indices | {"nvidia.com/gpu=all"} <= listed, listed

    spec = json.loads((other / "uuid.json").read_text())
    names = [dev["name"] for dev in spec["devices"]]
    assert sorted(names) == sorted([u.split("=")[1] for u in uuids] + ["all"]), names
    assert spec["kind"] == "nvidia.com/gpu"
    dev0 = next(dev for dev in spec["devices"] if dev["name"] == d["gpus"][0]["uuid"])
    assert [n["path"] for n in dev0["containerEdits"]["deviceNodes"]] == ["/dev/nvidia0"]
    m = mig(host, 1, 0)
    devm = next(dev for dev in spec["devices"] if dev["name"] == m["uuid"])
    assert sorted(n["path"] for n in devm["containerEdits"]["deviceNodes"]) == sorted(
        ["/dev/nvidia1", f"/dev/nvidia-caps/nvidia-cap{m['gi_cap']}",
         f"/dev/nvidia-caps/nvidia-cap{m['ci_cap']}"])
    edits = spec["containerEdits"]
    common = {n["path"] for n in edits["deviceNodes"]}
    assert {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"} <= common
    libcuda = [mt for mt in edits["mounts"]
               if mt["containerPath"] == f"{LIBDIR}/libcuda.so.{DRIVER}"]
    assert len(libcuda) == 1 and libcuda[0]["hostPath"] == str(host.lib_dir /
                                                               f"libcuda.so.{DRIVER}")
    assert {"ro", "nosuid", "nodev"} <= set(libcuda[0]["options"])
    for hook in edits.get("hooks", []):
        assert os.path.isabs(hook["path"]) and "env" in hook, hook
    assert "NVIDIA_VISIBLE_DEVICES=void" in edits["env"]
    assert not [n for n in names if n[:1].isdigit()]  # uuid naming only
    assert not [n for n in (line.strip() for line in idx.splitlines())
                if n.startswith("- name: GPU-") or n.startswith("- name: MIG-")]


MALFORMED = {
    "unknown-field": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  bogusField: 1
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "bogusField"),
    "unknown-edit-field": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
      hostPth: /dev/nvidia0
""", "deviceNodes[0].hostPth"),
    "bad-kind": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu/extra
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "kind"),
    "kind-without-vendor": ("""\
cdiVersion: 0.5.0
kind: gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "kind"),
    "duplicate-device": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
""", "devices[1].name"),
    "relative-hook-path": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  hooks:
  - hookName: createContainer
    path: bin/gantry
    args: [gantry, hook, update-ldcache]
""", "hooks[0].path"),
    "numeric-name-needs-0.5": ("""\
cdiVersion: 0.3.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "0.5.0"),
    "relative-device-path": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: gpu0
  containerEdits:
    deviceNodes:
    - path: dev/nvidia0
""", "path"),
    "bad-json": ('{"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": [', None),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_cdi_validate_rejects_malformed_specs(g, tmp_path, case):
    text, field = MALFORMED[case]
    path = tmp_path / (f"{case}.json" if case == "bad-json" else f"{case}.yaml")
    path.write_text(text)
    res = g.run("cdi", "validate", path, check=False)
    assert res.code == 4, res
    assert str(path) in res.err, res
    if field:
        assert field in res.err, f"the message should name {field!r}: {res.err}"


REAL_SPEC = """\
---
cdiVersion: 0.5.0
kind: example.com/device
devices:
    - name: "0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {root}/dev/nvidia0
    - name: all
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {root}/dev/nvidia0
containerEdits:
    env:
        - NVIDIA_CTK_LIBCUDA_DIR=/lib/x86_64-linux-gnu
        - NVIDIA_VISIBLE_DEVICES=void
    deviceNodes:
        - path: /dev/nvidiactl
          hostPath: {root}/dev/nvidiactl
    hooks:
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.1::/lib/x86_64-linux-gnu/libcuda.so
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - update-ldcache
            - --folder
            - /lib/x86_64-linux-gnu
          env:
            - NVIDIA_CTK_DEBUG=false
    mounts:
        - hostPath: {root}/lib/x86_64-linux-gnu/libcuda.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/libcuda.so.999.88.77
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
"""


def test_cdi_validate_accepts_nvidia_ctk_spec(g, tmp_path):
    """The nvidia-ctk v1.20 spec of reference/nvidia-driver.md section 2.6 parses."""
    path = tmp_path / "nvidia-ctk.yaml"
    path.write_text(REAL_SPEC.format(root="/driver-root"))
    res = g.run("cdi", "validate", path)
    assert "ok" in res.out and "example.com/device" in res.out and "2 devices" in res.out, res
    listed = g.run("cdi", "list", "--spec-dir", tmp_path).out.split()
    assert listed == ["example.com/device=0", "example.com/device=all"], listed


HOOK_PY = """\
import json, os, sys
fds = os.listdir("/proc/self/fd")
fds = sorted(int(f) for f in fds if os.path.exists("/proc/self/fd/" + f))
env = [e.decode() for e in open("/proc/self/environ", "rb").read().split(b"\\0") if e]
json.dump({"env": env, "cwd": os.getcwd(), "fds": fds, "state": json.loads(sys.stdin.read())},
          open(sys.argv[1], "w"))
"""


def test_cdi_hooks_run_with_declared_env_only(ctx, lab, poc):
    """CVE-2025-23266 class: a CDI hook gets exactly its declared env (none declared: empty),
    cwd /, no inherited fds, the container state on stdin, whatever the image's env says."""
    if not cdi_run_supported(ctx.gan):
        pytest.skip("gantry run --help lists no --device / --cdi-spec-dir yet")
    ctx.load(_poc_images(poc[0]), "preload")
    out = ctx.mkdir("hook-env")
    spec = {"cdiVersion": "0.5.0", "kind": "example.com/hooktest",
            "devices": [{"name": "x", "containerEdits": {"env": ["FROM_CDI=1"], "hooks": [
                {"hookName": "createContainer", "path": "/usr/bin/python3",
                 "args": ["python3", "-c", HOOK_PY, str(out / "noenv.json")]},
                {"hookName": "createContainer", "path": "/usr/bin/python3",
                 "args": ["python3", "-c", HOOK_PY, str(out / "env.json")],
                 "env": ["FOO=bar", "NVIDIA_CTK_DEBUG=false"]}]}}]}
    (out / "hooks.json").write_text(json.dumps(spec))
    os.chmod(out / "hooks.json", 0o644)
    ctx.gan.run("cdi", "validate", out / "hooks.json")
    res = ctx.gan.run("run", "--cdi-spec-dir", out, "--device", "example.com/hooktest=x",
                      "-e", "LD_PRELOAD=/proc/self/cwd/poc.so", "-e", "SECRET=1",
                      "-e", "NVIDIA_VISIBLE_DEVICES=void",
                      "gt/preload-cwd:1", "sh", "-c", "echo $FROM_CDI")
    assert res.out == "1\n", res
    noenv = json.loads((out / "noenv.json").read_text())
    env = json.loads((out / "env.json").read_text())
    assert noenv["env"] == [], noenv
    assert env["env"] == ["FOO=bar", "NVIDIA_CTK_DEBUG=false"], env
    for h in (noenv, env):
        assert h["cwd"] == "/", h
        assert h["fds"] == [0, 1, 2], h
        assert h["state"]["status"] == "creating" and h["state"]["pid"] > 0, h
    assert not os.path.exists("/owned")


def test_cdi_run_device(ctx, lab):
    if not cdi_run_supported(ctx.gan):
        pytest.skip("gantry run --help lists no --device / --cdi-spec-dir yet")
    host = lab.hosts["mig"]
    d = host.desc
    spec_dir = ctx.mkdir("cdi-run")
    generate(ctx.gantry(host), host, "--output", spec_dir / "nvidia.yaml")
    cases = [("nvidia.com/gpu=0", resolve(d, [0])),
             ("nvidia.com/gpu=all", resolve(d, all_=True)),
             ("nvidia.com/gpu=1:1", resolve(d, migs=[(1, 1)])),
             (f"nvidia.com/gpu={gpu(host, 0)['uuid']}", resolve(d, [0]))]
    for dev, (gpus, migs) in cases:
        res = ctx.gan.run("run", "--cdi-spec-dir", spec_dir, "--device", dev,
                          "gt/cuda-probe:1", "sh", "-c", PROBE)
        s = sections(res.out)
        want = expect_probe(d, gpus, migs)
        assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in s["probe"], f"{dev}: {res!r}"
        assert [line for line in s["probe"] if "\t" in line] == want, f"{dev}: {res!r}"
        assert s["smi"] == expect_smi(d, gpus, migs), f"{dev}: {res!r}"
        for node in expect_dev(d, gpus, migs):
            assert node in s["dev"], f"{dev}: {node} missing: {res!r}"
        selected = {f"/dev/nvidia{g['minor']}" for g in d["gpus"] if g["index"] in gpus}
        assert {n for n in s["dev"] if re.fullmatch(r"/dev/nvidia\d+", n)} == selected, res
    # two devices at once
    res = ctx.gan.run("run", "--cdi-spec-dir", spec_dir, "--device", "nvidia.com/gpu=0",
                      "--device", "nvidia.com/gpu=1:0", "gt/cuda-probe:1")
    assert [line for line in res.out.splitlines() if "\t" in line] == expect_probe(
        d, *resolve(d, [0], [(1, 0)])), res
    # unknown device / kind
    for dev in ("nvidia.com/gpu=7", "example.com/none=0"):
        res = ctx.gan.run("run", "--cdi-spec-dir", spec_dir, "--device", dev,
                          "gt/cuda-probe:1", "sh", "-c", "echo started", check=False)
        assert res.code == 125 and "started" not in res.out and dev in res.err, res


def test_cdi_ldcache_for_an_image_without_ld_so_conf(ctx, lab):
    """A program staged alone (no /etc/ld.so.conf: tests/gpu/build.sh's image) given a driver
    in a directory its loader does not search by itself (/usr/lib64 for a Debian-built loader;
    GKE's /usr/local/nvidia/lib64): the update-ldcache hook names the folders to ldconfig, not
    only in ld.so.conf.d, which no ld.so.conf includes there. Found on an H100: the CDI run
    failed with cudaErrorInsufficientDriver while --gpus passed."""
    host = lab.hosts["lib64"]
    with tempfile.TemporaryDirectory(prefix="cuda-bare-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        ci._stage(root, False, None, False)
        shutil.rmtree(root / "etc")
        img = mk.Image([mk.busybox_layer(), mk.Layer(ci._entries(root))],
                       cmd=["/usr/bin/cuda_probe"])
    ctx.load([(img, ["gt/bare-probe:1"])], "bare-probe")
    spec_dir = ctx.mkdir("cdi-lib64")
    generate(ctx.gantry(host), host, "--output", spec_dir / "nvidia.yaml")
    res = ctx.gan.run("run", "--rm", "--cdi-spec-dir", spec_dir, "--device",
                      "nvidia.com/gpu=all", "gt/bare-probe:1", "sh", "-c",
                      "cuda_probe; echo probe_rc=$?; cat /etc/ld.so.conf.d/00-gantry-cdi.conf")
    assert f"libcuda: /usr/lib64/libcuda.so.{host.desc['driver']}" in res.out, res
    assert "probe_rc=0" in res.out and "/usr/lib64" in res.out, res
    # a folder that is not an absolute path never reaches ldconfig as an option
    spec = (spec_dir / "nvidia.yaml").read_text()
    assert spec.count("- /usr/lib64\n") == 1, spec
    (spec_dir / "nvidia.yaml").write_text(spec.replace("- /usr/lib64\n", "- -X\n"))
    res = ctx.gan.run("run", "--rm", "--cdi-spec-dir", spec_dir, "--device",
                      "nvidia.com/gpu=all", "gt/bare-probe:1", "true", check=False)
    assert res.code == 125 and "--folder '-X' is not an absolute path" in res.err, res


# --------------------------------------------------------------------------
# podman consumes a spec gantry generated
# --------------------------------------------------------------------------

SANDBOX_ERRORS = ("setrlimit", "Operation not permitted")


def test_podman_runs_with_gantry_cdi_spec(root_ctx, lab, poc):
    need_tool("podman")
    host = lab.hosts["mig"]
    d = host.desc
    gan = root_ctx.gantry(host)
    base = lab.base / "podman"
    base.mkdir(exist_ok=True)
    conf = base / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    pod = ["podman", "--root", str(base / "root"), "--runroot", str(base / "runroot"),
           "--tmpdir", str(base / "tmp"), "--storage-driver", "overlay"]
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    # podman >= 4.7 takes a global --cdi-spec-dir; 4.3 (Debian 12) has none: then the spec goes
    # to /var/run/cdi for the test's duration
    helps = "".join(subprocess.run(pod + h, capture_output=True, text=True, env=env).stdout
                    for h in (["--help"], ["run", "--help"]))
    if "--cdi-spec-dir" in helps:
        (base / "cdi").mkdir(exist_ok=True)
        spec = base / "cdi" / "gantry-test.yaml"
        pod += ["--cdi-spec-dir", str(base / "cdi")]
    else:
        spec = Path("/var/run/cdi/gantry-test.yaml")

    def podman(*args, check=True):
        p = subprocess.run(pod + [str(a) for a in args], capture_output=True, text=True,
                           env=env, timeout=120)
        if check and p.returncode != 0:
            err = p.stderr.strip()
            if all(e in err for e in SANDBOX_ERRORS):
                pytest.skip(f"podman cannot run containers in this sandbox: {err}")
            raise AssertionError(f"podman {' '.join(map(str, args))} failed "
                                 f"({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    # /var/run/cdi: test_cdi_amd.py may make (and remove) /run/cdi meanwhile
    with host_lock("cdi"):
        # another nvidia.com/gpu spec in the system dirs would make podman drop the devices as
        # conflicting (a real GPU host with /var/run/cdi/nvidia.yaml)
        others = [str(f) for dname in ("/etc/cdi", "/var/run/cdi") if os.path.isdir(dname)
                  for f in Path(dname).iterdir() if f != spec and f.is_file()
                  and re.search(r'kind"?\s*:\s*"?nvidia\.com/gpu', f.read_text(errors="replace"))]
        assert not others, f"CDI specs of kind nvidia.com/gpu already installed: {others}"
        try:
            spec.parent.mkdir(parents=True, exist_ok=True)
            generate(gan, host, "--output", base / "nvidia.yaml")
            gan.run("cdi", "validate", base / "nvidia.yaml")
            shutil.copyfile(base / "nvidia.yaml", spec)
            archive = base / "probe.tar"
            ci.write_cuda_image(archive, "cuda-probe", tag="gt/probe:1")
            podman("load", "-i", archive)
            run = ["run", "--rm", "--runtime", "runc", "--network", "none"]
            for dev, (gpus, migs) in (("all", resolve(d, all_=True)), ("0", resolve(d, [0])),
                                      ("1:2", resolve(d, migs=[(1, 2)]))):
                p = podman(*run, "--device", f"nvidia.com/gpu={dev}", "localhost/gt/probe:1",
                           "sh", "-c", PROBE)
                s = sections(p.stdout)
                want = expect_probe(d, gpus, migs)
                assert f"libcuda: {LIBDIR}/libcuda.so.{DRIVER}" in s["probe"], p.stdout + p.stderr
                assert f"cuda_driver_version: {d['cuda_version']}" in s["probe"], p.stdout
                assert [line for line in s["probe"] if "\t" in line] == want, p.stdout
                assert s["smi"] == expect_smi(d, gpus, migs), p.stdout
                selected = {f"/dev/nvidia{g['minor']}" for g in d["gpus"] if g["index"] in gpus}
                assert {n for n in s["dev"] if re.fullmatch(r"/dev/nvidia\d+", n)} == selected
                assert "/dev/nvidiactl" in s["dev"]
            # the spec's hooks run with their declared env: an image LD_PRELOAD reaches no hook
            poc_bytes, mark2 = poc
            assert not os.path.exists("/owned")
            pa = base / "preload.tar"
            mk.write_docker_archive(pa, _poc_images(poc_bytes))
            podman("load", "-i", pa)
            for name in ("abs", "cwd"):
                p = podman(*run, "--device", "nvidia.com/gpu=all", f"localhost/gt/preload-{name}:1",
                           "sh", "-c", "cat /owned 2>/dev/null; echo done")
                assert p.stdout == "done\n", p.stdout + p.stderr
                assert not os.path.exists("/owned") and not os.path.exists(mark2), \
                    f"podman + gantry hooks loaded the image's LD_PRELOAD on the host ({name})"
        finally:
            spec.unlink(missing_ok=True)
            subprocess.run(pod + ["rmi", "-a", "-f"], capture_output=True, env=env, timeout=120)
            with open("/proc/self/mounts") as f:
                stale = [line.split()[1] for line in f if str(base) in line.split()[1]]
            for m in sorted(stale, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
