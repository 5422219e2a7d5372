"""End-to-end tests of the stored images' commands: `gantry images` (table, --digests, -q,
--json, --format sizes), inspect, tag, the reasons an invalid reference is refused, and rmi
(untag, by ID, --force, layers shared with other images).

Every test builds its sample image with tests/fixtures/mkimage.py (nothing is downloaded) and
drives the gantry binary against a fresh store (fixture `g`).
"""
import datetime
import io
import json
import tarfile
import time

import pytest

from conftest import store_files, tmp_entries
from fixtures import mkimage as mk
from images_common import (assert_busybox_tree, blob_names, config_bytes, config_digest, hexof,
                           images_json, inspect, layer_dirs, layer_rootfs)

SHORT_ID_LEN = 12


def created_str():
    t = datetime.datetime.fromtimestamp(mk.source_date_epoch(), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# images, inspect
# --------------------------------------------------------------------------------------------

@pytest.fixture
def two_images(g, tmp_path):
    a = mk.busybox_image(compression="gzip", cmd=["/bin/sh"])
    extra = mk.Layer.from_files({"etc/motd": "b\n"}, compression="gzip")
    b = mk.busybox_image(compression="gzip", extra_layers=[extra], arch="arm64",
                         variant="v8", cmd=["/bin/cat", "/etc/motd"])
    pa, pb = tmp_path / "a.tar", tmp_path / "b.tar"
    mk.write_oci_archive(pa, a, tags="docker.io/library/alpha:1")
    mk.write_oci_archive(pb, b, tags="example.com/beta:2")
    g.run("load", pa)
    g.run("load", pb)
    return a, b


def test_images_json_fields(g, two_images):
    a, b = two_images
    out = g.run("images", "--json").json()
    assert isinstance(out, list) and len(out) == 2
    for e in out:
        assert set(e) >= {"reference", "repository", "tag", "id", "digest", "created",
                          "platform", "size"}, e
    by = {e["reference"]: e for e in out}
    refs = g.refs()
    ea, eb = by["docker.io/library/alpha:1"], by["example.com/beta:2"]
    assert (ea["repository"], ea["tag"]) == ("docker.io/library/alpha", "1")
    assert (eb["repository"], eb["tag"]) == ("example.com/beta", "2")
    assert ea["id"] == config_digest(a) and eb["id"] == config_digest(b)
    assert ea["digest"] == refs["docker.io/library/alpha:1"]
    assert eb["digest"] == refs["example.com/beta:2"]
    assert ea["platform"] == "linux/amd64" and eb["platform"] == "linux/arm64/v8"
    assert ea["created"] == eb["created"] == created_str()
    # docker's SIZE: the unpacked file data; the blobs' size beside it
    assert ea["size"] == unpacked_bytes(a) and eb["size"] == unpacked_bytes(b)
    assert ea["compressed_size"] == len(config_bytes(a)) + sum(len(l.blob()) for l in a.layers)
    assert eb["compressed_size"] == len(config_bytes(b)) + sum(len(l.blob()) for l in b.layers)


def unpacked_bytes(img):
    """docker's image size: the regular files' data of every layer."""
    total = 0
    for layer in img.layers:
        with tarfile.open(fileobj=io.BytesIO(layer.tar_bytes())) as t:
            total += sum(m.size for m in t.getmembers() if m.isreg())
    return total


def test_images_size_is_unpacked_recorded_once_and_formatted(g, two_images):
    """SIZE and {{.Size}} are the unpacked size, recorded in refs.json when the image is named;
    a store from before (no record) gets it computed at the first listing and recorded;
    {{.CompressedSize}} is the blobs'."""
    a, b = two_images
    refs = g.refs()
    doc = json.loads((g.root / "refs.json").read_text())
    md = refs["docker.io/library/alpha:1"]
    assert doc["sizes"][md]["unpacked"] == unpacked_bytes(a)
    del doc["sizes"]
    (g.root / "refs.json").write_text(json.dumps(doc))
    rows = g.run("images", "--format", "{{.Repository}} {{.Size}} {{.CompressedSize}}").out
    by = {ln.split()[0]: ln.split()[1:] for ln in rows.splitlines()}
    assert by["alpha"][0] == docker_size(unpacked_bytes(a)), rows
    compressed = len(config_bytes(a)) + sum(len(l.blob()) for l in a.layers)
    assert by["alpha"][1] == docker_size(compressed), rows
    assert unpacked_bytes(a) > compressed  # the table's SIZE is not the blobs' any more
    doc = json.loads((g.root / "refs.json").read_text())
    assert doc["sizes"][md]["unpacked"] == unpacked_bytes(a)  # recorded by that listing
    assert doc["refs"] == refs


def docker_size(n):
    """docker_model::docker_size: 3 significant digits, decimal units."""
    units = ["B", "kB", "MB", "GB", "TB"]
    i, f = 0, float(n)
    while f >= 1000 and i < len(units) - 1:
        f, i = f / 1000, i + 1
    return f"{f:.3g}{units[i]}"


def test_images_table_and_digests_and_quiet(g, two_images):
    a, b = two_images
    refs = g.refs()
    lines = g.run("images").out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "PLATFORM", "SIZE"]
    assert len(lines) == 3
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    ra, rb = rows["docker.io/library/alpha"], rows["example.com/beta"]
    assert ra[1] == "1" and rb[1] == "2"
    assert ra[2] == hexof(config_digest(a))[:SHORT_ID_LEN]
    assert rb[2] == hexof(config_digest(b))[:SHORT_ID_LEN]
    assert "linux/amd64" in ra and "linux/arm64/v8" in rb
    years = int((time.time() - mk.source_date_epoch()) // (365 * 86400))  # docker's words
    assert ra[3:6] == [str(years), "years", "ago"] if years >= 2 else "ago" in ra, ra
    assert "DIGEST" not in lines[0]
    assert not any(d in "\n".join(lines) for d in refs.values())

    dl = g.run("images", "--digests").out.splitlines()
    assert dl[0].split()[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    drows = {ln.split()[0]: ln.split() for ln in dl[1:]}
    assert drows["docker.io/library/alpha"][2] == refs["docker.io/library/alpha:1"]
    assert drows["example.com/beta"][2] == refs["example.com/beta:2"]

    q = g.run("images", "-q").out.split()
    assert sorted(q) == sorted([hexof(config_digest(a))[:SHORT_ID_LEN],
                                hexof(config_digest(b))[:SHORT_ID_LEN]])


def test_images_empty_store(g):
    assert g.run("images", "--json").json() == []
    assert g.run("images", "-q").out.strip() == ""


def test_inspect_json_layers_history_config(g, tmp_path):
    motd = mk.Layer.from_files({"etc/motd": "hello\n" * 1000}, compression="zstd",
                               created_by="COPY motd /etc/motd")
    img = mk.busybox_image(
        compression="gzip", extra_layers=[motd], env=["PATH=/bin", "LANG=C.UTF-8"],
        entrypoint=["/bin/sh", "-c"], cmd=["cat /etc/motd"], working_dir="/tmp",
        labels={"org.example": "yes"},
        history=["COPY busybox / # mkimage", {"created_by": "ENV LANG=C.UTF-8",
                                               "empty_layer": True},
                 "COPY motd /etc/motd"])
    path = tmp_path / "i.tar"
    mk.write_oci_archive(path, img, tags="insp:1")
    g.run("load", path)
    info = inspect(g, "insp:1")
    assert info["id"] == config_digest(img)
    assert info["references"] == ["docker.io/library/insp:1"]
    cfg = info["config"]
    assert cfg["Env"] == ["PATH=/bin", "LANG=C.UTF-8"]
    assert cfg["Cmd"] == ["cat /etc/motd"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"]
    assert cfg["WorkingDir"] == "/tmp"
    assert cfg["Labels"] == {"org.example": "yes"}
    assert len(info["layers"]) == 2
    for got, layer in zip(info["layers"], img.layers):
        assert got["digest"] == layer.digest
        assert got["diff_id"] == layer.diff_id
        assert got["size"] == len(layer.blob())
        assert got["unpacked_size"] == len(layer.tar_bytes())
    # the zstd layer is much smaller compressed than unpacked
    assert info["layers"][1]["size"] < info["layers"][1]["unpacked_size"]
    assert info["unpacked_size"] == sum(len(l.tar_bytes()) for l in img.layers)
    assert info["size"] == len(config_bytes(img)) + sum(len(l.blob()) for l in img.layers)
    assert [h["created_by"] for h in info["history"]] == [
        "COPY busybox / # mkimage", "ENV LANG=C.UTF-8", "COPY motd /etc/motd"]
    assert [h["empty_layer"] for h in info["history"]] == [False, True, False]
    assert info["manifest"]["config"]["digest"] == info["id"]
    # inspect by ID prefix and by digest reference give the same image
    assert inspect(g, hexof(info["id"])[:12])["digest"] == info["digest"]
    assert inspect(g, "insp@" + info["digest"])["id"] == info["id"]
    # the text form names the same things
    text = g.run("inspect", "insp:1").out
    assert info["id"] in text and info["digest"] in text and "COPY motd /etc/motd" in text


def test_inspect_several_and_missing(g, two_images):
    out = g.run("inspect", "alpha:1", "example.com/beta:2", "--json").json()
    assert [o["references"] for o in out] == [["docker.io/library/alpha:1"],
                                             ["example.com/beta:2"]]
    res = g.fail("inspect", "nosuch:tag", code=3)
    assert "docker.io/library/nosuch:tag" in res.err and "hint:" in res.err


# --------------------------------------------------------------------------------------------
# tag
# --------------------------------------------------------------------------------------------

@pytest.fixture
def sample(g, tmp_path):
    img = mk.busybox_image(compression="gzip")
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(img, ["sample:latest"])], layer_compression="gzip")
    g.run("load", path)
    return img


@pytest.mark.parametrize("dst,expected", [
    ("other:v2", "docker.io/library/other:v2"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("myns/app", "docker.io/myns/app:latest"),
    ("docker.io/library/x:1", "docker.io/library/x:1"),
    ("localhost/foo", "localhost/foo:latest"),
    ("localhost:5000/team/app:Tag_1.0-rc", "localhost:5000/team/app:Tag_1.0-rc"),
    ("example.com/a/b/c:9", "example.com/a/b/c:9"),
    ("[fc00::1]:5000/repo:t", "[fc00::1]:5000/repo:t"),
])
def test_tag_normalises(g, sample, dst, expected):
    md = g.refs()["docker.io/library/sample:latest"]
    g.run("tag", "sample", dst)
    assert g.refs() == {"docker.io/library/sample:latest": md, expected: md}
    assert images_json(g)[expected]["digest"] == md


def test_tag_by_id_and_digest_reference(g, sample):
    md = g.refs()["docker.io/library/sample:latest"]
    cid = config_digest(sample)
    g.run("tag", hexof(cid)[:12], "byid:1")
    g.run("tag", cid, "byfullid:1")
    g.run("tag", "docker.io/library/sample@" + md, "bydigest:1")
    refs = g.refs()
    for r in ("byid:1", "byfullid:1", "bydigest:1"):
        assert refs["docker.io/library/" + r] == md


def test_tag_missing_source(g, sample):
    before = g.refs()
    res = g.fail("tag", "nothere:1", "x:1", code=3)
    assert "nothere" in res.err
    assert g.refs() == before


# --------------------------------------------------------------------------------------------
# reference errors
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,reason", [
    ("Upper/Case", "must be lowercase"),
    ("foo:", "must be followed by a tag"),
    ("foo@", "must be followed by a digest"),
    ("foo@sha256:abc", "64 hex"),
    ("foo//bar", "empty path component"),
    ("foo/-bar", "must start with a lowercase letter or digit"),
    ("foo:bad$tag", "invalid character '$' in tag"),
    ("foo:-tag", "must start with a letter, digit or '_'"),
    ("foo/", "must not end with '/'"),
    ("reg.io:port/foo", "must be numeric"),
    ("foo bar", "space"),
    ("a" * 64, "image ID"),
    ("foo:" + "t" * 129, "tag must not be more than 128"),
])
def test_invalid_reference_is_rejected_with_reason(g, sample, bad, reason):
    before = g.refs()
    res = g.fail("tag", "sample", bad, code=4)
    first = res.err.splitlines()[0]
    assert first.startswith("gantry: error: invalid image reference"), res
    assert reason in first, res
    assert "hint:" in res.err
    assert g.refs() == before


def test_invalid_reference_in_inspect_and_rmi(g, sample):
    before = g.refs()
    for cmd in (("inspect", "Bad:ref"), ("rmi", "Bad:ref")):
        res = g.fail(*cmd, code=4)
        assert "invalid image reference" in res.err and "lowercase" in res.err, res
    assert g.refs() == before


def test_unsupported_digest_algorithm_reference(g, sample):
    res = g.fail("tag", "sample", "foo@sha512:" + "ab" * 64, code=7)
    assert "sha512" in res.err


# --------------------------------------------------------------------------------------------
# rmi
# --------------------------------------------------------------------------------------------

def test_rmi_untags_one_of_two_names_and_keeps_image(g, sample):
    md = g.refs()["docker.io/library/sample:latest"]
    g.run("tag", "sample", "other:v2")
    blobs, layers = blob_names(g), layer_dirs(g)
    res = g.run("rmi", "other:v2")
    assert "Untagged: docker.io/library/other:v2" in res.out
    assert "Deleted" not in res.out
    assert g.refs() == {"docker.io/library/sample:latest": md}
    assert blob_names(g) == blobs and layer_dirs(g) == layers
    assert_busybox_tree(layer_rootfs(g, sample.layers[0].diff_id))
    inspect(g, "sample")

    res = g.run("rmi", "sample")
    assert "Untagged: docker.io/library/sample:latest" in res.out
    assert f"Deleted: {md}" in res.out
    assert g.refs() == {}
    assert blob_names(g) == []
    assert layer_dirs(g) == []
    assert tmp_entries(g.root) == []
    g.fail("inspect", "sample", code=3)


def test_rmi_by_id_with_two_names_needs_force(g, sample):
    g.run("tag", "sample", "other:v2")
    before = g.refs()
    files = store_files(g.root)
    cid = hexof(config_digest(sample))[:12]
    res = g.fail("rmi", cid, code=5)
    first = res.err.splitlines()[0]
    assert "docker.io/library/sample:latest" in first and "docker.io/library/other:v2" in first
    assert "--force" in res.err or "-f" in res.err
    assert g.refs() == before
    assert store_files(g.root) == files

    res = g.run("rmi", "-f", cid)
    assert "Untagged: docker.io/library/sample:latest" in res.out
    assert "Untagged: docker.io/library/other:v2" in res.out
    assert g.refs() == {}
    assert blob_names(g) == [] and layer_dirs(g) == []


def test_rmi_by_id_single_name_needs_no_force(g, sample):
    g.run("rmi", hexof(config_digest(sample))[:12])
    assert g.refs() == {} and blob_names(g) == [] and layer_dirs(g) == []


def test_rmi_keeps_layers_shared_with_other_images(g, tmp_path):
    base = mk.busybox_image(compression="gzip")
    motd = mk.Layer.from_files({"etc/motd": "x\n"}, compression="gzip")
    child = mk.busybox_image(compression="gzip", extra_layers=[motd])
    path = tmp_path / "two.tar"
    mk.write_oci_archive(path, [(base, "base:1"), (child, "child:1")])
    g.run("load", path)
    child_info = inspect(g, "child:1")
    g.run("rmi", "base:1")
    assert list(g.refs()) == ["docker.io/library/child:1"]
    assert layer_dirs(g) == sorted(hexof(l.diff_id) for l in child.layers)
    # the layers are kept as trees and tar-splits, not blobs (docs/storage.md)
    keep = {hexof(child_info["digest"]), hexof(child_info["id"])}
    assert set(blob_names(g)) == keep
    assert_busybox_tree(layer_rootfs(g, base.layers[0].diff_id))
    g.run("rmi", "child:1")
    assert blob_names(g) == [] and layer_dirs(g) == []


def test_rmi_missing_image(g, sample):
    before = g.refs()
    res = g.fail("rmi", "nothere", code=3)
    assert "nothere" in res.err
    assert g.refs() == before
