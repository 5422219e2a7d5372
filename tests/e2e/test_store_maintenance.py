"""`system df --json` numbers and docker's table, `system prune` of unreferenced
blobs/layers/tmp leftovers, `system fsck` (and --repair) on a corrupted blob.

The `g` and `images` fixtures and the checks are in store_common.py (`g` keeps each layer's
blob beside its tree).
"""
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from conftest import tmp_entries
from store_common import (blob_names, check_consistent, check_image_intact, fsck_clean,
                          image_blobs, layer_names, read_json_blob, sha256_file)
from store_common import g, images  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------------------------
# df, prune, fsck
# --------------------------------------------------------------------------------------------

def df(g):
    return g.run("system", "df", "--json").json()


def blob_bytes(root, names):
    return sum(os.path.getsize(Path(root) / "blobs" / "sha256" / n) for n in names)


def layer_tar_bytes(*samples):
    seen = {}
    for s in samples:
        for l in s.img.layers:
            seen[l.diff_id] = len(l.tar_bytes())
    return seen


def test_df_numbers(g, images):
    a, b = images["a"], images["b"]
    u = df(g)
    assert u["images"] == 0
    assert (u["blobs"]["count"], u["blobs"]["bytes"]) == (0, 0)
    assert (u["layers"]["count"], u["layers"]["bytes"]) == (0, 0)
    assert u["tmp_bytes"] == 0
    assert Path(u["root"]) == g.root

    g.run("load", a.oci)
    g.run("load", b.docker)
    ablobs, _ = image_blobs(g.root, g.refs()[a.oci_ref])
    bblobs, _ = image_blobs(g.root, g.refs()[b.docker_ref])
    sizes = layer_tar_bytes(a, b)
    u = df(g)
    assert u["images"] == 2
    assert u["blobs"]["count"] == len(ablobs | bblobs) == 8  # 2 manifests, 2 configs, 4 layers
    assert u["blobs"]["bytes"] == blob_bytes(g.root, ablobs | bblobs)
    assert u["blobs"]["bytes"] >= sum(len(l.blob()) for l in a.img.layers)
    assert (u["blobs"]["unused"], u["blobs"]["unused_bytes"]) == (0, 0)
    assert u["layers"]["count"] == len(sizes) == 4
    assert u["layers"]["bytes"] == sum(sizes.values())
    assert (u["layers"]["unused"], u["layers"]["unused_bytes"]) == (0, 0)

    # a second name for b is not a second image
    g.run("tag", b.docker_ref, "docker.io/library/other:2")
    assert df(g)["images"] == 2

    # drop a's reference behind gantry's back (as a crash after untagging would): its own
    # blobs and layer become unused, the shared ones do not
    refs = json.loads((g.root / "refs.json").read_text())
    del refs["refs"][a.oci_ref]
    (g.root / "refs.json").write_text(json.dumps(refs))
    only_a = ablobs - bblobs
    u = df(g)
    assert u["images"] == 1
    assert u["blobs"]["count"] == len(ablobs | bblobs)
    assert u["blobs"]["unused"] == len(only_a) == 3
    assert u["blobs"]["unused_bytes"] == blob_bytes(g.root, only_a)
    assert u["layers"]["unused"] == 1
    assert u["layers"]["unused_bytes"] == len(a.img.layers[-1].tar_bytes())

    # rmi frees b's own content right away; the shared layers stay while a's tree lingers
    g.run("load", a.oci)
    g.run("rmi", b.docker_ref, "docker.io/library/other:2")
    u = df(g)
    assert u["images"] == 1
    assert u["blobs"]["count"] == len(ablobs)
    assert blob_names(g.root) == ablobs
    assert (u["blobs"]["unused"], u["blobs"]["unused_bytes"]) == (0, 0)
    assert u["layers"]["count"] == 3 and u["layers"]["unused"] == 0

    # temporary leftovers are counted
    (g.root / "tmp" / "blob-leftover").write_bytes(os.urandom(100_000))
    assert df(g)["tmp_bytes"] >= 100_000


def test_df_in_dockers_shape_and_verbose(g, images):
    """docker's columns (TYPE TOTAL ACTIVE SIZE RECLAIMABLE), a row per kind of space, and -v's
    per-image table: SIZE is the image's unpacked size, as `images` shows it."""
    a = images["a"]
    g.run("load", a.oci)
    lines = g.run("system", "df").out.splitlines()
    assert lines[1].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], lines
    kinds = [ln.split("  ")[0] for ln in lines[2:]]
    assert kinds == ["Images", "Blobs", "Layer trees", "Lazy caches", "Squashfs cache",
                     "Build Cache", "Kernel caches", "Temporary"], lines
    assert lines[2].split()[1:3] == ["1", "0"]  # one image, no container uses it
    v = g.run("system", "df", "-v").out
    assert "Images space usage:" in v and "Build cache usage: 0 B" in v, v
    repo = a.oci_ref.split(":")[0]  # localhost/shared-a
    listed = next(ln for ln in g.run("images").out.splitlines() if ln.startswith(repo + " "))
    size = " ".join(listed.split()[-2:])  # SIZE: "1.23 MB"
    row = next(ln for ln in v.splitlines() if ln.startswith(repo + " "))
    assert row.split()[:2] == [repo, "latest"] and f"  {size}  " in row, (size, row)


def test_prune_removes_only_unreferenced(g, images):
    a, small = images["a"], images["small"]
    g.run("load", a.oci)
    g.run("load", small.docker)
    keep_blobs, keep_layers = image_blobs(g.root, g.refs()[a.oci_ref])
    # small becomes unreferenced behind gantry's back
    refs = json.loads((g.root / "refs.json").read_text())
    del refs["refs"][small.docker_ref]
    (g.root / "refs.json").write_text(json.dumps(refs))
    small_blobs = blob_names(g.root) - keep_blobs
    assert len(small_blobs) == 3
    # a stray blob, a stray (complete) layer tree, and tmp/ leftovers of a crashed command
    stray = b"a stray blob nobody references\n"
    stray_hex = hashlib.sha256(stray).hexdigest()
    (g.root / "blobs" / "sha256" / stray_hex).write_bytes(stray)
    stray_layer = g.root / "layers" / "sha256" / ("ab" * 32)
    (stray_layer / "rootfs" / "d").mkdir(parents=True)
    (stray_layer / "rootfs" / "d" / "f").write_text("x")
    (stray_layer / "meta.json").write_text(json.dumps({"diff_id": "sha256:" + "ab" * 32}))
    tmp = g.root / "tmp"
    (tmp / "layer-12345-0-1" / "rootfs" / "usr").mkdir(parents=True)
    (tmp / "layer-12345-0-1" / "rootfs" / "usr" / "f").write_bytes(b"x" * 5000)
    os.chmod(tmp / "layer-12345-0-1" / "rootfs" / "usr", 0o500)  # prune must cope with this
    (tmp / "blob-12345-1-1").write_bytes(b"half a blob")
    before = df(g)
    assert before["blobs"]["unused"] == len(small_blobs) + 1
    assert before["layers"]["unused"] == 2
    assert before["tmp_bytes"] > 0

    res = g.run("system", "prune")
    assert re.search(r"Removed 4 blob\(s\), 2 layer tree\(s\), 2 temporary entr", res.out), res
    # docker's words: each deleted object, then the total
    assert "deleted: sha256:" + stray_hex in res.out and "deleted: sha256:" + "ab" * 32 in res.out
    assert re.search(r"^Total reclaimed space: [0-9.]+[kMG]?B$", res.out, re.M), res.out
    assert blob_names(g.root) == keep_blobs
    assert layer_names(g.root) == keep_layers
    assert tmp_entries(g.root) == []
    u = df(g)
    assert (u["blobs"]["unused"], u["layers"]["unused"], u["tmp_bytes"]) == (0, 0, 0)
    check_consistent(g)
    check_image_intact(g, a, "oci-archive")
    # nothing left to do the second time
    res = g.run("system", "prune")
    assert re.search(r"Removed 0 blob\(s\), 0 layer tree\(s\), 0 temporary entr", res.out), res
    check_image_intact(g, a, "oci-archive")


@pytest.mark.parametrize("which", ["layer", "config", "manifest"])
def test_fsck_detects_and_repairs_corrupt_blob(g, images, which):
    big = images["big"]
    g.run("load", big.oci)
    md = g.refs()[big.oci_ref]
    m = read_json_blob(g.root, md)
    target = {"manifest": md, "config": m["config"]["digest"],
              "layer": m["layers"][2]["digest"]}[which].split(":")[1]
    p = g.root / "blobs" / "sha256" / target
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x5A
    os.chmod(p, 0o644)
    p.write_bytes(bytes(data))
    actual = hashlib.sha256(data).hexdigest()

    res = g.run("system", "fsck", check=False)
    assert res.code != 0, f"fsck missed a corrupt blob: {res!r}"
    assert res.code == 4, res
    assert f"sha256:{target}" in res.out + res.err, res
    assert f"sha256:{actual}" in res.out + res.err, res
    res = g.run("system", "fsck", "--json", check=False)
    assert res.code == 4
    probs = [pr for pr in res.json()["problems"] if pr["kind"] == "corrupt-blob"]
    assert [pr["object"] for pr in probs] == [f"sha256:{target}"]
    assert actual in probs[0]["detail"]
    assert p.exists(), "fsck without --repair must not remove anything"

    res = g.run("system", "fsck", "--repair", "--json", check=False)
    probs = [pr for pr in res.json()["problems"] if pr["kind"] == "corrupt-blob"]
    assert [(pr["object"], pr["repaired"]) for pr in probs] == [(f"sha256:{target}", True)], res
    assert not p.exists(), "--repair must remove the corrupt blob"
    # the image is still broken until it is loaded again: fsck says so
    res = g.run("system", "fsck", check=False)
    assert res.code != 0 and target in res.out, res
    assert g.run("images", check=False).code == 0

    g.run("load", big.oci)
    check_consistent(g, "after reload")
    check_image_intact(g, big, "oci-archive")
    assert sha256_file(p) == target


def test_fsck_clean_store(g, images):
    g.run("load", images["small"].oci)
    rep = fsck_clean(g)
    assert rep["blobs_checked"] == len(blob_names(g.root)) == 3
    assert rep["bytes_checked"] == blob_bytes(g.root, blob_names(g.root))
