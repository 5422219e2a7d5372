"""What tests/e2e/test_gpu_select.py, test_gpu_hostile.py and test_gpu_cdi.py share: the
simulated GPU hosts and test images (module fixture `lab`, made once per test module), gantry
as root and as the unprivileged user nobody against them (`ctx`, `root_ctx`; `lab_dirs`,
`user_stores` and `who` for the labs of test_jetson.py and test_wsl.py), the PROBE run
inside containers and what it should print (check_visible), and the LD_PRELOAD
proof-of-concept library (`poc`) of the hostile-image and CDI hook tests.

Every case runs on simulated GPU hosts (tests/fixtures/gpuhost: a driver root and a dev root
whose fake libcuda / NVML / nvidia-smi answer only for the device nodes a process can open), so
what `cuda_probe` and `nvidia-smi -L` print inside the container proves what gantry injected.
Host-side discovery uses the fake NVML only when FAKE_DEVICE_ROOT=<host>/dev is in gantry's
environment; without it gantry falls back to /proc (no compute capability, no MIG): both are run.
Cases run as root and as the unprivileged user nobody (hosts live in a directory nobody can
read; their device nodes are real nodes, or regular stand-in files for the "-files" host).
test_sqsh.py and test_engine_api_gpu.py use its images, PROBE and check_visible too.
"""
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import NOBODY, TESTS, Gantry, gantry_copy, need_tool
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
    with lab_dirs("gantry-gpu-") as (base, bindir):
        lab.base = base
        hosts = base / "hosts"
        hosts.mkdir()
        lab.hosts = {}
        for name, (args, kw, devices) in HOSTS.items():
            lab.hosts[name] = gh.build_host(hosts / name, gh.preset(*args, **kw), devices=devices)
        archive = base / "images.tar"
        mk.write_docker_archive(archive, _image_set())
        os.chmod(archive, 0o644)
        lab.archive = archive
        lab.users = user_stores(base, bindir, gantry_bin, archive)
        yield lab


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


@contextlib.contextmanager
def lab_dirs(prefix):
    """(a lab's folder in /tmp, which every user may enter; the path beside it where
    user_stores puts gantry's copy), both removed when the block ends."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o755)
    bindir = Path(str(base) + "-bin")
    try:
        yield base, bindir
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(bindir, ignore_errors=True)


def user_stores(base, bindir, gantry_bin, archive):
    """The stores of a lab in BASE, ARCHIVE's images loaded into each: {who: (store, user,
    binary)}, "root" (gantry_bin) and "rootless" (the user nobody, gantry's copy in BINDIR) as
    root, "rootless" alone (the caller) otherwise."""
    if ROOT:
        bindir.mkdir(mode=0o755)
        (base / "store").mkdir()
        os.chown(base / "store", NOBODY.pw_uid, NOBODY.pw_gid)
        users = {"root": (base / "root-store", None, gantry_bin),
                 "rootless": (base / "store", NOBODY, gantry_copy(bindir / "gantry"))}
    else:
        users = {"rootless": (base / "store", None, gantry_bin)}
    for root, user, binary in users.values():
        _make_gantry(root, user, binary).run("load", archive)
    return users


@pytest.fixture(scope="module", params=["root", "rootless"])
def who(request, lab):
    """"root" or "rootless", the user a test runs gantry as (a key of lab.users)."""
    if request.param not in lab.users:
        pytest.skip("needs root")
    return request.param


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


def victim_name(tag):
    return f"/tmp/gantry-gpu-victim-{tag}-{uuid.uuid4().hex[:10]}"


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
