"""End-to-end tests of `gantry load` into the image store: docker archives (legacy and OCI
style, uncompressed, gzip, zstd), OCI archives and layouts, whiteouts and opaque directories as
overlay markers (root and rootless), quiet and repeated loads, and the dlopen'ed ISA-L and
Nettle missing.

Every test builds its sample image with tests/fixtures/mkimage.py (nothing is downloaded) and
drives the gantry binary against a fresh store (fixture `g`, or `rootless` for user nobody).
"""
import ctypes
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import need_tool, store_files, tmp_entries
from fixtures import mkimage as mk
from images_common import (BUSYBOX_BYTES, assert_busybox_tree, assert_loaded, blob_names,
                           config_bytes, config_digest, hexof, inspect, layer_dirs,
                           layer_rootfs)


def index_digests(layout_dir):
    """ref.name -> manifest digest, from an OCI layout's index.json."""
    idx = json.loads((layout_dir / "index.json").read_text())
    return {m.get("annotations", {}).get(mk.REF_NAME): m["digest"] for m in idx["manifests"]}


# --------------------------------------------------------------------------------------------
# load: docker-archive
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("style", ["legacy", "oci"])
def test_load_docker_archive(g, tmp_path, style, compression):
    img = mk.busybox_image(compression=compression, cmd=["/bin/sh", "-c", "echo hi"])
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(img, ["sample:latest"])], style=style,
                            layer_compression="layer")
    res = g.run("load", path)
    assert_loaded(res, "docker.io/library/sample:latest")
    refs = g.refs()
    assert list(refs) == ["docker.io/library/sample:latest"]

    layer = img.layers[0]
    info = inspect(g, "sample")
    assert info["id"] == config_digest(img)
    assert info["digest"] == refs["docker.io/library/sample:latest"]
    assert info["references"] == ["docker.io/library/sample:latest"]
    assert info["platform"] == "linux/amd64"
    assert info["config"]["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    [l] = info["layers"]
    assert l["diff_id"] == layer.diff_id
    assert l["digest"] == layer.digest  # the blob as it came (compressed or not)
    assert l["size"] == len(layer.blob())
    assert l["unpacked_size"] == len(layer.tar_bytes())
    expected_mt = {"none": mk.DOCKER_LAYER["none"], "gzip": mk.DOCKER_LAYER["gzip"],
                   "zstd": mk.OCI_LAYER["zstd"]}[compression]
    assert l["media_type"] == expected_mt

    # the stored blobs are the manifest and the config, each under its own hash; the layer is
    # kept once, as its tree and tar-split (docs/storage.md, "One copy of a layer")
    blobs = blob_names(g)
    assert set(blobs) == {hexof(info["digest"]), hexof(info["id"])}
    assert (g.root / "layers/sha256" / hexof(layer.diff_id) / "tar-split.json.zst").exists()
    for name in blobs:
        data = (g.root / "blobs" / "sha256" / name).read_bytes()
        assert mk.sha256_digest(data) == "sha256:" + name
    assert (g.root / "blobs/sha256" / hexof(info["id"])).read_bytes() == config_bytes(img)
    assert layer_dirs(g) == [hexof(layer.diff_id)]
    assert_busybox_tree(layer_rootfs(g, layer.diff_id))
    assert tmp_entries(g.root) == []


def hiding(g, soname):
    """Runs gantry with SONAME made unloadable: an empty file bound over it in a private mount
    namespace. Returns a function running gantry ARGS that returns (exit code, output)."""
    if os.geteuid() != 0:
        pytest.skip(f"hiding {soname} in a private mount namespace needs root")
    ctypes.CDLL(soname)  # where the loader finds it
    lib = next(line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
               if f"/{soname.split('.so')[0]}.so" in line)

    def hidden(*args):
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind /dev/null "$0" && exec "$@"', lib, *g.cmd(*args)]
        p = subprocess.run(argv, capture_output=True, text=True, env=g.environ(), timeout=120)
        return p.returncode, p.stderr + p.stdout
    return hidden


def test_gzip_without_isal_names_the_package_and_other_work_goes_on(g, tmp_path):
    """ISA-L is loaded with dlopen by the gzip code only. Where libisal.so.2 cannot be loaded,
    loading a gzip layer fails with exit 7 naming the package and stores nothing; an
    uncompressed image still loads and runs (run never loads ISA-L)."""
    hidden = hiding(g, "libisal.so.2")
    gz = tmp_path / "gz.tar"
    mk.write_docker_archive(gz, [(mk.busybox_image(compression="gzip"), ["gz:1"])],
                            layer_compression="gzip")
    code, err = hidden("load", gz)
    assert code == 7, err
    assert "ISA-L" in err and "apt-get install libisal2" in err, err
    assert g.refs() == {}
    assert tmp_entries(g.root) == []

    plain = tmp_path / "plain.tar"
    mk.write_docker_archive(plain, [(mk.busybox_image(compression="none"), ["plain:1"])])
    assert hidden("load", plain)[0] == 0
    code, out = hidden("run", "plain:1", "echo", "ran")
    assert code == 0 and "ran" in out, out
    # and with the library back, the gzip image loads
    g.run("load", gz)
    assert set(g.refs()) == {"docker.io/library/plain:1", "docker.io/library/gz:1"}


def test_hashing_without_nettle_names_the_package_and_run_goes_on(g, tmp_path):
    """Nettle is loaded with dlopen by the code that hashes: linked in, its fat build's
    constructor executed CPUID (a hypervisor trap in a VM) at every start. Where libnettle.so.8
    cannot be loaded, a load (which verifies every digest) fails with exit 7 naming the
    package and stores nothing. A run hashes nothing once the image's run view exists (its
    first run reads the manifest and config, verified, to write it), so it starts as before."""
    plain = tmp_path / "plain.tar"
    mk.write_docker_archive(plain, [(mk.busybox_image(compression="none"), ["plain:1"])])
    g.run("load", plain)
    g.run("run", "plain:1", "true")
    hidden = hiding(g, "libnettle.so.8")
    other = tmp_path / "other.tar"
    mk.write_docker_archive(other, [(mk.busybox_image(compression="none", cmd=["true"]),
                                     ["other:1"])])
    code, err = hidden("load", other)
    assert code == 7, err
    assert "hashing needs Nettle" in err and "apt-get install libnettle8" in err, err
    assert set(g.refs()) == {"docker.io/library/plain:1"}
    assert tmp_entries(g.root) == []
    code, out = hidden("run", "plain:1", "echo", "ran")
    assert code == 0 and "ran" in out, out
    # the binary has none of Nettle's code, so nothing of it runs at start
    need_tool("nm")
    syms = subprocess.run(["nm", str(g.bin)], capture_output=True, text=True, check=True).stdout
    assert "_nettle_cpuid" not in syms and "nettle_sha256_update" not in syms


@pytest.mark.parametrize("quiet", [["load", "-q"], ["load", "--quiet"], ["-q", "load"]])
def test_load_quiet_prints_only_the_loaded_lines(g, tmp_path, quiet):
    img = mk.busybox_image(compression="gzip")
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(img, ["sample:latest"])], layer_compression="gzip")
    loud = g.run("load", path)
    assert "id " in loud.err, loud  # the per-image detail the quiet forms leave out
    res = g.run(*quiet, path)
    assert res.out == "Loaded image: docker.io/library/sample:latest\n", res
    assert res.err == "", res


def test_load_docker_archive_same_image_twice_is_idempotent(g, tmp_path):
    img = mk.busybox_image(compression="gzip")
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(img, ["sample:latest"])], layer_compression="gzip")
    g.run("load", path)
    before = store_files(g.root)
    refs = g.refs()
    g.run("load", path)
    assert g.refs() == refs
    assert store_files(g.root) == before


def test_load_multi_image_docker_archive_loads_all_tags(g, tmp_path):
    base = mk.busybox_image(compression="none", cmd=["/bin/sh"])
    motd = mk.Layer.from_files({"etc/motd": "second image\n"}, compression="none")
    second = mk.busybox_image(compression="none", extra_layers=[motd], cmd=["/bin/cat"])
    path = tmp_path / "multi.tar"
    mk.write_docker_archive(path, [(base, ["first:1", "first:2"]),
                                   (second, ["quay.io/team/second:latest"])])
    res = g.run("load", path)
    assert_loaded(res, "docker.io/library/first:1", "docker.io/library/first:2",
                  "quay.io/team/second:latest")
    refs = g.refs()
    assert set(refs) == {"docker.io/library/first:1", "docker.io/library/first:2",
                         "quay.io/team/second:latest"}
    assert refs["docker.io/library/first:1"] == refs["docker.io/library/first:2"]
    assert refs["docker.io/library/first:1"] != refs["quay.io/team/second:latest"]
    assert inspect(g, "first:2")["id"] == config_digest(base)
    info = inspect(g, "quay.io/team/second")
    assert info["id"] == config_digest(second)
    assert [l["diff_id"] for l in info["layers"]] == [l.diff_id for l in second.layers]
    # the busybox layer is shared: one tree for both images
    assert layer_dirs(g) == sorted(hexof(l.diff_id) for l in second.layers)
    assert (layer_rootfs(g, motd.diff_id) / "etc" / "motd").read_text() == "second image\n"
    assert_busybox_tree(layer_rootfs(g, base.layers[0].diff_id))


# --------------------------------------------------------------------------------------------
# load: OCI archive and layout
# --------------------------------------------------------------------------------------------

# (docker schema 2 has no zstd layer type: zstd images use OCI media types)
@pytest.mark.parametrize("compression,docker_media_types", [
    ("none", False), ("gzip", False), ("zstd", False), ("none", True), ("gzip", True)],
    ids=["none", "gzip", "zstd", "none-docker-types", "gzip-docker-types"])
@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_load_oci(g, tmp_path, fmt, compression, docker_media_types):
    img = mk.busybox_image(compression=compression, env=["PATH=/bin", "A=1"],
                           cmd=["/bin/echo", "x"])
    layout = tmp_path / "layout"
    mk.write_oci_layout(layout, img, tags="latest", docker_media_types=docker_media_types)
    want = index_digests(layout)["latest"]
    if fmt == "oci-dir":
        path = layout
    else:
        path = tmp_path / "layout.tar"
        mk.write_oci_archive(path, img, tags="latest", docker_media_types=docker_media_types)
    res = g.run("load", path, "--name", "sample")
    assert_loaded(res, "docker.io/library/sample:latest")
    # OCI/docker manifests are kept as they are: same digest as in the layout
    assert g.refs() == {"docker.io/library/sample:latest": want}
    info = inspect(g, "sample:latest")
    assert info["digest"] == want
    assert info["media_type"] == (mk.DOCKER_MANIFEST if docker_media_types else mk.OCI_MANIFEST)
    assert info["id"] == config_digest(img)
    assert info["config"]["Env"] == ["PATH=/bin", "A=1"]
    assert info["config"]["Cmd"] == ["/bin/echo", "x"]
    layer = img.layers[0]
    [l] = info["layers"]
    assert l["digest"] == layer.digest
    assert l["media_type"] == layer.media_type(docker=docker_media_types)
    assert l["size"] == len(layer.blob())
    assert l["unpacked_size"] == len(layer.tar_bytes())
    assert set(blob_names(g)) == {hexof(want), hexof(info["id"])}  # the layer: kept unpacked
    assert (g.root / "layers/sha256" / hexof(layer.diff_id) / "tar-split.json.zst").exists()
    assert (g.root / "blobs/sha256" / hexof(want)).read_bytes() == \
        (layout / "blobs/sha256" / hexof(want)).read_bytes()
    assert layer_dirs(g) == [hexof(layer.diff_id)]
    assert_busybox_tree(layer_rootfs(g, layer.diff_id))
    assert tmp_entries(g.root) == []


def _whiteout_image():
    upper = mk.Layer([
        mk.Entry.dir("etc"),
        mk.Entry.whiteout("etc/group"),
        mk.Entry.dir("home", 0o755),
        mk.Entry.opaque("home"),
        mk.Entry.file("home/fresh", "fresh\n"),
        mk.Entry.dir("bin"),
        mk.Entry.whiteout("bin/yes"),
        mk.Entry.hardlink("bin/busybox-again", "bin/busybox"),
    ], compression="gzip", created_by="RUN rm /etc/group && rm -rf /home/* # mkimage")
    busybox_in_upper = mk.Layer([mk.Entry.dir("bin"),
                                 mk.Entry.file("bin/busybox", BUSYBOX_BYTES, 0o755)]
                                + upper.entries, compression="gzip",
                                created_by=upper.created_by)
    return mk.busybox_image(compression="gzip", extra_layers=[busybox_in_upper])


def _assert_whiteout_tree(g, img):
    base, upper = img.layers
    assert_busybox_tree(layer_rootfs(g, base.diff_id))
    root = layer_rootfs(g, upper.diff_id)
    for name in ("etc/group", "bin/yes"):
        st = (root / name).lstat()
        assert stat.S_ISCHR(st.st_mode), f"{name} is not an overlay whiteout: {oct(st.st_mode)}"
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (0, 0)
    assert os.getxattr(root / "home", "user.overlay.opaque") == b"y"
    assert (root / "home" / "fresh").read_text() == "fresh\n"
    # the tar-level markers themselves are not in the tree
    names = [p.name for p in root.rglob("*")]
    assert not [n for n in names if n.startswith(".wh.")], names
    # a hard link within the layer is a hard link on disk
    a, b = (root / "bin/busybox").stat(), (root / "bin/busybox-again").stat()
    assert (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev)
    assert (root / "bin/busybox-again").read_bytes() == BUSYBOX_BYTES
    # the lower layer was not touched by the upper layer's whiteouts
    assert (layer_rootfs(g, base.diff_id) / "etc/group").read_text() == mk.GROUP


def test_whiteouts_and_opaque_dirs_become_overlay_markers(g, tmp_path):
    img = _whiteout_image()
    path = tmp_path / "wh.tar"
    mk.write_oci_archive(path, img, tags="latest")
    g.run("load", path, "--name", "wh")
    _assert_whiteout_tree(g, img)


def test_rootless_load_unpacks_tree_with_whiteouts(rootless):
    img = _whiteout_image()
    path = rootless.base / "wh.tar"
    mk.write_docker_archive(path, [(img, ["wh:latest"])], layer_compression="gzip")
    os.chmod(path, 0o644)
    rootless.run("load", path)
    assert list(rootless.refs()) == ["docker.io/library/wh:latest"]
    _assert_whiteout_tree(rootless, img)
    assert tmp_entries(rootless.root) == []
