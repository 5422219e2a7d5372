"""Interoperability with the peer tools: skopeo, umoci and plain tar readers.

Images made by skopeo must load into gantry; what gantry saves must be read by skopeo, umoci and
Python's tarfile; save -> load -> save must be stable.

The image saved is the image as it came, byte for byte: that needs each layer's compressed blob,
so these run with `store.keep_compressed: true` (the `g` fixture below). A store that keeps one
copy of each layer (the default) saves a layer it keeps unpacked as its rebuilt tar under a new
manifest: test_one_copy.py.
"""
import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import Gantry, need_tool
from fixtures import mkimage as mk

BUSYBOX_BYTES = open(mk.BUSYBOX, "rb").read()
FORMATS = ["docker-archive", "oci-archive", "oci-dir"]


def run(*argv, timeout=120):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n" \
                                 f"{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def skopeo(*args):
    return run("skopeo", "--insecure-policy", *args)


def hexof(d):
    return d.split(":", 1)[1]


def inspect(g, ref):
    [out] = g.run("inspect", ref, "--json").json()
    return out


def fresh(tmp_path, name):
    """Another store, keeping compressed blobs as the `g` fixture's (the module's docstring)."""
    cfg = tmp_path / "keep-compressed.yaml"
    cfg.write_text("store:\n  keep_compressed: true\n")
    return Gantry(tmp_path / name, env={"GANTRY_CONFIG": str(cfg)})


def transport(fmt, path, tag=None):
    """skopeo name of a gantry-saved image."""
    if fmt == "docker-archive":
        return f"docker-archive:{path}" + (f":{tag}" if tag else "")
    if fmt == "oci-archive":
        return f"oci-archive:{path}" + (f":{tag}" if tag else "")
    return f"oci:{path}" + (f":{tag}" if tag else "")


def assert_busybox_layer(g, diff_id):
    root = g.root / "layers/sha256" / hexof(diff_id) / "rootfs"
    assert (root / "bin/busybox").read_bytes() == BUSYBOX_BYTES
    assert os.readlink(root / "bin/sh") == "busybox"
    assert (root / "etc/passwd").read_text() == mk.PASSWD


def oci_manifest_digests(path):
    """Manifest digests listed by an OCI layout dir or archive's index.json."""
    if os.path.isdir(path):
        idx = json.loads((path / "index.json").read_text())
    else:
        with tarfile.open(path) as tf:
            idx = json.load(tf.extractfile("index.json"))
    return sorted(m["digest"] for m in idx["manifests"])


@pytest.fixture
def g(tmp_path, gantry_bin):
    """gantry with a fresh store that keeps each layer's compressed blob beside its tree."""
    cfg = tmp_path / "keep-compressed.yaml"
    cfg.write_text("store:\n  keep_compressed: true\n")
    return Gantry(tmp_path / "store", env={"GANTRY_CONFIG": str(cfg)})


@pytest.fixture
def sample_img():
    return mk.busybox_image(compression="gzip", cmd=["/bin/sh", "-c", "echo interop"],
                            env=["PATH=/bin", "X=1"])


@pytest.fixture
def loaded(g, tmp_path, sample_img):
    """A store with docker.io/library/sample:latest loaded from an OCI archive."""
    path = tmp_path / "src.tar"
    mk.write_oci_archive(path, sample_img, tags="docker.io/library/sample:latest")
    g.run("load", path)
    return sample_img


# --------------------------------------------------------------------------------------------
# skopeo-made images load into gantry
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [None, "zstd"], ids=["default-gzip", "zstd"])
def test_skopeo_oci_dir_loads(g, tmp_path, compress):
    need_tool("skopeo")
    img = mk.busybox_image(compression="none", cmd=["/bin/true"])
    src = tmp_path / "d.tar"
    mk.write_docker_archive(src, [(img, ["sample:latest"])])
    dst = tmp_path / "sk"
    args = ["copy"]
    if compress:
        args += ["--dest-compress", "--dest-compress-format", compress]
    skopeo(*args, f"docker-archive:{src}", f"oci:{dst}:v1")
    [want] = oci_manifest_digests(dst)
    res = g.run("load", dst, "--name", "sample")
    assert "Loaded image: docker.io/library/sample:v1" in res.out
    assert g.refs() == {"docker.io/library/sample:v1": want}
    info = inspect(g, "sample:v1")
    assert [l["diff_id"] for l in info["layers"]] == [img.layers[0].diff_id]
    assert info["config"]["Cmd"] == ["/bin/true"]
    assert info["layers"][0]["media_type"] == mk.OCI_LAYER[compress or "gzip"]
    assert_busybox_layer(g, img.layers[0].diff_id)


def test_skopeo_oci_archive_and_docker_archive_load(g, tmp_path):
    need_tool("skopeo")
    img = mk.busybox_image(compression="gzip")
    layout = tmp_path / "layout"
    mk.write_oci_layout(layout, img, tags="v1")
    oa, da = tmp_path / "sk-oci.tar", tmp_path / "sk-docker.tar"
    skopeo("copy", f"oci:{layout}:v1", f"oci-archive:{oa}:v1")
    skopeo("copy", f"oci:{layout}:v1", f"docker-archive:{da}:example.com/app:v1")
    [want] = oci_manifest_digests(layout)
    res = g.run("load", oa)
    assert "Loaded image: localhost/sk-oci:v1" in res.out
    assert g.refs()["localhost/sk-oci:v1"] == want
    res = g.run("load", da)
    assert "Loaded image: example.com/app:v1" in res.out
    info = inspect(g, "example.com/app:v1")
    assert [l["diff_id"] for l in info["layers"]] == [img.layers[0].diff_id]
    assert_busybox_layer(g, img.layers[0].diff_id)
    # one tree for the layer both images share
    assert os.listdir(g.root / "layers/sha256") == [hexof(img.layers[0].diff_id)]


def test_skopeo_multiarch_copy_loads_with_platform(g, tmp_path):
    need_tool("skopeo")
    layout = tmp_path / "multi"
    mk.write_oci_layout(layout, (mk.multiarch_index(), "latest"))
    out = tmp_path / "sk-multi"
    skopeo("copy", "--all", f"oci:{layout}:latest", f"oci:{out}:latest")
    idx = json.loads((out / "index.json").read_text())
    inner = json.loads((out / "blobs/sha256" / hexof(idx["manifests"][0]["digest"])).read_text())
    arm = [m["digest"] for m in inner["manifests"] if m["platform"]["architecture"] == "arm64"]
    g.run("load", out, "--platform", "linux/arm64/v8", "--name", "multi")
    assert g.refs() == {"docker.io/library/multi:latest": arm[0]}


# --------------------------------------------------------------------------------------------
# gantry-saved images are read by skopeo
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_skopeo_reads_gantry_save(g, tmp_path, loaded, fmt):
    need_tool("skopeo")
    info = inspect(g, "sample")
    out = tmp_path / ("saved" if fmt == "oci-dir" else "saved.tar")
    g.run("save", "sample", "-o", out, "--format", fmt)
    tag = "latest" if fmt == "oci-dir" else None
    doc = json.loads(skopeo("inspect", transport(fmt, out, tag)))
    assert doc["Architecture"] == "amd64" and doc["Os"] == "linux"
    assert doc["Env"] == ["PATH=/bin", "X=1"]
    if fmt == "docker-archive":
        assert doc["Layers"] == [loaded.layers[0].diff_id]  # uncompressed layers
    else:
        assert doc["Digest"] == info["digest"]
        assert doc["Layers"] == [loaded.layers[0].digest]
    raw = json.loads(skopeo("inspect", "--config", "--raw", transport(fmt, out, tag)))
    assert raw["rootfs"]["diff_ids"] == [loaded.layers[0].diff_id]
    assert raw["config"]["Cmd"] == ["/bin/sh", "-c", "echo interop"]

    # skopeo copies it (every blob read and verified) into an OCI layout gantry loads again
    copy = tmp_path / "copy"
    skopeo("copy", transport(fmt, out, tag), f"oci:{copy}:again")
    g2 = fresh(tmp_path, "store2")
    g2.run("load", copy, "--name", "sample")
    info2 = inspect(g2, "sample:again")
    assert [l["diff_id"] for l in info2["layers"]] == [loaded.layers[0].diff_id]
    if fmt != "docker-archive":
        assert info2["digest"] == info["digest"]
        assert info2["id"] == info["id"]
    assert_busybox_layer(g2, loaded.layers[0].diff_id)


@pytest.mark.parametrize("fmt", FORMATS)
def test_skopeo_reads_each_image_of_two_image_save(g, tmp_path, fmt):
    need_tool("skopeo")
    a = mk.busybox_image(compression="gzip", cmd=["/bin/a"])
    extra = mk.Layer.from_files({"etc/motd": "b\n"}, compression="gzip")
    b = mk.busybox_image(compression="gzip", extra_layers=[extra], cmd=["/bin/b"])
    src = tmp_path / "src.tar"
    mk.write_oci_archive(src, [(a, "example.com/a:1"), (b, "example.com/b:2")])
    g.run("load", src)
    out = tmp_path / ("two" if fmt == "oci-dir" else "two.tar")
    g.run("save", "example.com/a:1", "example.com/b:2", "-o", out, "--format", fmt)
    for ref, tag, img in (("example.com/a:1", "1", a), ("example.com/b:2", "2", b)):
        name = ref if fmt == "docker-archive" else tag
        raw = json.loads(skopeo("inspect", "--config", "--raw", transport(fmt, out, name)))
        assert raw["config"]["Cmd"] == img.config()["config"]["Cmd"], (fmt, ref)
        assert raw["rootfs"]["diff_ids"] == [l.diff_id for l in img.layers]


# --------------------------------------------------------------------------------------------
# umoci
# --------------------------------------------------------------------------------------------

def _whiteout_child():
    upper = mk.Layer([mk.Entry.dir("etc"), mk.Entry.whiteout("etc/group"),
                      mk.Entry.file("etc/motd", "umoci\n")], compression="gzip")
    return mk.busybox_image(compression="gzip", extra_layers=[upper], cmd=["/bin/sh"])


@pytest.mark.parametrize("origin", ["oci-gzip", "docker-archive", "oci-docker-types"])
def test_umoci_unpacks_gantry_oci_dir(g, tmp_path, origin):
    need_tool("umoci")
    img = _whiteout_child()
    src = tmp_path / "src"
    if origin == "oci-gzip":
        src = src.with_suffix(".tar")
        mk.write_oci_archive(src, img, tags="example.com/u:1")
    elif origin == "docker-archive":
        src = src.with_suffix(".tar")
        mk.write_docker_archive(src, [(img, ["example.com/u:1"])])  # uncompressed layers
    else:
        mk.write_oci_layout(src, img, tags="example.com/u:1", docker_media_types=True)
    g.run("load", src)
    out = tmp_path / "saved"
    g.run("save", "example.com/u:1", "-o", out, "--format", "oci-dir")
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--rootless", "--image", f"{out}:1", bundle)
    rootfs = bundle / "rootfs"
    assert (rootfs / "bin/busybox").read_bytes() == BUSYBOX_BYTES
    assert os.readlink(rootfs / "bin/sh") == "busybox"
    assert (rootfs / "etc/motd").read_text() == "umoci\n"
    assert not (rootfs / "etc/group").exists(), "the whiteout was not applied"
    assert (rootfs / "etc/passwd").read_text() == mk.PASSWD
    cfg = json.loads((bundle / "config.json").read_text())
    assert cfg["process"]["args"] == ["/bin/sh"]


# --------------------------------------------------------------------------------------------
# plain tar readers
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_docker_archive_readable_with_tarfile(g, tmp_path, compression):
    motd = mk.Layer.from_files({"etc/motd": "m\n"}, compression=compression)
    img = mk.busybox_image(compression=compression, extra_layers=[motd])
    src = tmp_path / "src.tar"
    mk.write_oci_archive(src, img, tags="docker.io/library/sample:latest")
    g.run("load", src)
    g.run("tag", "sample", "example.com/other:2")
    out = tmp_path / "saved.tar"
    g.run("save", "sample", "example.com/other:2", "-o", out, "--format", "docker-archive")
    with tarfile.open(out, "r:") as tf:  # a plain, uncompressed tar
        names = tf.getnames()
        assert len(names) == len(set(names)), "duplicate members"
        manifest = json.load(tf.extractfile("manifest.json"))
        assert isinstance(manifest, list) and len(manifest) == 1, manifest
        [entry] = manifest
        assert set(entry) >= {"Config", "RepoTags", "Layers"}
        assert sorted(entry["RepoTags"]) == ["docker.io/library/sample:latest",
                                             "example.com/other:2"]
        cfg_bytes = tf.extractfile(entry["Config"]).read()
        assert cfg_bytes == mk.canonical_json(img.config())
        if entry["Config"].endswith(".json"):
            assert hashlib.sha256(cfg_bytes).hexdigest() == entry["Config"][:-5].split("/")[-1]
        cfg = json.loads(cfg_bytes)
        assert len(entry["Layers"]) == len(cfg["rootfs"]["diff_ids"]) == 2
        for name, diff_id, layer in zip(entry["Layers"], cfg["rootfs"]["diff_ids"], img.layers):
            data = tf.extractfile(name).read()
            assert data[:2] != b"\x1f\x8b" and data[:4] != b"\x28\xb5\x2f\xfd", \
                f"{name} is compressed"
            assert "sha256:" + hashlib.sha256(data).hexdigest() == diff_id == layer.diff_id
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as lt:
                lt.getmembers()
            assert data == layer.tar_bytes()


def test_oci_archive_readable_with_tarfile(g, tmp_path, loaded):
    out = tmp_path / "saved.tar"
    g.run("save", "sample", "-o", out, "--format", "oci-archive")
    info = inspect(g, "sample")
    with tarfile.open(out, "r:") as tf:
        layout = json.load(tf.extractfile("oci-layout"))
        assert layout == {"imageLayoutVersion": "1.0.0"}
        idx = json.load(tf.extractfile("index.json"))
        [d] = idx["manifests"]
        assert d["digest"] == info["digest"]
        assert d["annotations"]["org.opencontainers.image.ref.name"] == "latest"
        blobs = [m for m in tf.getmembers() if m.name.startswith("blobs/sha256/")]
        assert len(blobs) == 3
        for m in blobs:
            data = tf.extractfile(m).read()
            assert hashlib.sha256(data).hexdigest() == m.name.rsplit("/", 1)[1]


# --------------------------------------------------------------------------------------------
# save -> load -> save
# --------------------------------------------------------------------------------------------

def _load_origin(g, tmp_path, origin):
    img = mk.busybox_image(compression="zstd" if origin == "oci-zstd" else "gzip",
                           extra_layers=[mk.Layer.from_files({"etc/motd": "rt\n"})])
    src = tmp_path / "origin"
    if origin == "docker-archive":
        src = src.with_suffix(".tar")
        mk.write_docker_archive(src, [(img, ["rt:1"])])
    elif origin == "oci-docker-types":
        mk.write_oci_layout(src, img, tags="docker.io/library/rt:1", docker_media_types=True)
    else:
        src = src.with_suffix(".tar")
        mk.write_oci_archive(src, img, tags="docker.io/library/rt:1")
    g.run("load", src)
    return img


@pytest.mark.parametrize("origin", ["oci-gzip", "oci-zstd", "docker-archive",
                                    "oci-docker-types"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_save_load_save_is_stable(g, tmp_path, fmt, origin):
    img = _load_origin(g, tmp_path, origin)
    ext = "" if fmt == "oci-dir" else ".tar"
    s1, s2 = tmp_path / f"save1{ext}", tmp_path / f"save2{ext}"
    g.run("save", "rt:1", "-o", s1, "--format", fmt)
    g2, g3 = fresh(tmp_path, "store2"), fresh(tmp_path, "store3")
    g2.run("load", s1)
    g2.run("save", "rt:1", "-o", s2, "--format", fmt)
    g3.run("load", s2)
    d2 = g2.refs()["docker.io/library/rt:1"]
    d3 = g3.refs()["docker.io/library/rt:1"]
    assert d2 == d3, "manifest digest changed on the second round"
    assert list(g2.refs()) == list(g3.refs()) == ["docker.io/library/rt:1"]
    assert inspect(g2, "rt:1")["id"] == inspect(g3, "rt:1")["id"]
    for gg in (g2, g3):
        assert [l["diff_id"] for l in inspect(gg, "rt:1")["layers"]] == \
            [l.diff_id for l in img.layers]
    if fmt != "docker-archive":
        assert oci_manifest_digests(s1) == oci_manifest_digests(s2) == [d2]
        if origin in ("oci-gzip", "oci-zstd"):  # OCI manifests are saved exactly as loaded
            assert d2 == g.refs()["docker.io/library/rt:1"]
    else:
        with tarfile.open(s1) as t1, tarfile.open(s2) as t2:
            assert t1.extractfile("manifest.json").read() == t2.extractfile("manifest.json").read()
    if fmt == "oci-archive":
        assert s1.read_bytes() == s2.read_bytes(), "oci-archive bytes differ between saves"
    if fmt == "oci-dir":
        files1 = sorted(p.relative_to(s1) for p in s1.rglob("*") if p.is_file())
        files2 = sorted(p.relative_to(s2) for p in s2.rglob("*") if p.is_file())
        assert files1 == files2
        for f in files1:
            assert (s1 / f).read_bytes() == (s2 / f).read_bytes(), f


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_two_images_into_one_archive(g, tmp_path, fmt):
    a = mk.busybox_image(compression="gzip", cmd=["/bin/a"])
    extra = mk.Layer.from_files({"etc/motd": "b\n"}, compression="gzip")
    b = mk.busybox_image(compression="gzip", extra_layers=[extra], cmd=["/bin/b"])
    src = tmp_path / "src.tar"
    # both tagged "latest": only the full names tell them apart
    mk.write_oci_archive(src, [(a, "docker.io/library/a:latest"),
                               (b, "quay.io/x/b:latest")])
    g.run("load", src)
    before = g.refs()
    out = tmp_path / ("two" if fmt == "oci-dir" else "two.tar")
    g.run("save", "a", "quay.io/x/b", "-o", out, "--format", fmt)
    g2 = fresh(tmp_path, "store2")
    res = g2.run("load", out)
    assert "Loaded image: docker.io/library/a:latest" in res.out
    assert "Loaded image: quay.io/x/b:latest" in res.out
    refs = g2.refs()
    assert set(refs) == set(before)
    assert inspect(g2, "a")["config"]["Cmd"] == ["/bin/a"]
    assert inspect(g2, "quay.io/x/b")["config"]["Cmd"] == ["/bin/b"]
    if fmt != "docker-archive":
        assert refs == before
    # the busybox layer both images share is stored once in the output
    if fmt == "oci-dir":
        blobs = os.listdir(out / "blobs/sha256")
        assert len(blobs) == len(set(blobs)) == 2 + 2 + 2  # 2 manifests, 2 configs, 2 layers
    else:
        with tarfile.open(out) as tf:
            names = tf.getnames()
        assert len(names) == len(set(names))
        if fmt == "docker-archive":
            assert len([n for n in names if n.endswith(".tar")]) == 2
        else:
            assert len([n for n in names if n.startswith("blobs/sha256/")]) == 6


def test_save_refuses_existing_output_dir_and_missing_image(g, tmp_path, loaded):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep").write_text("x")
    res = g.fail("save", "sample", "-o", out, "--format", "oci-dir", code=5)
    assert str(out) in res.err
    assert (out / "keep").read_text() == "x"
    res = g.fail("save", "nothere:1", "-o", tmp_path / "n.tar", code=3)
    assert "nothere" in res.err
    assert not (tmp_path / "n.tar").exists()
    assert [p for p in os.listdir(tmp_path) if ".tmp-" in p] == []

