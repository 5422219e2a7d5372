"""As root, a squashfs image is mounted by the kernel (a read-only autoclear loop device and a
detached mount attached inside the container's mount namespace) instead of FUSE; nothing of it
is in the host's mount table, and the loop device goes with the container, kill -9 of gantry
included. GANTRY_SQSH_FUSE=1 and rootless runs use FUSE."""
import os
import subprocess
import time

import pytest

from conftest import load_busybox, need_tool


def loops_of(path):
    out = subprocess.run(["losetup", "-j", str(path)], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.strip()]


def host_mounts_of(path):
    return [l for l in open("/proc/self/mountinfo") if "squashfs" in l or str(path) in l]


@pytest.fixture
def sqsh(g, mk, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the kernel's squashfs is for runs as root")
    need_tool("tar2sqfs")
    need_tool("losetup")
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop devices here (/dev/loop-control is missing)")
    ref = load_busybox(g, mk, tmp_path, cmd=["/bin/sh", "-c", "echo kernel"])
    out = tmp_path / "k.sqsh"
    g.run("save", ref, "--format", "squashfs", "-o", out)
    return out


def wait_for(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def test_root_runs_use_the_kernels_squashfs(g, sqsh):
    before = host_mounts_of(sqsh)
    p = g.popen("run", "--rm", sqsh, "sh", "-c", "echo ok > /w; cat /w; sleep 2",
                stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ok"  # writable over the read-only image
    assert len(loops_of(sqsh)) == 1  # backed by a loop device while it runs
    assert host_mounts_of(sqsh) == before  # mounted only in the container's namespace
    assert p.wait(timeout=30) == 0
    assert wait_for(lambda: not loops_of(sqsh)), loops_of(sqsh)  # autoclear
    assert g.run("run", "--rm", sqsh).out.strip() == "kernel"


def test_kill_9_of_gantry_leaves_no_loop_device(g, sqsh):
    p = g.popen("run", "--rm", sqsh, "sleep", "2", stdout=subprocess.PIPE)
    assert wait_for(lambda: loops_of(sqsh))
    p.kill()
    p.wait()
    # the container's pid namespace dies with its init; its mount namespace with it
    assert wait_for(lambda: not loops_of(sqsh), timeout=15), loops_of(sqsh)


def test_gantry_sqsh_fuse_turns_it_off(g, sqsh, fuse_open):
    g.env["GANTRY_SQSH_FUSE"] = "1"
    p = g.popen("run", "--rm", sqsh, "sleep", "5", stdout=subprocess.PIPE)
    time.sleep(1)
    try:
        assert loops_of(sqsh) == []
    finally:
        p.kill()
        p.wait()
