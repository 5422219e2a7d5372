"""A full disk under the store: load, pull and a run's writable layer (disk mode) on a small tmpfs.

Each command that runs out of space must fail with exit 6 (I/O; `run`: 125 before the workload
starts) and a message that says the disk is full and names what was being written; no partial
image may be listed or left behind (fsck clean, tmp/ empty); once space is freed (the tmpfs is
grown, or the filler removed) the same command succeeds on the same store.

Mounting a tmpfs needs root (CI runs as root); elsewhere these tests skip, saying so.
"""
import os
import subprocess
import time

import pytest
from stresslib import (INSECURE, check_intact, check_store, names, new_store, registry, samples,
                       wait_no_procs)

__all__ = ["registry", "samples"]  # fixtures


@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the store needs root")
    d = tmp_path / "fs"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", str(d)],
                   check=True)

    class Fs:
        path = d

        @staticmethod
        def grow(size="96m"):
            subprocess.run(["mount", "-o", f"remount,size={size}", str(d)], check=True)

        @staticmethod
        def used():
            st = os.statvfs(d)
            return (st.f_blocks - st.f_bfree) * st.f_frsize

    yield Fs
    subprocess.run(["umount", "-l", str(d)], check=False)


def assert_disk_full_error(r, code=6):
    assert r.code == code, f"expected exit {code} for a full disk: {r!r}"
    assert "No space left on device" in r.err, r
    assert r.err.startswith("gantry: error: "), r
    assert "hint: " in r.err, f"no hint names the fix: {r!r}"


def assert_nothing_partial(g, keep):
    check_store(g, "after the full disk")
    assert set(g.refs()) == set(keep), g.refs()
    assert names(g.root / "tmp") - {n for n in names(g.root / "tmp") if n.endswith(".partial")} \
        == set(), f"tmp/ holds {names(g.root / 'tmp')}"


def test_load_on_a_full_disk(small_fs, samples):
    g = new_store(small_fs.path)
    small, big = samples["small"], samples["big"]
    g.run("load", small.archive)
    r = g.run("load", big.archive, check=False)
    assert_disk_full_error(r)
    assert_nothing_partial(g, [small.ref])
    assert names(g.root / "tmp") == set()  # load keeps nothing for a retry
    assert g.run("run", small.ref, "cat", "/hello").out == "hi\n"  # the store still works
    small_fs.grow()
    g.run("load", big.archive)
    check_intact(g, big)
    check_intact(g, small)
    check_store(g, "after the load on the grown disk")


def test_pull_on_a_full_disk(small_fs, samples, registry, tmp_path):
    big = samples["big"]
    src = new_store(tmp_path, "src")
    src.run("load", big.archive)
    ref = f"{registry.addr}/stress/big:1"
    src.run("push", INSECURE, "-q", big.ref, ref)
    g = new_store(small_fs.path)
    r = g.run("pull", INSECURE, "-q", ref, check=False)
    assert_disk_full_error(r)
    assert_nothing_partial(g, [])
    small_fs.grow()
    g.run("pull", INSECURE, "-q", ref)
    check_intact(g, big, ref)
    g.run("system", "prune")
    assert names(g.root / "tmp") == set()
    check_store(g, "after the pull on the grown disk")


def settled_usage(fs, g, timeout=20):
    """The tmpfs usage once no gantry process (a trash reaper) is left."""
    wait_no_procs(g.bin, g.root, timeout)
    end = time.time() + timeout
    last = fs.used()
    while time.time() < end:
        time.sleep(0.1)
        now = fs.used()
        if now == last:
            return now
        last = now
    return last


def test_run_disk_layer_on_a_full_disk(small_fs, samples):
    g = new_store(small_fs.path)
    small = samples["small"]
    small_fs.grow("12m")
    g.run("load", small.archive)
    g.run("run", "--writable-layer", "disk", small.ref, "true")  # warm: views, run dirs
    g.run("system", "prune")
    base = settled_usage(small_fs, g)
    # the workload fills the disk: it sees ENOSPC itself, gantry reports its status
    r = g.run("run", "--writable-layer", "disk", small.ref, "sh", "-c",
              "dd if=/dev/zero of=/fill bs=1M count=64 2>&1; echo dd=$?", check=False)
    assert r.code == 0 and "No space left on device" in r.out and "dd=1" in r.out, r
    g.run("system", "prune")
    assert settled_usage(small_fs, g) <= base + 64 * 1024, "the full container layer stayed"
    # the disk is full before the run: gantry cannot make the container's layer
    filler = small_fs.path / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=64"],
                   capture_output=True)
    r = g.run("run", "--writable-layer", "disk", small.ref, "sh", "-c",
              "echo x > /new && cat /new", check=False)
    if r.code == 0:  # gantry needed no new block: the workload's own write must fail
        pytest.fail(f"a run on a full disk wrote its layer: {r!r}")
    assert r.code in (1, 125), r
    assert "No space left on device" in r.err + r.out, r
    assert wait_no_procs(g.bin, g.root) == []
    filler.unlink()
    assert g.run("run", "--writable-layer", "disk", small.ref, "sh", "-c",
                 "echo x > /new && cat /new").out == "x\n"
    g.run("system", "prune")
    check_store(g, "after the runs")
    assert names(g.root / "tmp") == set()
