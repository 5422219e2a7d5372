"""The content-addressed store under kill -9 and under concurrent commands.

(1) `gantry load` killed with SIGKILL at many moments leaves a store every later command reads
    without error: fsck clean, no reference to a missing blob, no half-written blob or layer.
(2) Two loads of one image at once, and a load racing an `rmi` of an image sharing its layers,
    both complete and leave one copy of each blob and one tree per diffID.

The `g` and `images` fixtures and the checks are in store_common.py (`g` keeps each layer's
blob beside its tree).
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import tmp_entries
from fixtures import mkimage as mk
from store_common import (blob_names, check_consistent, check_image_intact, fsck_clean,
                          image_blobs, layer_names)
from store_common import g, images  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------------------------
# (1) crash safety
# --------------------------------------------------------------------------------------------

# kill points: fixed moments (ms after start) plus fractions of a measured full load, so the
# kills spread over the whole load whatever the machine's speed
FIXED_DELAYS_MS = {"oci-archive": [5, 50, 200], "docker-archive": [2, 20, 100]}
LOAD_FRACTIONS = {"oci-archive": [0.25, 0.55, 0.85], "docker-archive": [0.1, 0.4, 0.7]}


def kill_after(g, delay_ms, *args):
    p = g.popen(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_ms / 1000)
    p.send_signal(signal.SIGKILL)
    return p.wait(timeout=60)


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_kill9_during_load(g, images, fmt):
    big = images["big"]
    archive = big.archive(fmt)
    t0 = time.monotonic()
    g.run("load", archive)
    full_ms = (time.monotonic() - t0) * 1000
    delays = FIXED_DELAYS_MS[fmt] + [f * full_ms for f in LOAD_FRACTIONS[fmt]]
    interrupted = 0
    for delay in delays:
        shutil.rmtree(g.root, ignore_errors=True)
        rc = kill_after(g, delay, "load", archive)
        assert rc in (0, -signal.SIGKILL), rc
        interrupted += rc == -signal.SIGKILL
        check_consistent(g, f"after kill at {delay} ms")
        # a second crash on top of the first one's debris
        rc = kill_after(g, delay / 2, "load", archive)
        interrupted += rc == -signal.SIGKILL
        check_consistent(g, f"after second kill at {delay / 2} ms")
        # the next load completes the image
        g.run("load", archive)
        check_consistent(g, f"after reload ({delay} ms)")
        check_image_intact(g, big, fmt)
        g.run("system", "prune")
        assert tmp_entries(g.root) == [], f"prune left {tmp_entries(g.root)}"
        check_consistent(g, f"after prune ({delay} ms)")
    assert interrupted >= 3, \
        f"only {interrupted} kills hit a running load: the test did not exercise crashes"


def test_kill9_during_rmi_and_prune(g, images):
    big = images["big"]
    for delay in [1, 3, 6, 10, 20]:
        g.run("load", big.oci)
        (g.root / "tmp" / "leftover").mkdir(parents=True, exist_ok=True)
        (g.root / "tmp" / "leftover" / "junk").write_bytes(os.urandom(1 << 20))
        kill_after(g, delay, "rmi", big.oci_ref)
        check_consistent(g, f"after rmi killed at {delay} ms")
        kill_after(g, delay, "system", "prune")
        check_consistent(g, f"after prune killed at {delay} ms")
        g.run("system", "prune")
        assert tmp_entries(g.root) == []
        if big.oci_ref not in g.refs():
            assert blob_names(g.root) == set() and layer_names(g.root) == set()
        else:
            check_image_intact(g, big, "oci-archive")
    g.run("load", big.oci)
    check_image_intact(g, big, "oci-archive")


# --------------------------------------------------------------------------------------------
# (2) concurrency
# --------------------------------------------------------------------------------------------

def run_together(procs_args, g, stagger=0.0):
    procs = []
    for i, args in enumerate(procs_args):
        if i and stagger:
            time.sleep(stagger)
        procs.append(g.popen(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        o, e = p.communicate(timeout=120)
        out.append((p.returncode, o, e))
    return out


@pytest.mark.parametrize("pair", [("oci-archive", "oci-archive"),
                                  ("docker-archive", "docker-archive"),
                                  ("oci-archive", "docker-archive")])
def test_two_loads_of_one_image_at_once(g, images, pair):
    big = images["big"]
    for it in range(3):
        shutil.rmtree(g.root, ignore_errors=True)
        fa, fb = pair if it % 2 == 0 else pair[::-1]
        results = run_together([("load", big.archive(fa)), ("load", big.archive(fb))], g)
        for rc, o, e in results:
            assert rc == 0, f"iteration {it}: concurrent load failed: {o}\n{e}"
        check_consistent(g, f"iteration {it}")
        for f in {fa, fb}:
            check_image_intact(g, big, f)
        # exactly one copy of each blob, one tree per diffID, nothing left in tmp/
        want = set()
        for md in set(g.refs().values()):
            want |= image_blobs(g.root, md)[0]
        assert set(g.refs()) == {big.ref(fa), big.ref(fb)}
        assert blob_names(g.root) == want, f"extra blobs: {blob_names(g.root) - want}"
        assert layer_names(g.root) == big.diff_ids
        assert tmp_entries(g.root) == [], f"iteration {it}: tmp/ holds {tmp_entries(g.root)}"


def test_load_while_rmi_of_image_sharing_layers(g, images):
    a, b = images["a"], images["b"]
    unique_layer = {"a": a.img.layers[-1], "b": b.img.layers[-1]}
    g.run("load", a.docker)
    have, other = "a", "b"
    staggers = [0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.0, 0.008]
    for it, stagger in enumerate(staggers):
        s_have, s_other = images[have], images[other]
        fmt = "docker-archive" if it % 3 else "oci-archive"
        rmi = ("rmi", s_have.docker_ref)
        load = ("load", s_other.archive(fmt))
        order = [rmi, load] if it % 2 == 0 else [load, rmi]
        results = run_together(order, g, stagger)
        for (rc, o, e), args in zip(results, order):
            assert rc == 0, f"iteration {it}: {' '.join(map(str, args))} failed: {o}\n{e}"
        check_consistent(g, f"iteration {it}")
        assert set(g.refs()) == {s_other.ref(fmt)}, g.refs()
        blobs, diffs = check_image_intact(g, s_other, fmt)
        fsck_clean(g)
        # the removed image's own content is gone, the shared layers stay
        assert unique_layer[have].diff_id.split(":")[1] not in layer_names(g.root)
        assert unique_layer[have].digest.split(":")[1] not in blob_names(g.root)
        assert blob_names(g.root) == blobs, "rmi left blobs behind or load lost some"
        assert layer_names(g.root) == diffs
        assert tmp_entries(g.root) == []
        # the next round removes what we just loaded (always by its docker name)
        if fmt == "oci-archive":
            g.run("tag", s_other.oci_ref, s_other.docker_ref)
            g.run("rmi", s_other.oci_ref)
        have, other = other, have


def test_load_while_prune_runs(g, images):
    """prune waits for a running load (or the load for prune): neither breaks the other."""
    big = images["big"]
    for it, stagger in enumerate([0.0, 0.01, 0.03, 0.0]):
        shutil.rmtree(g.root, ignore_errors=True)
        g.run("load", images["small"].oci)  # something to keep
        refs = json.loads((g.root / "refs.json").read_text())
        refs["refs"].clear()  # ... and then make it garbage
        (g.root / "refs.json").write_text(json.dumps(refs))
        (g.root / "tmp" / "leftover-dir").mkdir()
        (g.root / "tmp" / "leftover-dir" / "f").write_bytes(b"x" * 1000)
        order = [("load", big.oci), ("system", "prune")]
        if it % 2:
            order.reverse()
        for (rc, o, e), args in zip(run_together(order, g, stagger), order):
            assert rc == 0, f"iteration {it}: {' '.join(map(str, args))} failed: {o}\n{e}"
        check_consistent(g, f"iteration {it}")
        blobs, diffs = check_image_intact(g, big, "oci-archive")
        assert blob_names(g.root) == blobs and layer_names(g.root) == diffs
        assert tmp_entries(g.root) == []


def test_rootless_rmi_and_prune_remove_read_only_trees(rootless, images):
    """Layer trees with read-only directories are still removed by their rootless owner."""
    E = mk.Entry
    layer = mk.Layer([E.dir("ro", mode=0o555), E.file("ro/f", "x\n", mode=0o444),
                      E.dir("ro/sub", mode=0o500), E.file("ro/sub/g", "y\n", mode=0o400),
                      E.dir("none", mode=0o000), E.file("none/h", "z\n")],
                     compression="gzip", sort=False)
    img = mk.Image([layer])
    archive = rootless.base / "ro.tar"
    mk.write_oci_archive(archive, img, tags="latest")
    os.chmod(archive, 0o644)
    rootless.run("load", archive)
    rootfs = rootless.root / "layers" / "sha256" / layer.diff_id.split(":")[1] / "rootfs"
    assert stat.S_IMODE(os.stat(rootfs / "ro").st_mode) == 0o555
    assert stat.S_IMODE(os.stat(rootfs / "none").st_mode) == 0o000
    ref = next(iter(rootless.refs()))
    rootless.run("rmi", ref)
    assert layer_names(rootless.root) == set(), "rmi left the read-only layer tree"
    assert blob_names(rootless.root) == set()
    assert tmp_entries(rootless.root) == [], "rmi left a half-removed tree in tmp/"
    # the same through prune, after the reference vanished behind gantry's back
    rootless.run("load", archive)
    (rootless.root / "refs.json").write_text('{"refs": {}}')
    rootless.run("system", "prune")
    assert layer_names(rootless.root) == set() and blob_names(rootless.root) == set()
    assert tmp_entries(rootless.root) == []
    assert rootless.run("system", "fsck", "--json").json()["problems"] == []
