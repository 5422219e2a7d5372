"""Lazy images where users meet them beyond `gantry run` (issue 40): `gantry rm -f` of a
detached lazy container returns only once its monitor, FUSE server and every holder of the
image's local copies are gone, without making store layers first (a later pull does); `gantry
bundle --pull lazy` writes a bundle whose root `gantry oci` serves from the registry, from a
monitor that ends with the container. The registry and the eStargz image are test_lazy_pull.py's
fixtures."""
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import NOBODY, need_tool
from ocidiff import edit_config, oci, oci_bin, set_process  # noqa: F401 (fixture)
from test_lazy_pull import (LIST, INSECURE, lazy_ref, no_leftovers, proxy,  # noqa: F401
                            push_image, pushed, reg)
from test_lazy_squashfs_artifact import artifact  # noqa: F401 (fixture)


@pytest.fixture(scope="module", autouse=True)
def _tools():
    need_tool("docker-registry")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")


def test_rm_f_right_after_a_detached_lazy_start_leaves_nothing(g, pushed, proxy, fuse_open):
    """rm -f at once after `run -d`: when rm returns, nothing is mounted and no process holds
    the store's files (the monitor's exit is awaited, and it makes no store layer of a removed
    container's copies); the image stays a lazy one, which a later pull completes."""
    ref, _ = pushed
    lref = lazy_ref(ref, proxy)
    for _ in range(3):
        g.run("run", "-d", "--name", "lazy-rm", "--pull", "lazy", INSECURE, lref, "sleep", "60")
        g.run("rm", "-f", "lazy-rm")
        no_leftovers(g.root)
        assert mine(g, "lazy-rm", "-a") == []
    (img,) = json.loads(g.run("images", "--json").out)
    assert "lazy" in img, img  # abandoned, not half made into a store image
    g.run("pull", INSECURE, lref)
    (img,) = json.loads(g.run("images", "--json").out)
    assert "lazy" not in img, img
    assert g.run("run", "--rm", lref, "cat", "/data/small.txt").out == "hello lazy\n"


@pytest.fixture(scope="module")
def pushed_big(reg, tmp_path_factory, gantry_bin):
    """An eStargz image with a 48 MiB incompressible file: its conversion into a store image
    takes long enough to be caught in the middle."""
    from fixtures import mkimage
    big = mkimage.Layer([mkimage.Entry.file("big.bin", random.Random(41).randbytes(48 << 20))])
    ref = f"{reg.addr}/lazy/big:1"
    push_image(tmp_path_factory.mktemp("push-big"), mkimage.busybox_image(extra_layers=[big]),
               ref, "estargz")
    return ref


def monitor_of(name):
    """The pid of the detached container NAME's monitor: a gantry leading its own session,
    started by `run -d --name NAME`."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        session = int(stat[stat.rindex(")") + 2:].split()[3])
        if name.encode() in cmdline and b"-d" in cmdline and session == int(pid):
            return int(pid)
    raise AssertionError(f"no monitor of {name}")


def mine(g, name, *flags):
    """`ps --json`'s rows of container NAME: as root every test's containers share /run/gantry,
    and another test file on the other xdist worker may have one running."""
    return [c for c in json.loads(g.run("ps", *flags, "--json").out) if c["name"] == name]


def test_rm_of_an_exited_lazy_container_abandons_the_conversion(g, pushed_big, proxy, fuse_open):
    """A detached lazy container that ended by itself, its monitor in the middle of making the
    local copies store layers: `gantry rm` marks it and the monitor stops that work at its next
    16 MiB (rm waited up to 10 s for the whole conversion before). When rm returns nothing holds
    the store's files, nothing half-made is left in tmp/, the image is still lazy, and a later
    pull completes it. The monitor is stopped (SIGSTOP) once the conversion has begun, so the
    mark surely comes in the middle of it: without the check the conversion ends and the image
    is a store image."""
    lref = lazy_ref(pushed_big, proxy)
    name = "lazy-conv"
    g.run("run", "-d", "--name", name, "--pull", "lazy", INSECURE, lref, "sleep", "60")
    monitor = monitor_of(name)
    deadline = time.monotonic() + 120
    while True:  # the background prefetch makes every layer local
        (c,) = mine(g, name)
        if c["lazy"]["local"] == c["lazy"]["total"]:
            break
        assert time.monotonic() < deadline, c
        time.sleep(0.05)
    os.kill(c["pid"], signal.SIGKILL)  # the container ends by itself, as far as gantry knows
    tmp = g.root / "tmp"
    while not (tmp.is_dir() and any(tmp.iterdir())):  # the conversion has begun
        assert time.monotonic() < deadline, "the monitor never began the conversion"
        time.sleep(0.001)
    os.kill(monitor, signal.SIGSTOP)
    rm = subprocess.Popen(g.cmd("rm", name), env=g.environ(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        while mine(g, name, "-a")[0]["status"] != "removing":
            assert time.monotonic() < deadline and rm.poll() is None, rm.communicate()
            time.sleep(0.01)
    finally:
        os.kill(monitor, signal.SIGCONT)
    out, err = rm.communicate(timeout=60)
    assert rm.returncode == 0, err
    no_leftovers(g.root)
    assert list(tmp.iterdir()) == [], "the abandoned layer was left half-made"
    assert mine(g, name, "-a") == []
    (img,) = json.loads(g.run("images", "--json").out)
    assert "lazy" in img, img  # abandoned, not made into a store image
    g.run("pull", INSECURE, lref)
    (img,) = json.loads(g.run("images", "--json").out)
    assert "lazy" not in img, img
    assert g.run("run", "--rm", lref, "wc", "-c", "/big.bin").out.split()[0] == str(48 << 20)


def test_rm_f_of_a_lazy_squashfs_artifact_makes_no_cache_entry(g, artifact, proxy, fuse_open):
    """The same for gantry's squashfs artifact: its copy complete (the background fetch), rm -f
    leaves nothing running or mounted and makes no .sqsh cache entry; a pull then makes it."""
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    lref = lazy_ref(ref, proxy)
    g.run("run", "-d", "--name", "lazy-sq", "--pull", "lazy", INSECURE, lref, "sleep", "60")
    copy = g.root / "lazy" / "blobs" / blob["digest"][7:]

    def whole():
        with open(copy, "rb") as f:
            return os.lseek(f.fileno(), 0, os.SEEK_HOLE) >= blob["size"]
    deadline = time.monotonic() + 60
    while not whole():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    g.run("rm", "-f", "lazy-sq")
    no_leftovers(g.root)
    assert not list(g.root.glob("sqsh-cache/sqsh/*.sqsh"))
    g.run("pull", INSECURE, lref)
    assert list(g.root.glob("sqsh-cache/sqsh/*.sqsh"))


def test_oci_serves_a_lazy_bundle_and_delete_leaves_nothing(g, pushed, proxy, fuse_open, oci_bin,
                                                           tmp_path):
    """`gantry bundle --pull lazy`: an empty rootfs and gantry's annotations; `gantry oci`
    create/start serves the root from the registry (Range requests), the process sees the same
    tree as a fully pulled bundle's, and delete returns once nothing is mounted or running."""
    ref, _ = pushed
    lref = lazy_ref(ref, proxy)
    b = tmp_path / "lazy-bundle"
    g.run("bundle", "--pull", "lazy", INSECURE, lref, b)
    set_process(b, ["sh", "-c", LIST])
    cfg = json.loads((b / "config.json").read_text())
    assert cfg["annotations"]["io.gantry.lazy.image"].endswith("lazy/img:1")
    assert cfg["annotations"]["io.gantry.lazy.store"] == str(g.root)
    assert os.listdir(b / "rootfs") == []
    root = tmp_path / "state"
    proxy.clear_log()
    lazy = oci(oci_bin, root, "run", "--bundle", b, "lz1")
    assert any(r.get("range") and "/blobs/" in r["path"] for r in proxy.requests())
    no_leftovers(g.root)  # run deletes the container: its monitor and server are gone
    # the same bundle fully pulled: the same files, owners, modes, links and contents
    g.run("pull", INSECURE, ref)
    full = tmp_path / "full-bundle"
    g.run("bundle", ref, full)
    set_process(full, ["sh", "-c", LIST])
    assert oci(oci_bin, root, "run", "--bundle", full, "full1").stdout == lazy.stdout
    assert "data/small.txt" in lazy.stdout and "data/dir/new.txt" in lazy.stdout

    # create/start/delete -f of a running one: nothing left when delete returns
    edit_config(b, lambda c: c["process"].update(args=["sleep", "60"]))
    with open(tmp_path / "out", "w") as out:
        subprocess.run([str(oci_bin), "--root", str(root), "create", "--bundle", str(b), "lz2"],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60, check=True)
    oci(oci_bin, root, "start", "lz2")
    assert oci(oci_bin, root, "exec", "lz2", "cat", "/data/small.txt").stdout == "hello lazy\n"
    oci(oci_bin, root, "delete", "--force", "lz2")
    no_leftovers(g.root)


def test_oci_refuses_gantry_annotations_it_does_not_know(oci_bin, g, mk, tmp_path):
    """An io.gantry.* annotation gantry oci does not honour is refused, naming it; so is a lazy
    image without its store."""
    from conftest import load_busybox
    b = tmp_path / "b"
    g.run("bundle", load_busybox(g, mk, tmp_path), b)
    root = tmp_path / "state"
    edit_config(b, lambda c: c.setdefault("annotations", {}).update({"io.gantry.lazy.imag": "x"}))
    r = oci(oci_bin, root, "run", "--bundle", b, "a1", check=False)
    assert r.returncode == 1 and "io.gantry.lazy.imag" in r.stderr, r
    edit_config(b, lambda c: c.update(annotations={"io.gantry.lazy.image": "x/y:1"}))
    r = oci(oci_bin, root, "run", "--bundle", b, "a2", check=False)
    assert r.returncode == 1 and "io.gantry.lazy.store" in r.stderr, r
    r = g.fail("bundle", "--pull", "always", "x/y:1", tmp_path / "b2", code=2)
    assert "--pull lazy" in r.err


def test_oci_serves_a_lazy_bundle_rootless(rootless, pushed, proxy, fuse_open):
    """The same as an unprivileged user: its own store, bundle and `gantry oci` root."""
    ref, _ = pushed
    b = rootless.base / "b"
    rootless.run("bundle", "--pull", "lazy", INSECURE, lazy_ref(ref, proxy), b)
    set_process(b, ["cat", "/data/small.txt"])
    if os.geteuid() == 0:  # set_process wrote it as root
        os.chown(b / "config.json", NOBODY.pw_uid, NOBODY.pw_gid)
    r = rootless.run("oci", "--root", rootless.base / "state", "run", "--bundle", b, "r1")
    assert r.out == "hello lazy\n"
    no_leftovers(rootless.root)
