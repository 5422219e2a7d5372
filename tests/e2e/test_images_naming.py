"""End-to-end tests of what `gantry load` takes and how it names it: the platform chosen from a
multi-arch OCI index or docker manifest list (--platform, the host's by default), and the
naming rules (containerd's image name, ref.name tags, --name, RepoTags, fallbacks).

Every test builds its sample image with tests/fixtures/mkimage.py (nothing is downloaded) and
drives the gantry binary against a fresh store (fixture `g`).
"""
import json
import platform

import pytest

from conftest import tmp_entries
from fixtures import mkimage as mk
from images_common import assert_loaded, blob_names, hexof, images_json, inspect, layer_dirs

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


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
    listed = {e["platform"]: e["digest"] for e in g.run("images", "--json").json()}
    if not want:  # every platform the layout holds, as docker loads them; the host's the default
        assert listed == digests
        return
    assert listed == {expected: digests[expected]}
    # only the chosen image's blobs are stored (plus the index itself at most)
    other = [d for p, d in digests.items() if p != expected]
    for d in other:
        assert hexof(d) not in blob_names(g)


def test_multiarch_oci_archive_default_is_host(g, tmp_path):
    path = tmp_path / "multi.tar"
    mk.write_oci_archive(path, (mk.multiarch_index(compression="zstd"), "v1"))
    res = g.run("load", path, "--name", "example.com/multi")
    assert_loaded(res, "example.com/multi:v1")
    if HOST_ARCH not in ("amd64", "arm64"):
        pytest.skip("host is neither amd64 nor arm64")
    # both platforms held by the name, the host's its default (inspect, run)
    assert sorted(e["platform"] for e in g.run("images", "--json").json()) == \
        ["linux/amd64", "linux/arm64/v8"]
    [entry] = g.run("inspect", "--json", "example.com/multi:v1").json()
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
