"""Bad input to `gantry load`: one clear error line naming the thing, a hint, the documented exit
code (docs/exit-codes.md) and no partial state in the store.

Every case runs against a store that already holds a good image (so refs.json exists and the
busybox layer is unpacked): after the failure refs.json is byte-for-byte unchanged, no layer
directory was added, tmp/ is empty and the store still answers `images`.
"""
import gzip
import json
import hashlib
import os
import random
import subprocess

import pytest

from conftest import tmp_entries
from fixtures import mkimage as mk

NOT_FOUND, INVALID, IO, UNSUPPORTED = 3, 4, 6, 7


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def layer_dirs(root):
    d = root / "layers" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def snapshot(g):
    refs = g.root / "refs.json"
    return {"refs": refs.read_bytes() if refs.exists() else None, "layers": layer_dirs(g.root)}


def assert_no_partial_state(g, before):
    after = snapshot(g)
    assert after["refs"] == before["refs"], "refs.json changed"
    new = sorted(set(after["layers"]) - set(before["layers"]))
    assert new == [], f"new layer directories: {new}"
    assert after["layers"] == before["layers"], "layer directories went missing"
    assert tmp_entries(g.root) == [], f"tmp/ not empty: {tmp_entries(g.root)}"
    # the store is still readable
    assert g.run("images", "--json").json() is not None


def assert_clear_error(res, *names):
    """One 'gantry: error:' line naming every one of `names`, then a 'hint:' line."""
    lines = res.err.splitlines()
    assert lines, res
    errors = [ln for ln in lines if ln.startswith("gantry: error: ")]
    assert len(errors) == 1 and lines[0] == errors[0], f"want one error line first: {res!r}"
    first = errors[0]
    for n in names:
        assert str(n) in first, f"error line does not name {n!r}: {res!r}"
    hints = [ln for ln in lines if ln.startswith("hint: ") and len(ln) > len("hint: ")]
    assert hints, f"no hint line telling what to do: {res!r}"
    assert "internal error" not in res.err
    assert res.out == "", f"nothing should be reported as loaded: {res!r}"


def expect_load_failure(g, path, code, *names, args=()):
    before = snapshot(g)
    res = g.fail("load", path, *args, code=code)
    assert_clear_error(res, *names)
    assert_no_partial_state(g, before)
    return res


def wrong(digest):
    """What mkimage writes in place of a correct digest."""
    return mk._wrong_digest(digest)


def hexof(d):
    return d.split(":", 1)[1]


@pytest.fixture
def seeded(g, tmp_path):
    """The store holds docker.io/library/good:latest (busybox, gzip)."""
    good = tmp_path / "good.tar"
    mk.write_oci_archive(good, mk.busybox_image(compression="gzip"),
                         tags="docker.io/library/good:latest")
    g.run("load", good)
    assert list(g.refs()) == ["docker.io/library/good:latest"]
    return g


def extra_layer(compression="gzip"):
    return mk.Layer.from_files({"etc/bad": "the faulty layer\n" * 50}, compression=compression)


def faulty_image(fault, compression="gzip"):
    """busybox (already in the seeded store) + a second layer that the fault hits."""
    ex = extra_layer(compression)
    img = mk.busybox_image(compression=compression, extra_layers=[ex],
                           faults=frozenset([fault]))
    return img, ex


def write_oci(tmp_path, fmt, img, **kw):
    """Write the image as an OCI layout; also as an archive for oci-archive. Returns
    (path to load, index.json of the layout)."""
    layout = tmp_path / "layout"
    index = mk.write_oci_layout(layout, img, tags="latest", **kw)
    if fmt == "oci-dir":
        return layout, index
    path = tmp_path / "image.tar"
    mk.write_oci_archive(path, img, tags="latest", **kw)
    return path, index


def config_digest(img, diff_ids=None):
    return mk.sha256_digest(mk.canonical_json(img.config(diff_ids)))


# --------------------------------------------------------------------------------------------
# truncated archives
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", [0.5, 0.9, 0.02])
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_truncated_archive(seeded, tmp_path, fmt, where):
    img = mk.busybox_image(compression="gzip", extra_layers=[extra_layer()])
    path = tmp_path / "cut.tar"
    if fmt == "docker-archive":
        full = mk.write_docker_archive(path, [(img, ["cut:1"])])
    else:
        full = mk.write_oci_archive(path, img, tags="cut:1")
    n = int(len(full) * where)
    mk.truncate_file(path, n)
    res = expect_load_failure(seeded, path, INVALID, path)
    first = res.err.splitlines()[0]
    assert "truncated" in first or "corrupt" in first, res


def test_truncated_gzip_compressed_archive(seeded, tmp_path):
    img = mk.busybox_image(compression="none")
    data = mk.write_docker_archive(None, [(img, ["cut:1"])])
    z = gzip.compress(data, mtime=0)
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(z[: len(z) // 2])
    res = expect_load_failure(seeded, path, INVALID, path)
    assert "truncated" in res.err.splitlines()[0]


def test_truncated_oci_dir_blob(seeded, tmp_path):
    ex = extra_layer()
    img = mk.busybox_image(compression="gzip", extra_layers=[ex])
    layout = tmp_path / "layout"
    mk.write_oci_layout(layout, img, tags="latest")
    mk.truncate_file(layout / "blobs/sha256" / hexof(ex.digest), -10)
    expect_load_failure(seeded, layout, INVALID, ex.digest)


# --------------------------------------------------------------------------------------------
# wrong digests, sizes, diff_ids
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_wrong_layer_digest(seeded, tmp_path, fmt):
    img, ex = faulty_image("bad-layer-digest")
    path, _ = write_oci(tmp_path, fmt, img)
    # names the blob (as the manifest names it), the expected and the actual digest
    expect_load_failure(seeded, path, INVALID, wrong(ex.digest), ex.digest)


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_wrong_layer_size(seeded, tmp_path, fmt):
    img, ex = faulty_image("bad-layer-size")
    path, _ = write_oci(tmp_path, fmt, img)
    res = expect_load_failure(seeded, path, INVALID, ex.digest)
    assert str(len(ex.blob())) in res.err and str(len(ex.blob()) + 1) in res.err


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_wrong_config_digest(seeded, tmp_path, fmt):
    img, _ = faulty_image("bad-config-digest")
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, INVALID, wrong(config_digest(img)), config_digest(img))


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_wrong_diff_ids(seeded, tmp_path, fmt, compression):
    img, ex = faulty_image("bad-diff-ids", compression)
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, INVALID, wrong(ex.diff_id), ex.diff_id)


@pytest.mark.parametrize("fault", ["bad-diff-ids", "bad-layer-digest"])
@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_docker_archive_wrong_diff_ids(seeded, tmp_path, style, fault):
    img, ex = faulty_image(fault, "none")
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["bad:1"])], style=style)
    expect_load_failure(seeded, path, INVALID, path, wrong(ex.diff_id), ex.diff_id)


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive", "docker-archive"])
def test_short_diff_ids(seeded, tmp_path, fmt):
    img, _ = faulty_image("short-diff-ids")
    if fmt == "docker-archive":
        path = tmp_path / "d.tar"
        mk.write_docker_archive(path, [(img, ["bad:1"])])
    else:
        path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, INVALID, "diff_ids")


@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_docker_archive_wrong_config_digest(seeded, tmp_path, style):
    img, _ = faulty_image("bad-config-digest", "none")
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["bad:1"])], style=style)
    cd = config_digest(img)
    # legacy archives name the config "<hex>.json", docker >= 25 ones "blobs/sha256/<hex>"
    named = hexof(wrong(hexof(cd))) if style == "legacy" else hexof(wrong(cd))
    expect_load_failure(seeded, path, INVALID, path, named, cd)


@pytest.mark.parametrize("fault", ["bad-diff-ids", "missing-layer-blob"])
def test_failed_load_references_nothing_and_prune_clears_it(g, tmp_path, fault):
    """Policy (README "The store"): a refused image gets no reference and nothing unverified is
    ever renamed into place; layers that were fully verified before the failure may stay, as
    unreferenced content that `system prune` removes (deleting them at once would race with a
    concurrent load of the same layers)."""
    img, ex = faulty_image(fault)
    path = tmp_path / "ml.tar"
    mk.write_oci_archive(path, img, tags="ml:1")
    g.run("images")  # an empty store
    res = g.fail("load", path)
    assert_clear_error(res, ex.diff_id if fault == "bad-diff-ids" else ex.digest)
    assert g.refs() == {}
    assert tmp_entries(g.root) == []
    # whatever stayed is verified content: every blob hashes to its name
    for b in (g.root / "blobs/sha256").iterdir():
        assert hashlib.sha256(b.read_bytes()).hexdigest() == b.name
    g.run("system", "prune")
    assert os.listdir(g.root / "blobs/sha256") == []
    assert os.listdir(g.root / "layers/sha256") == []


# --------------------------------------------------------------------------------------------
# missing pieces
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_missing_layer_blob(seeded, tmp_path, fmt):
    img, ex = faulty_image("missing-layer-blob")
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, NOT_FOUND, ex.digest)


@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_docker_archive_missing_layer(seeded, tmp_path, style):
    img, ex = faulty_image("missing-layer-blob", "none")
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["bad:1"])], style=style)
    name = "layer.tar" if style == "legacy" else "blobs/sha256/" + hexof(ex.digest)
    expect_load_failure(seeded, path, NOT_FOUND, path, name)


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_missing_config(seeded, tmp_path, fmt):
    img, _ = faulty_image("missing-config")
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, NOT_FOUND, config_digest(img))


@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_docker_archive_missing_config(seeded, tmp_path, style):
    img, _ = faulty_image("missing-config", "none")
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["bad:1"])], style=style)
    expect_load_failure(seeded, path, NOT_FOUND, path, hexof(config_digest(img)))


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_missing_manifest_blob(seeded, tmp_path, fmt):
    img, _ = faulty_image("missing-manifest-blob")
    path, index = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, NOT_FOUND, hexof(index["manifests"][0]["digest"]))


def test_docker_archive_without_manifest_json(seeded, tmp_path):
    img = mk.busybox_image(compression="none")
    path = tmp_path / "old.tar"
    mk.write_docker_archive(path, [(img, ["old:1"])], faults=["missing-manifest-json"])
    expect_load_failure(seeded, path, UNSUPPORTED, path, "manifest.json")


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_missing_oci_layout_file(seeded, tmp_path, fmt):
    img = mk.busybox_image()
    path, _ = write_oci(tmp_path, fmt, img, faults=["missing-oci-layout"])
    expect_load_failure(seeded, path, INVALID, path, "oci-layout")


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_unknown_layout_version(seeded, tmp_path, fmt):
    img = mk.busybox_image()
    path, _ = write_oci(tmp_path, fmt, img, faults=["bad-layout-version"])
    before = snapshot(seeded)
    res = seeded.fail("load", path)
    assert res.code in (INVALID, UNSUPPORTED), res
    assert_clear_error(res, "9.9.9")
    assert_no_partial_state(seeded, before)


# --------------------------------------------------------------------------------------------
# invalid JSON
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_invalid_docker_manifest_json(seeded, tmp_path, style):
    img = mk.busybox_image(compression="none")
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["bad:1"])], style=style,
                            faults=["invalid-manifest-json"])
    expect_load_failure(seeded, path, INVALID, path, "manifest.json")


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_invalid_index_json(seeded, tmp_path, fmt):
    img = mk.busybox_image()
    path, _ = write_oci(tmp_path, fmt, img, faults=["invalid-index-json"])
    expect_load_failure(seeded, path, INVALID, path, "index")


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_invalid_manifest_blob_json(seeded, tmp_path, fmt):
    img, _ = faulty_image("invalid-manifest-json")
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, INVALID, path, "manifest")


def test_index_json_lists_no_images(seeded, tmp_path):
    layout = tmp_path / "layout"
    mk.write_oci_layout(layout, mk.busybox_image(), tags="latest")
    (layout / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": mk.OCI_INDEX, "manifests": []}))
    expect_load_failure(seeded, layout, INVALID, layout, "index.json")


def test_config_not_json_object(seeded, tmp_path):
    """A config blob whose digest matches but which is not an image config."""
    img = mk.busybox_image()
    layout = tmp_path / "layout"
    idx = mk.write_oci_layout(layout, img, tags="latest")
    bogus = b'["not", "a", "config"]'
    cd = mk.sha256_digest(bogus)
    (layout / "blobs/sha256" / hexof(cd)).write_bytes(bogus)
    mpath = layout / "blobs/sha256" / hexof(idx["manifests"][0]["digest"])
    m = json.loads(mpath.read_bytes())
    m["config"].update(digest=cd, size=len(bogus))
    data = mk.canonical_json(m)
    md = mk.sha256_digest(data)
    (layout / "blobs/sha256" / hexof(md)).write_bytes(data)
    idx["manifests"][0].update(digest=md, size=len(data))
    (layout / "index.json").write_bytes(mk.canonical_json(idx))
    expect_load_failure(seeded, layout, INVALID, layout)


# --------------------------------------------------------------------------------------------
# unsupported content
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_unknown_layer_media_type(seeded, tmp_path, fmt):
    img, _ = faulty_image("unknown-layer-media-type")
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, UNSUPPORTED, mk.UNKNOWN_LAYER)


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_unknown_manifest_media_type(seeded, tmp_path, fmt):
    img, _ = faulty_image("unknown-manifest-media-type")
    path, _ = write_oci(tmp_path, fmt, img)
    expect_load_failure(seeded, path, UNSUPPORTED, mk.UNKNOWN_MANIFEST)


def test_unknown_media_type_inside_index(seeded, tmp_path):
    idx = mk.Index([mk.busybox_image(faults=frozenset(["unknown-manifest-media-type"]))])
    layout = tmp_path / "layout"
    mk.write_oci_layout(layout, (idx, "latest"))
    before = snapshot(seeded)
    res = seeded.fail("load", layout)
    # either refused as unsupported, or "no image for this platform" (it was skipped)
    assert res.code in (NOT_FOUND, UNSUPPORTED), res
    assert_clear_error(res, layout)
    assert_no_partial_state(seeded, before)


@pytest.mark.parametrize("docker_types", [False, True])
@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_schema1_manifest(seeded, tmp_path, fmt, docker_types):
    img, _ = faulty_image("schema1")
    path, _ = write_oci(tmp_path, fmt, img, docker_media_types=docker_types)
    res = expect_load_failure(seeded, path, UNSUPPORTED, "schema 1")
    assert "skopeo" in res.err  # the hint says how to convert it


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_foreign_layer(seeded, tmp_path, fmt):
    img, _ = faulty_image("foreign-layer")
    path, _ = write_oci(tmp_path, fmt, img, docker_media_types=True)
    expect_load_failure(seeded, path, UNSUPPORTED, "foreign")


@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_docker_archive_foreign_layer(seeded, tmp_path, style):
    """docker save of an image with a foreign layer lists it in LayerSources."""
    img, _ = faulty_image("foreign-layer", "none")
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["foreign:1"])], style=style)
    expect_load_failure(seeded, path, UNSUPPORTED, path, "foreign")


def test_sha512_digest(seeded, tmp_path):
    layout = tmp_path / "layout"
    idx = mk.write_oci_layout(layout, mk.busybox_image(), tags="latest")
    idx["manifests"][0]["digest"] = "sha512:" + "ab" * 64
    (layout / "index.json").write_bytes(mk.canonical_json(idx))
    expect_load_failure(seeded, layout, UNSUPPORTED, "sha512")


# --------------------------------------------------------------------------------------------
# not an image at all
# --------------------------------------------------------------------------------------------

def test_empty_archive(seeded, tmp_path):
    path = tmp_path / "empty.tar"
    mk.write_empty_archive(path)
    res = expect_load_failure(seeded, path, INVALID, path)
    assert "empty" in res.err.splitlines()[0]


def test_zero_byte_file(seeded, tmp_path):
    path = tmp_path / "zero.tar"
    path.write_bytes(b"")
    expect_load_failure(seeded, path, INVALID, path)


def test_path_does_not_exist(seeded, tmp_path):
    path = tmp_path / "no" / "such.tar"
    expect_load_failure(seeded, path, NOT_FOUND, path)


@pytest.mark.parametrize("contents", [[], ["notes.txt", "sub/"]], ids=["empty-dir", "junk-dir"])
def test_directory_that_is_not_a_layout(seeded, tmp_path, contents):
    d = tmp_path / "notalayout"
    d.mkdir()
    for c in contents:
        if c.endswith("/"):
            (d / c).mkdir()
        else:
            (d / c).write_text("hello\n")
    expect_load_failure(seeded, d, INVALID, d, "index.json")


@pytest.mark.parametrize("kind", ["random", "text", "gzip-of-text"])
def test_file_that_is_not_a_tar(seeded, tmp_path, kind):
    path = tmp_path / "junk.tar"
    if kind == "random":
        path.write_bytes(random.Random(42).randbytes(64 * 1024))
    elif kind == "text":
        path.write_text("this is not an archive\n" * 200)
    else:
        path.write_bytes(gzip.compress(b"this is not an archive\n" * 200, mtime=0))
    expect_load_failure(seeded, path, INVALID, path)


def test_tar_without_image(seeded, tmp_path):
    import tarfile
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tf:
        src = tmp_path / "f.txt"
        src.write_text("x\n")
        tf.add(src, "f.txt")
    expect_load_failure(seeded, path, INVALID, path, "manifest.json", "index.json")


# --------------------------------------------------------------------------------------------
# full disk
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_store(g):
    """The store on a 600 KiB tmpfs (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a 600k tmpfs for the store needs root")
    g.root.mkdir(parents=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k,mode=0755", "tmpfs",
                        str(g.root)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    try:
        yield g
    finally:
        subprocess.run(["umount", str(g.root)], check=True)


def _noise_image(compression):
    noise = random.Random(1234).randbytes(1 << 20)  # 1 MiB that does not compress
    layer = mk.Layer.from_files({"noise.bin": noise}, compression=compression)
    return mk.Image([layer], cmd=["/noise.bin"])


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive", "docker-archive.gz",
                                 "oci-dir"])
def test_full_disk(small_store, tmp_path, fmt):
    g = small_store
    g.run("images")  # creates the store's directories
    img = _noise_image("gzip" if fmt.startswith("oci") else "none")
    if fmt == "oci-archive":
        path = tmp_path / "big.tar"
        mk.write_oci_archive(path, img, tags="big:1")
    elif fmt == "oci-dir":
        path = tmp_path / "big"
        mk.write_oci_layout(path, img, tags="big:1")
    else:
        data = mk.write_docker_archive(None, [(img, ["big:1"])])
        path = tmp_path / ("big.tar.gz" if fmt.endswith(".gz") else "big.tar")
        path.write_bytes(gzip.compress(data, 1, mtime=0) if fmt.endswith(".gz") else data)
    before = snapshot(g)
    res = g.fail("load", path, code=IO)
    assert_clear_error(res)
    assert "space" in res.err.splitlines()[0].lower(), res
    assert_no_partial_state(g, before)
    noise = img.layers[0]
    stored = os.listdir(g.root / "blobs/sha256")
    assert hexof(noise.digest) not in stored and hexof(noise.diff_id) not in stored
    # after the failure the store still works: a small image loads
    small = mk.Image([mk.Layer.from_files({"hello": "hi\n"})], cmd=["/hello"])
    sp = tmp_path / "small.tar"
    mk.write_oci_archive(sp, small, tags="small:1")
    g.run("load", sp, "--name", "small")
    assert list(g.refs()) == ["docker.io/library/small:1"]
    assert tmp_entries(g.root) == []
