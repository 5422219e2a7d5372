"""Shared by the tests of the content-addressed store (test_store_*.py): the sample images, the
`g` fixture and the checks of a store's invariants.

The tests run with both copies of each layer (`store.keep_compressed: true`, the `g` fixture
below): what they check of layer blobs (their publishing, fsck of a corrupt one, prune counting
them) needs them; the default, one copy (tree + tar-split, docs/storage.md), is test_one_copy.py's
and tests/stress/test_crash.py's.
"""
import hashlib
import json
import os
import random
import re
from pathlib import Path

import pytest

from conftest import Gantry
from fixtures import mkimage as mk

HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------------------------
# sample images
# --------------------------------------------------------------------------------------------

def random_layer(seed, n_big, big_size, n_small, compression):
    rng = random.Random(seed)
    files = {f"data{seed}/r{j}.bin": rng.randbytes(big_size) for j in range(n_big)}
    files.update({f"small{seed}/f{j}": f"{seed}-{j}\n" for j in range(n_small)})
    return mk.Layer.from_files(files, compression=compression)


def config_digest(img):
    return mk.sha256_digest(mk.canonical_json(img.config()))


class Sample:
    """An image and its archives on disk."""

    def __init__(self, img, d, name, tag):
        self.img = img
        self.oci = d / f"{name}.oci.tar"
        self.docker = d / f"{name}.docker.tar"
        mk.write_oci_archive(self.oci, img, tags="latest")
        mk.write_docker_archive(self.docker, [(img, [tag])], layer_compression="layer")
        self.oci_ref = f"localhost/{name}:latest"
        self.docker_ref = "docker.io/" + (tag if "/" in tag.split(":")[0] else "library/" + tag)
        self.layer_digests = {l.digest.split(":")[1] for l in img.layers}
        self.diff_ids = {l.diff_id.split(":")[1] for l in img.layers}
        self.config = config_digest(img).split(":")[1]

    def archive(self, fmt):
        return self.oci if fmt == "oci-archive" else self.docker

    def ref(self, fmt):
        return self.oci_ref if fmt == "oci-archive" else self.docker_ref


@pytest.fixture
def g(tmp_path, gantry_bin):
    """gantry with a fresh store that keeps each layer's blob beside its tree."""
    cfg = tmp_path / "keep-compressed.yaml"
    cfg.write_text("store:\n  keep_compressed: true\n")
    return Gantry(tmp_path / "store", env={"GANTRY_CONFIG": str(cfg)})


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("store-images")
    # "big": ~12 MB of incompressible data in 6 layers of every compression
    comps = ["gzip", "none", "zstd", "gzip", "none", "gzip"]
    big = mk.Image([random_layer(i, 4, 512 * 1024, 60, c) for i, c in enumerate(comps)])
    # "a" and "b" share two big layers and have one small layer of their own each
    shared = [random_layer(100, 6, 512 * 1024, 50, "gzip"),
              random_layer(101, 4, 512 * 1024, 50, "zstd")]
    a = mk.Image(shared + [mk.Layer.from_files({"only-a": "a\n"})], labels={"who": "a"})
    b = mk.Image(shared + [mk.Layer.from_files({"only-b": "b\n"})], labels={"who": "b"})
    small = mk.Image([mk.Layer.from_files({"hello": "hi\n", "etc/motd": "motd\n"})])
    out = {"big": Sample(big, d, "big", "big:1"), "a": Sample(a, d, "shared-a", "shared/a:1"),
           "b": Sample(b, d, "shared-b", "shared/b:1"),
           "small": Sample(small, d, "small", "small:1")}
    for p in d.iterdir():
        os.chmod(p, 0o644)
    return out


# --------------------------------------------------------------------------------------------
# store inspection
# --------------------------------------------------------------------------------------------

def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def blob_names(root):
    d = Path(root) / "blobs" / "sha256"
    return set(os.listdir(d)) if d.exists() else set()


def layer_names(root):
    d = Path(root) / "layers" / "sha256"
    return set(os.listdir(d)) if d.exists() else set()


def read_json_blob(root, digest):
    return json.loads((Path(root) / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())


def kept_unpacked(root, diff_hex):
    """The layer is kept as its tree and tar-split only (docs/storage.md, "One copy of a layer")."""
    d = Path(root) / "layers/sha256" / diff_hex
    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("blob_kept") is False and (d / "tar-split.json.zst").exists()


def image_blobs(root, manifest_digest):
    """(blob hexes, diffID hexes) an image in the store needs: in blobs/, its manifest, config
    and the layer blobs the store keeps (not those of layers kept unpacked only)."""
    m = read_json_blob(root, manifest_digest)
    cfg = read_json_blob(root, m["config"]["digest"])
    order = [d.split(":")[1] for d in cfg["rootfs"]["diff_ids"]]
    blobs = {manifest_digest.split(":")[1], m["config"]["digest"].split(":")[1]}
    blobs |= {l["digest"].split(":")[1] for l, d in zip(m["layers"], order)
              if not kept_unpacked(root, d)}
    return blobs, set(order)


def fsck_clean(g):
    res = g.run("system", "fsck", "--json", check=False)
    assert res.code == 0, f"fsck found problems: {res!r}"
    assert res.json()["problems"] == [], res
    return res.json()


def check_consistent(g, where=""):
    """The invariants a store must keep at every moment, even right after a kill -9."""
    root = g.root
    imgs = g.run("images", "--json")
    listed = {i["reference"] for i in imgs.json()}
    fsck_clean(g)
    # every blob is complete: its content hashes to its name
    for name in blob_names(root):
        p = root / "blobs" / "sha256" / name
        assert HEX64.match(name), f"{where}: stray file in blobs/: {name}"
        assert p.is_file() and not p.is_symlink(), f"{where}: {p} is not a regular file"
        assert sha256_file(p) == name, f"{where}: partially written blob {name}"
    # every layer tree is complete: it has its metadata and its root
    for name in layer_names(root):
        d = root / "layers" / "sha256" / name
        assert HEX64.match(name), f"{where}: stray entry in layers/: {name}"
        assert (d / "meta.json").is_file(), f"{where}: layer {name} has no meta.json"
        meta = json.loads((d / "meta.json").read_text())
        assert meta["diff_id"] == "sha256:" + name, f"{where}: {meta}"
        assert (d / "rootfs").is_dir(), f"{where}: layer {name} has no rootfs"
    # every reference leads to blobs and layer trees that exist
    refs = g.refs()
    assert listed == set(refs), f"{where}: images lists {listed}, refs.json has {set(refs)}"
    for ref, md in refs.items():
        assert md.split(":")[1] in blob_names(root), f"{where}: {ref} -> missing blob {md}"
        blobs, diffs = image_blobs(root, md)
        assert blobs <= blob_names(root), f"{where}: {ref} misses blobs {blobs - blob_names(root)}"
        assert diffs <= layer_names(root), f"{where}: {ref} misses layers"


def check_image_intact(g, sample, fmt):
    """The image is referenced, and its blobs and layer trees are all there and right."""
    refs = g.refs()
    ref = sample.ref(fmt)
    assert ref in refs, f"{ref} not in {refs}"
    blobs, diffs = image_blobs(g.root, refs[ref])
    assert diffs == sample.diff_ids
    assert sample.layer_digests | {sample.config} <= blobs
    for name in blobs:
        assert sha256_file(g.root / "blobs" / "sha256" / name) == name
    for layer in sample.img.layers:
        rootfs = g.root / "layers" / "sha256" / layer.diff_id.split(":")[1] / "rootfs"
        # every regular file of the layer is there with its content
        for e in layer.entries:
            if e.kind == "file":
                assert (rootfs / e.name).read_bytes() == e.data, f"{e.name} differs"
    return blobs, diffs
