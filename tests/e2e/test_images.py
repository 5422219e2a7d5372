"""End-to-end tests of gantry's image store: load, images, inspect, tag, rmi.

Every test builds its sample image with tests/fixtures/mkimage.py (nothing is downloaded) and
drives the gantry binary against a fresh store (fixture `g`, or `rootless` for user nobody).
"""
import ctypes
import datetime
import io
import json
import os
import platform
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import need_tool, store_files, tmp_entries
from fixtures import mkimage as mk

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
BUSYBOX_BYTES = open(mk.BUSYBOX, "rb").read()
SHORT_ID_LEN = 12


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def created_str():
    t = datetime.datetime.fromtimestamp(mk.source_date_epoch(), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def hexof(digest):
    assert digest.startswith("sha256:"), digest
    return digest.split(":", 1)[1]


def layer_rootfs(g, diff_id):
    return g.root / "layers" / "sha256" / hexof(diff_id) / "rootfs"


def layer_dirs(g):
    d = g.root / "layers" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def blob_names(g):
    d = g.root / "blobs" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def images_json(g):
    return {e["reference"]: e for e in g.run("images", "--json").json()}


def inspect(g, ref):
    out = g.run("inspect", ref, "--json").json()
    assert isinstance(out, list) and len(out) == 1, out
    return out[0]


def config_bytes(img):
    return mk.canonical_json(img.config())


def config_digest(img):
    return mk.sha256_digest(config_bytes(img))


def index_digests(layout_dir):
    """ref.name -> manifest digest, from an OCI layout's index.json."""
    idx = json.loads((layout_dir / "index.json").read_text())
    return {m.get("annotations", {}).get(mk.REF_NAME): m["digest"] for m in idx["manifests"]}


def assert_busybox_tree(root):
    """The unpacked busybox layer: bytes, symlinks, modes, files."""
    assert root.is_dir(), f"{root} is missing"
    bb = root / "bin" / "busybox"
    assert bb.is_file() and not bb.is_symlink()
    assert bb.read_bytes() == BUSYBOX_BYTES, "bin/busybox differs from /usr/bin/busybox"
    assert stat.S_IMODE(bb.lstat().st_mode) == 0o755
    for applet in mk.BUSYBOX_APPLETS:
        link = root / "bin" / applet
        assert link.is_symlink(), f"bin/{applet} is not a symlink"
        assert os.readlink(link) == "busybox"
    tmp = (root / "tmp").lstat()
    assert stat.S_ISDIR(tmp.st_mode) and stat.S_IMODE(tmp.st_mode) == 0o1777, oct(tmp.st_mode)
    assert stat.S_IMODE((root / "root").lstat().st_mode) == 0o700
    assert (root / "etc" / "passwd").read_text() == mk.PASSWD
    assert (root / "etc" / "group").read_text() == mk.GROUP
    for d in ("dev", "proc", "sys", "home"):
        assert (root / d).is_dir()
    # nothing else at the top level
    assert sorted(os.listdir(root)) == ["bin", "dev", "etc", "home", "proc", "root", "sys", "tmp"]


def assert_loaded(res, *refs):
    for r in refs:
        assert f"Loaded image: {r}" in res.out, res


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


# --------------------------------------------------------------------------------------------
# multi-arch indexes and --platform
# --------------------------------------------------------------------------------------------

def _platform_digests(layout):
    """platform string -> manifest digest, from the index that index.json points at."""
    top = json.loads((layout / "index.json").read_text())["manifests"]
    assert len(top) == 1
    inner = json.loads((layout / "blobs/sha256" / hexof(top[0]["digest"])).read_text())
    out = {}
    for m in inner["manifests"]:
        p = m["platform"]
        key = "/".join(x for x in (p["os"], p["architecture"], p.get("variant")) if x)
        out[key] = m["digest"]
    return out


@pytest.mark.parametrize("docker_media_types", [False, True], ids=["oci-index", "docker-list"])
@pytest.mark.parametrize("want", [None, "linux/amd64", "linux/arm64/v8", "arm64"])
def test_multiarch_index_platform(g, tmp_path, want, docker_media_types):
    layout = tmp_path / "multi"
    mk.write_oci_layout(layout, (mk.multiarch_index(), "latest"),
                        docker_media_types=docker_media_types)
    digests = _platform_digests(layout)
    assert set(digests) == {"linux/amd64", "linux/arm64/v8"}
    expected = {None: f"linux/{HOST_ARCH}", "linux/amd64": "linux/amd64",
                "linux/arm64/v8": "linux/arm64/v8", "arm64": "linux/arm64/v8"}[want]
    if expected == "linux/arm64":  # the sample's arm64 image is v8
        expected = "linux/arm64/v8"
    if expected not in digests:
        pytest.skip(f"host platform {expected} is not in the sample index")
    args = ["load", layout, "--name", "multi"]
    if want:
        args += ["--platform", want]
    g.run(*args)
    refs = g.refs()
    assert refs == {"docker.io/library/multi:latest": digests[expected]}
    [entry] = g.run("images", "--json").json()
    assert entry["platform"] == expected
    assert entry["digest"] == digests[expected]
    # only the chosen image's blobs are stored (plus the index itself at most)
    other = [d for p, d in digests.items() if p != expected]
    for d in other:
        assert hexof(d) not in blob_names(g)


def test_multiarch_oci_archive_default_is_host(g, tmp_path):
    path = tmp_path / "multi.tar"
    mk.write_oci_archive(path, (mk.multiarch_index(compression="zstd"), "v1"))
    res = g.run("load", path, "--name", "example.com/multi")
    assert_loaded(res, "example.com/multi:v1")
    [entry] = g.run("images", "--json").json()
    if HOST_ARCH not in ("amd64", "arm64"):
        pytest.skip("host is neither amd64 nor arm64")
    assert entry["platform"].startswith(f"linux/{HOST_ARCH}")


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_multiarch_unavailable_platform_fails_naming_platforms(g, tmp_path, fmt):
    layout = tmp_path / "multi"
    if fmt == "oci-dir":
        mk.write_oci_layout(layout, (mk.multiarch_index(), "latest"))
        path = layout
    else:
        path = tmp_path / "multi.tar"
        mk.write_oci_archive(path, (mk.multiarch_index(), "latest"))
    res = g.fail("load", path, "--platform", "linux/s390x", code=3)
    first = res.err.splitlines()[0]
    assert first.startswith("gantry: error: "), res
    assert "linux/s390x" in first, res
    assert "linux/amd64" in first and "linux/arm64/v8" in first, res
    assert "hint:" in res.err
    assert g.refs() == {}
    assert layer_dirs(g) == []
    assert tmp_entries(g.root) == []


def test_multiarch_index_without_variant_matches_v8(g, tmp_path):
    # a platform without a variant in the index still matches linux/arm64 and linux/arm64/v8
    idx = mk.multiarch_index(platforms=(("amd64", None), ("arm64", None)))
    layout = tmp_path / "multi"
    mk.write_oci_layout(layout, (idx, "latest"))
    digests = _platform_digests(layout)
    g.run("load", layout, "--name", "m", "--platform", "linux/arm64/v8")
    assert g.refs() == {"docker.io/library/m:latest": digests["linux/arm64"]}


def test_platform_flag_on_single_image_must_match(g, tmp_path):
    img = mk.busybox_image(arch="arm64", variant="v8")
    path = tmp_path / "arm.tar"
    mk.write_oci_archive(path, img, tags="latest")
    res = g.fail("load", path, "--name", "arm", "--platform", "linux/amd64", code=3)
    assert "linux/arm64/v8" in res.err and "linux/amd64" in res.err
    assert g.refs() == {} and layer_dirs(g) == [] and tmp_entries(g.root) == []
    g.run("load", path, "--name", "arm", "--platform", "linux/arm64")
    assert images_json(g)["docker.io/library/arm:latest"]["platform"] == "linux/arm64/v8"


def test_bad_platform_flag_is_usage_error(g, tmp_path):
    layout = tmp_path / "multi"
    mk.write_oci_layout(layout, (mk.multiarch_index(), "latest"))
    res = g.fail("load", layout, "--platform", "linux//amd64", code=2)
    assert "linux//amd64" in res.err


# --------------------------------------------------------------------------------------------
# naming rules
# --------------------------------------------------------------------------------------------

def test_naming_containerd_image_name_wins(g, tmp_path):
    img = mk.busybox_image()
    layout = tmp_path / "layout"
    mk.write_oci_layout(layout, img, tags="1.0")
    idx = json.loads((layout / "index.json").read_text())
    idx["manifests"][0]["annotations"]["io.containerd.image.name"] = \
        "example.com:5000/team/app:1.0"
    (layout / "index.json").write_text(json.dumps(idx))
    g.run("load", layout, "--name", "ignored")
    assert list(g.refs()) == ["example.com:5000/team/app:1.0"]


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
@pytest.mark.parametrize("name,expected", [
    (None, "localhost/myimage:v1"),
    ("myrepo", "docker.io/library/myrepo:v1"),
    ("quay.io/org/thing", "quay.io/org/thing:v1"),
    ("localhost:5000/x", "localhost:5000/x:v1"),
])
def test_naming_tag_only_ref_name(g, tmp_path, fmt, name, expected):
    img = mk.busybox_image()
    if fmt == "oci-dir":
        path = tmp_path / "myimage"
        mk.write_oci_layout(path, img, tags="v1")
    else:
        path = tmp_path / "myimage.tar"
        mk.write_oci_archive(path, img, tags="v1")
    args = ["load", path] + (["--name", name] if name else [])
    res = g.run(*args)
    assert_loaded(res, expected)
    assert list(g.refs()) == [expected]


def test_naming_fallback_from_awkward_file_name_is_a_valid_reference(g, tmp_path):
    img = mk.busybox_image()
    path = tmp_path / "My Image_2024.tar"
    mk.write_oci_archive(path, img, tags="v1")
    g.run("load", path)
    [ref] = g.refs()
    assert ref.startswith("localhost/") and ref.endswith(":v1"), ref
    # whatever the name, gantry itself accepts it as a reference
    assert inspect(g, ref)["references"] == [ref]
    g.run("tag", ref, "again:1")


def test_naming_full_ref_name(g, tmp_path):
    img = mk.busybox_image()
    path = tmp_path / "x.tar"
    mk.write_oci_archive(path, img, tags=["registry.local/ns/app:2", "library/busybox:1.36"])
    g.run("load", path)
    refs = g.refs()
    assert set(refs) == {"registry.local/ns/app:2", "docker.io/library/busybox:1.36"}
    assert len(set(refs.values())) == 1


@pytest.mark.parametrize("name,expected", [(None, "localhost/plain:latest"),
                                           ("named", "docker.io/library/named:latest")])
def test_naming_unnamed_images_fall_back(g, tmp_path, name, expected):
    img = mk.busybox_image()
    oci = tmp_path / "plain.oci"
    mk.write_oci_layout(oci, img)  # no ref.name annotation at all
    docker = tmp_path / "plain.tar"
    mk.write_docker_archive(docker, [(img, [])])  # RepoTags: null
    for path in (oci, docker):
        store = g.root.parent / ("s-" + path.suffix[1:])
        gg = type(g)(store)
        args = ["load", path] + (["--name", name] if name else [])
        res = gg.run(*args)
        assert_loaded(res, expected)
        assert list(gg.refs()) == [expected], path


def test_naming_docker_archive_repo_tags_normalised(g, tmp_path):
    img = mk.busybox_image()
    path = tmp_path / "d.tar"
    mk.write_docker_archive(path, [(img, ["myns/app:3", "localhost:5000/a/b:c"])])
    g.run("load", path)
    assert set(g.refs()) == {"docker.io/myns/app:3", "localhost:5000/a/b:c"}


def test_load_invalid_name_flag_fails(g, tmp_path):
    img = mk.busybox_image()
    path = tmp_path / "x.tar"
    mk.write_oci_archive(path, img, tags="v1")
    res = g.fail("load", path, "--name", "Bad/Name", code=4)
    assert "Bad/Name" in res.err and "lowercase" in res.err
    assert g.refs() == {}
    assert layer_dirs(g) == []


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
