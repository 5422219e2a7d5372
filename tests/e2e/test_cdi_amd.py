"""`gantry cdi generate --vendor amd` read by real consumers: Debian's podman runs a container with
`--device amd.com/gpu=0` from the spec, and `gantry run --device amd.com/gpu=N --cdi-spec-dir`
takes the same spec; inside, exactly the selected GPU's card and render nodes and /dev/kfd are
there, with the host's numbers (the kfd major is dynamic: the host is built with 243), mode and
group. Hosts are simulated (tests/fixtures/amdhost): 8x MI300X, and the same in CPX mode for a
partition's device.

podman 4.3 (Debian 12) reads CDI specs only from /etc/cdi and /var/run/cdi (--cdi-spec-dir and
containers.conf's cdi_spec_dirs came later; the private containers.conf names the directory for
a newer podman). So podman runs in a private mount namespace where the test's spec directory is
bound over those directories: the host's own are neither written nor read.

As root only: the simulated device nodes must be real char devices (mknod), and podman accepts
CDI device nodes rootless only when hostPath equals path (reference/this-machine.md).

Run: flock /tmp/gantry-e2e.lock /usr/bin/python3 -m pytest -q -p no:cacheprovider \
         tests/e2e/test_cdi_amd.py
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import TESTS, Gantry, host_lock, need_tool
from fixtures import mkimage as mk

sys.path.insert(0, str(TESTS / "fixtures" / "amdhost"))
import amdhost as ah  # noqa: E402

ROOT = os.geteuid() == 0
KFD_MAJOR = 243
IMAGE = "gt/amd-cdi:1"
# Inside the container: every char node under /dev/dri and /dev/kfd, "name major:minor mode gid"
# (major and minor in hex, as stat prints them).
LIST = ('for n in /dev/kfd /dev/dri/*; do [ -c "$n" ] && stat -c "%n %t:%T %a %g" "$n"; '
        'done; true')
SANDBOX_ERRORS = ("setrlimit", "Operation not permitted")

pytestmark = pytest.mark.skipif(not ROOT, reason="needs root: real device nodes (mknod) and "
                                "podman's CDI device nodes with a hostPath")


def expected(host, gpus):
    """The lines LIST prints for the GPUs GPUS (host.json entries): their nodes and /dev/kfd."""
    lines = {f"/dev/kfd {KFD_MAJOR:x}:0 660 {ah.RENDER_GID}"}
    for g in gpus:
        for key, gid in (("card", ah.VIDEO_GID), ("render", ah.RENDER_GID)):
            path = g[key]
            minor = int(re.search(r"\d+$", path).group())
            lines.add(f"{path} {ah.DRM_MAJOR:x}:{minor:x} 660 {gid}")
    return lines


def listed(out):
    return {line for line in out.splitlines() if line.startswith("/dev/")}


@pytest.fixture(scope="module")
def lab(gantry_bin):
    base = Path(tempfile.mkdtemp(prefix="gantry-amdcdi-", dir="/tmp"))
    os.chmod(base, 0o755)

    class Lab:
        pass

    lab = Lab()
    lab.base = base
    try:
        lab.hosts = {}
        for shape in ("mi300x", "mi300x-cpx"):
            desc = ah.build(base / shape, shape, kfd_major=KFD_MAJOR, devices="nodes")
            lab.hosts[shape] = (base / shape, desc)
        archive = base / "image.tar"
        mk.write_docker_archive(archive, [(mk.busybox_image(), [IMAGE])])
        lab.archive = archive
        lab.gan = Gantry(base / "store")
        lab.gan.run("load", archive)
        yield lab
    finally:
        shutil.rmtree(base, ignore_errors=True)


def generate(lab, shape, *extra):
    """Writes SHAPE's spec into its own directory (as amd.yaml) and returns the directory."""
    out, _ = lab.hosts[shape]
    spec_dir = lab.base / f"cdi-{shape}"
    spec_dir.mkdir(exist_ok=True)
    res = lab.gan.run("cdi", "generate", "--vendor", "amd", "--sys-root", out / "sys",
                      "--dev-root", out / "dev", "-o", spec_dir, *extra)
    assert (spec_dir / "amd.yaml").is_file(), res
    assert "warning" not in res.err, res
    assert "cdiVersion 0.5.0" in res.err and "kind amd.com/gpu" in res.err, res
    val = lab.gan.run("cdi", "validate", spec_dir / "amd.yaml")
    assert "ok" in val.out, val
    return spec_dir


def test_generated_spec_lists_each_gpu_and_all(lab):
    spec_dir = generate(lab, "mi300x")
    listed_names = lab.gan.run("cdi", "list", "--spec-dir", spec_dir).out.split()
    assert listed_names == [f"amd.com/gpu={i}" for i in range(8)] + ["amd.com/gpu=all"]
    lab.gan.run("cdi", "generate", "--vendor", "amd", "--sys-root",
                lab.hosts["mi300x"][0] / "sys", "--dev-root", lab.hosts["mi300x"][0] / "dev",
                "-o", spec_dir / "amd.json")
    spec = json.loads((spec_dir / "amd.json").read_text())
    (spec_dir / "amd.json").unlink()  # one spec of the kind in the directory
    assert spec["cdiVersion"] == "0.5.0" and spec["kind"] == "amd.com/gpu"
    dev0 = spec["devices"][0]["containerEdits"]
    assert set(dev0) == {"deviceNodes"}  # no mounts, env or hooks
    assert "containerEdits" not in spec
    kfd = dev0["deviceNodes"][-1]
    assert (kfd["path"], kfd["major"], kfd["gid"]) == ("/dev/kfd", KFD_MAJOR, ah.RENDER_GID)


def test_no_amd_gpu_is_not_found(lab, tmp_path):
    (tmp_path / "sys").mkdir()
    (tmp_path / "dev").mkdir()
    res = lab.gan.fail("cdi", "generate", "--vendor", "amd", "--sys-root", tmp_path / "sys",
                       "--dev-root", tmp_path / "dev", code=3)
    assert "no AMD GPU to describe" in res.err and "no KFD topology" in res.err, res


def podman_runner(lab, spec_dir):
    """podman with private storage and containers.conf, in a mount namespace where SPEC_DIR is
    bound over /etc/cdi and /var/run/cdi."""
    need_tool("podman")
    need_tool("unshare")
    base = lab.base / "podman"
    base.mkdir(exist_ok=True)
    conf = base / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    f'"nproc=32768:32768"]\n[engine]\ncdi_spec_dirs = ["{spec_dir}"]\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    # /run/cdi may be made below, and test_gpu_cdi.py writes a spec there: one test at a time
    held = contextlib.ExitStack()
    held.enter_context(host_lock("cdi"))
    targets = [d for d in ("/etc/cdi", "/run/cdi") if os.path.isdir(d)]
    made = None
    if not targets:  # nothing to bind over: an empty /run/cdi for the test's duration
        made = Path("/run/cdi")
        made.mkdir()
        targets = [str(made)]
    binds = " && ".join(f"mount --bind '{spec_dir}' '{t}'" for t in targets)
    pod = (f"podman --root '{base}/root' --runroot '{base}/runroot' --tmpdir '{base}/tmp' "
           "--storage-driver overlay")

    def podman(*args, check=True):
        cmd = pod + " " + " ".join(f"'{a}'" for a in args)
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"{binds} && exec {cmd}"], capture_output=True, text=True,
                           env=env, timeout=180)
        if check and p.returncode != 0:
            err = p.stderr.strip()
            if all(e in err for e in SANDBOX_ERRORS):
                pytest.skip(f"podman cannot run containers in this sandbox: {err}")
            raise AssertionError(f"podman {' '.join(map(str, args))} failed "
                                 f"({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def cleanup():
        try:
            podman("rmi", "-a", "-f", check=False)
            with open("/proc/self/mounts") as f:
                stale = [line.split()[1] for line in f if str(base) in line.split()[1]]
            for m in sorted(stale, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
            if made is not None:
                made.rmdir()
        finally:
            held.close()

    return podman, cleanup


def test_podman_runs_gpu0_from_gantrys_spec(lab):
    out, host = lab.hosts["mi300x"]
    spec_dir = generate(lab, "mi300x")
    podman, cleanup = podman_runner(lab, spec_dir)
    try:
        podman("load", "-i", lab.archive)
        run = ["run", "--rm", "--runtime", "runc", "--network", "none"]
        gpu0 = [g for g in host["gpus"] if g["index"] == 0]
        p = podman(*run, "--device", "amd.com/gpu=0", f"localhost/{IMAGE}", "sh", "-c", LIST)
        assert listed(p.stdout) == expected(host, gpu0), p.stdout + p.stderr
        # near miss: all GPUs' nodes for "all", and none without a device
        p = podman(*run, "--device", "amd.com/gpu=all", f"localhost/{IMAGE}", "sh", "-c", LIST)
        assert listed(p.stdout) == expected(host, host["gpus"]), p.stdout + p.stderr
        p = podman(*run, f"localhost/{IMAGE}", "sh", "-c", LIST)
        assert listed(p.stdout) == set(), p.stdout
        # an index the spec does not have
        p = podman(*run, "--device", "amd.com/gpu=8", f"localhost/{IMAGE}", "true", check=False)
        assert p.returncode != 0 and "amd.com/gpu=8" in p.stderr, p.stderr
    finally:
        cleanup()


def test_gantry_run_takes_the_same_spec(lab):
    _, host = lab.hosts["mi300x"]
    spec_dir = generate(lab, "mi300x")
    gpu1 = [g for g in host["gpus"] if g["index"] == 1]
    res = lab.gan.run("run", "--device", "amd.com/gpu=1", "--cdi-spec-dir", spec_dir, IMAGE,
                      "sh", "-c", LIST)
    assert listed(res.out) == expected(host, gpu1), res
    # near miss: another index gives another GPU's nodes
    gpu5 = [g for g in host["gpus"] if g["index"] == 5]
    res = lab.gan.run("run", "--device", "amd.com/gpu=5", "--cdi-spec-dir", spec_dir, IMAGE,
                      "sh", "-c", LIST)
    assert listed(res.out) == expected(host, gpu5), res
    assert expected(host, gpu1) != expected(host, gpu5)


def test_gantry_run_takes_a_partition(lab):
    """CPX: device 9 is partition 1 of the second GPU in index order, with the card and render
    node of its amdgpu_xcp_<k> platform device."""
    _, host = lab.hosts["mi300x-cpx"]
    spec_dir = generate(lab, "mi300x-cpx")
    names = lab.gan.run("cdi", "list", "--spec-dir", spec_dir).out.split()
    assert len(names) == 65 and names[-1] == "amd.com/gpu=all"
    part = [g for g in host["gpus"] if g["index"] == 9]
    assert part[0]["partition"]["index"] == 1 and part[0]["partition"]["platform_device"]
    res = lab.gan.run("run", "--device", "amd.com/gpu=9", "--cdi-spec-dir", spec_dir, IMAGE,
                      "sh", "-c", LIST)
    assert listed(res.out) == expected(host, part), res


def test_bundle_takes_the_requested_gpus_from_the_amd_spec(lab):
    """`gantry bundle --gpus` on an AMD host: the selected GPUs' nodes and /dev/kfd from the spec
    `cdi generate --vendor amd` writes (generated in memory), and runc runs it."""
    out, host = lab.hosts["mi300x"]
    roots = ["--gpu-vendor", "amd", "--sys-root", out / "sys", "--dev-root", out / "dev"]
    b = lab.base / "bundle-amd"
    lab.gan.run("bundle", "--gpus", "device=2,6", *roots, "--cmd", "/bin/sh", "--cmd", "-c",
                "--cmd", LIST, IMAGE, b)
    cfg = json.loads((b / "config.json").read_text())
    paths = sorted(d["path"] for d in cfg["linux"]["devices"])
    want = [g for g in host["gpus"] if g["index"] in (2, 6)]
    assert paths == sorted(["/dev/kfd"] + [g[k] for g in want for k in ("card", "render")])
    assert not cfg.get("hooks")  # AMD's edits are device nodes only
    # AMD_VISIBLE_DEVICES in the image's environment asks the same way
    b2 = lab.base / "bundle-amd-env"
    lab.gan.run("bundle", "-e", "AMD_VISIBLE_DEVICES=3", *roots, IMAGE, b2)
    cfg = json.loads((b2 / "config.json").read_text())
    g3 = [g for g in host["gpus"] if g["index"] == 3][0]
    assert g3["render"] in [d["path"] for d in cfg["linux"]["devices"]]
    # an index the host does not have: not found, and no bundle
    res = lab.gan.run("bundle", "--gpus", "device=8", *roots, IMAGE, lab.base / "b8", check=False)
    assert res.code == 3 and not (lab.base / "b8").exists(), res
    need_tool("runc")
    r = subprocess.run(["runc", "--root", str(lab.base / "runc-state"), "run", "--bundle", str(b),
                        f"gtamd{os.getpid()}"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert listed(r.stdout) == expected(host, want), r.stdout
