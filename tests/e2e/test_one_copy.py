"""One copy of a layer (docs/storage.md, "One copy of a layer"): a loaded or pulled layer is kept
as its tree and tar-split, not also as its compressed blob; save, push and migrate give back the
same diff_ids; a registry that has the original blob gets no layer bytes; store.keep_compressed
keeps both copies; a tree changed behind gantry's back is named."""
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import Gantry, need_tool
from fixtures.registry.harness import Proxy, Registry, skopeo_push

INSECURE = "--tls-verify=false"


def image_with_odd_entries(mk):
    """busybox plus a layer of hard links, symbolic links, long names, an empty file, a file of
    several MiB and whiteouts."""
    E = mk.Entry
    long_dir = "d" * 120
    layer = mk.Layer([
        E.dir("data"), E.file("data/empty", b""), E.file("data/big", os.urandom(3 << 20)),
        E.file("data/hello", b"hello\n"), E.hardlink("data/hard", "data/hello"),
        E.symlink("data/link", "hello"), E.dir(long_dir),
        E.file(long_dir + "/" + "f" * 150, b"long\n"),
        E.dir("etc"), E.whiteout("etc/gone"), E.dir("opt"), E.opaque("opt"),
    ], sort=False)
    return mk.busybox_image(extra_layers=[layer])


def layer_blobs(root, ref_manifest):
    """The manifest's layer digests that are files in blobs/."""
    m = json.loads((root / "blobs/sha256" / ref_manifest[7:]).read_text())
    return [l["digest"] for l in m["layers"] if (root / "blobs/sha256" / l["digest"][7:]).exists()]


def diff_ids(g, ref):
    """The image's diff_ids, from its config in the store (REF as refs.json spells it)."""
    refs = g.refs()
    md = refs.get(ref) or refs["docker.io/library/" + ref]
    m = json.loads((g.root / "blobs/sha256" / md[7:]).read_text())
    cfg = json.loads((g.root / "blobs/sha256" / m["config"]["digest"][7:]).read_text())
    return cfg["rootfs"]["diff_ids"]


def keep_config(tmp_path, keep=True):
    p = tmp_path / "config.yaml"
    p.write_text(f"store:\n  keep_compressed: {'true' if keep else 'false'}\n")
    return {"GANTRY_CONFIG": str(p)}


@pytest.fixture
def loaded(g, mk, tmp_path):
    img = image_with_odd_entries(mk)
    archive = tmp_path / "in.tar"
    mk.write_docker_archive(archive, [(img, ["one:copy"])], layer_compression="gzip")
    g.run("load", archive)
    return img


def test_load_keeps_one_copy_and_save_load_gives_the_same_diff_ids(g, loaded, tmp_path):
    md = g.refs()["docker.io/library/one:copy"]
    assert layer_blobs(g.root, md) == []  # no layer blob: trees and tar-splits only
    want = [l.diff_id for l in loaded.layers]
    assert diff_ids(g, "one:copy") == want
    for d in want:
        layer = g.root / "layers/sha256" / d[7:]
        assert (layer / "tar-split.json.zst").exists()
        meta = json.loads((layer / "meta.json").read_text())
        assert meta["blob_kept"] is False and meta["blob_size"] > 0, meta
    for fmt in ("docker-archive", "oci-archive"):
        out = tmp_path / f"out-{fmt}.tar"
        r = g.run("save", "--format", fmt, "-o", out, "one:copy")
        if fmt == "oci-archive":
            assert "written uncompressed" in r.err and "manifest is" in r.err
            if shutil.which("skopeo"):  # a peer tool reads it
                subprocess.run(["skopeo", "inspect", f"oci-archive:{out}"], check=True,
                               capture_output=True)
        g2 = Gantry(tmp_path / f"store-{fmt}")
        g2.run("load", out)
        assert diff_ids(g2, "one:copy") == want, fmt
        # the layers saved are the exact tars: their sha256 is the diff_id
        with tarfile.open(out) as t:
            names = set(t.getnames())
        assert any(d[7:] in n for d in want for n in names), names
    assert g.run("run", "--rm", "one:copy", "cat", "/data/hello").out == "hello\n"
    assert "0 problem(s)" in g.run("system", "fsck").out


def test_oci_save_load_save_is_stable_with_one_copy(g, loaded, tmp_path):
    """Layers kept unpacked are saved as their exact tars (digest = diff_id): loaded into
    another store and saved again, the archive is the same bytes."""
    s1, s2 = tmp_path / "s1.tar", tmp_path / "s2.tar"
    g.run("save", "--format", "oci-archive", "-o", s1, "one:copy")
    g2 = Gantry(tmp_path / "store2")
    g2.run("load", s1)
    g2.run("save", "--format", "oci-archive", "-o", s2, "one:copy")
    assert s1.read_bytes() == s2.read_bytes()
    assert diff_ids(g2, "one:copy") == [l.diff_id for l in loaded.layers]


def test_built_layers_keep_one_copy_and_save_load_gives_the_same_diff_ids(g, loaded, tmp_path):
    """FROM an image whose layers are kept unpacked: the layers the build writes (their blobs
    the layer writer's) keep one copy too once unpacked, with no `system migrate`; the step is
    still a cache hit; build -> save -> load gives the same diff_ids."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("built\n")
    (ctx / "Dockerfile").write_text("FROM one:copy\nCOPY f /f\nRUN cp /f /g\n")
    g.run("build", "-t", "built:1", ctx)
    assert g.run("run", "--rm", "built:1", "cat", "/g").out == "built\n"  # all unpacked
    md = g.refs()["docker.io/library/built:1"]
    assert layer_blobs(g.root, md) == []
    want = diff_ids(g, "built:1")
    for d in want:
        meta = json.loads((g.root / "layers/sha256" / d[7:] / "meta.json").read_text())
        assert meta["blob_kept"] is False, meta
    assert g.run("system", "migrate", "--json").json()["migrated"] == 0  # nothing left to do
    r = g.run("build", "-t", "built:2", ctx)
    assert "cached" in r.err + r.out, r
    assert "0 problem(s)" in g.run("system", "fsck").out
    out = tmp_path / "b.tar"
    g.run("save", "-o", out, "built:2")
    g2 = Gantry(tmp_path / "store2")
    g2.run("load", out)
    assert diff_ids(g2, "built:2") == want
    assert g2.run("run", "--rm", "built:2", "cat", "/g").out == "built\n"


def test_a_tree_changed_behind_gantrys_back_is_named(g, loaded, tmp_path):
    d = loaded.layers[1].diff_id
    f = g.root / "layers/sha256" / d[7:] / "rootfs/data/hello"
    f.write_bytes(b"HELLO\n")
    r = g.fail("save", "-o", tmp_path / "x.tar", "one:copy")
    assert d in r.err and "changed behind gantry's back" in r.err, r
    assert "pull or load the image again" in r.err
    assert not (tmp_path / "x.tar").exists()


def test_keep_compressed_keeps_both_and_migrate_drops_the_blobs(g, mk, tmp_path):
    img = image_with_odd_entries(mk)
    archive = tmp_path / "in.tar"
    mk.write_docker_archive(archive, [(img, ["keep:1"])], layer_compression="gzip")
    keep = Gantry(g.root, env=keep_config(tmp_path))
    keep.run("load", archive)
    md = g.refs()["docker.io/library/keep:1"]
    m = json.loads((g.root / "blobs/sha256" / md[7:]).read_text())
    assert layer_blobs(g.root, md) == [l["digest"] for l in m["layers"]]
    for l in img.layers:
        assert (g.root / "layers/sha256" / l.diff_id[7:] / "tar-split.json.zst").exists()
    # migrate with keep_compressed left set removes nothing; without it, the blobs go
    assert keep.run("system", "migrate", "--json").json()["bytes_freed"] == 0
    r = g.run("system", "migrate", "--json").json()
    assert r["migrated"] == len(img.layers) and r["bytes_freed"] > 0, r
    assert layer_blobs(g.root, md) == []
    assert "0 problem(s)" in g.run("system", "fsck").out
    out = tmp_path / "out.tar"
    g.run("save", "-o", out, "keep:1")
    g2 = Gantry(tmp_path / "store2")
    g2.run("load", out)
    assert diff_ids(g2, "keep:1") == [l.diff_id for l in img.layers]
    assert g.run("system", "migrate", "--json").json()["migrated"] == 0  # done already


def test_fsck_deep_checks_a_kept_layers_data_against_its_diff_id_and_names_the_blob_kept(
        g, mk, tmp_path):
    """With keep_compressed the tree is kept with its tar-split too (tree digest v2): a byte
    changed in a file, its size kept, is found by rebuilding the tar; the message does not
    claim the store has no other copy."""
    img = image_with_odd_entries(mk)
    archive = tmp_path / "in.tar"
    mk.write_docker_archive(archive, [(img, ["keep:1"])], layer_compression="gzip")
    keep = Gantry(g.root, env=keep_config(tmp_path))
    keep.run("load", archive)
    layer = g.root / "layers/sha256" / img.layers[0].diff_id[7:]
    meta = json.loads((layer / "meta.json").read_text())
    assert meta["blob_kept"] is True and meta["tree"]["scheme"] == "gantry-tree-v4", meta
    victim = max((p for p in (layer / "rootfs").rglob("*") if p.is_file() and not p.is_symlink()),
                 key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[0] ^= 0xFF
    with open(victim, "r+b") as f:  # in place: the same inode, size and mode
        f.write(bytes(data))
    r = keep.fail("system", "fsck", "--deep", "--json", code=4)
    [p] = [p for p in json.loads(r.out)["problems"] if p["kind"] == "damaged-layer"]
    assert p["object"] == img.layers[0].diff_id, p
    assert "its files' data no longer match its diff_id" in p["detail"], p
    assert "no other copy" not in p["detail"], p


def test_a_store_written_before_is_migrated(g, mk, tmp_path):
    """A store as gantry wrote it before this (blob + tree, no tar-split) migrates."""
    img = image_with_odd_entries(mk)
    archive = tmp_path / "in.tar"
    mk.write_docker_archive(archive, [(img, ["old:1"])], layer_compression="gzip")
    Gantry(g.root, env=keep_config(tmp_path)).run("load", archive)
    for l in img.layers:  # as before: no tar-split, no blob_kept
        d = g.root / "layers/sha256" / l.diff_id[7:]
        (d / "tar-split.json.zst").unlink()
        meta = json.loads((d / "meta.json").read_text())
        for k in ("tar_split", "blob_kept", "blob_size"):
            meta.pop(k, None)
        (d / "meta.json").write_text(json.dumps(meta))
    r = g.run("system", "migrate").out
    assert f"Migrated {len(img.layers)} of {len(img.layers)} layer(s)" in r, r
    md = g.refs()["docker.io/library/old:1"]
    assert layer_blobs(g.root, md) == []
    out = tmp_path / "out.tar"
    g.run("save", "-o", out, "old:1")
    g2 = Gantry(tmp_path / "store2")
    g2.run("load", out)
    assert diff_ids(g2, "old:1") == [l.diff_id for l in img.layers]


@pytest.fixture
def reg(tmp_path):
    need_tool("docker-registry")
    need_tool("skopeo")
    r = Registry(tmp_path / "reg").start()
    yield r
    r.stop()


@pytest.fixture
def proxy(tmp_path, reg):
    p = Proxy(tmp_path / "proxy", reg.addr).start()
    yield p
    p.kill()


def test_push_of_a_pulled_image_uploads_no_layer(tmp_path, mk, reg, proxy, gantry_bin):
    g = Gantry(tmp_path / "store", env={"HOME": str(tmp_path)})
    img = image_with_odd_entries(mk)
    mk.write_oci_layout(tmp_path / "src", [(img, ["v1"])])
    skopeo_push(tmp_path / "src", f"{reg.addr}/one/copy:v1", "v1")
    g.run("pull", INSECURE, f"{proxy.addr}/one/copy:v1")
    md = g.refs()[f"{proxy.addr}/one/copy:v1"]
    assert layer_blobs(g.root, md) == []
    proxy.clear_log()
    r = g.run("push", INSECURE, f"{proxy.addr}/one/copy:v1", f"{proxy.addr}/one/copy:v2")
    assert f"Digest: {md}" in r.out, r
    uploads = [q for q in proxy.requests()
               if q["method"] in ("PUT", "PATCH", "POST") and "/blobs/" in q["path"]]
    assert uploads == [], uploads
    # another registry has none of it: the layers are compressed again, the manifest is new
    reg2 = Registry(tmp_path / "reg2").start()
    try:
        r = g.run("push", INSECURE, f"{proxy.addr}/one/copy:v1", f"{reg2.addr}/other:v1")
        assert "compressed again" in r.err and f"the manifest pushed is new: {md} -> " in r.err, r
        g2 = Gantry(tmp_path / "store2", env={"HOME": str(tmp_path)})
        g2.run("pull", INSECURE, f"{reg2.addr}/other:v1")
        assert diff_ids(g2, f"{reg2.addr}/other:v1") == [l.diff_id for l in img.layers]
    finally:
        reg2.stop()


def test_a_slimmed_image_keeps_one_copy_and_pushes(g, loaded, tmp_path, reg):
    """slim writes its layer with the layer writer: once unpacked, its blob goes too; pushed to
    a registry that does not have it, the layer is compressed again into the very same blob (the
    layer writer's settings and tar blocks), so the manifest pushed is the image's own; pulled
    back, the same diff_ids."""
    g.run("slim", "one:copy", "-t", "one:slim", "--remove-path", "/data/big")
    assert g.run("run", "--rm", "one:slim", "cat", "/data/hello").out == "hello\n"
    md = g.refs()["docker.io/library/one:slim"]
    assert layer_blobs(g.root, md) == []
    want = diff_ids(g, "one:slim")
    r = g.run("push", INSECURE, "one:slim", f"{reg.addr}/one/slim:v1")
    assert "compressed again, into the same blob" in r.err, r
    assert "manifest pushed is new" not in r.err, r
    assert f"Digest: {md}" in r.out, r
    g2 = Gantry(tmp_path / "store2", env={"HOME": str(tmp_path)})
    g2.run("pull", INSECURE, f"{reg.addr}/one/slim:v1")
    assert diff_ids(g2, f"{reg.addr}/one/slim:v1") == want
