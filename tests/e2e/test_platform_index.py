"""One Dockerfile built for two platforms by gantry and by podman 4.3 (issue 80), in the same
run: `gantry build --platform linux/amd64,linux/arm64` and `podman build --platform
linux/amd64,linux/arm64 --manifest`, FROM one base index whose arm64 image is Debian's arm64
busybox (tests/fixtures/arm64_busybox.py), with a RUN step that writes `uname -m` (under
qemu-aarch64 in the arm64 build) and the TARGET*/BUILD* args into files. Both indexes are
pushed to a local docker-registry and read back with skopeo, independently of either tool:
each holds two images whose RUN output says x86_64 and aarch64. gantry pulls its own index
back and runs both platforms; it pulls podman's as well."""
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import IN_CI
from fixtures import arm64_busybox as arm64_deb
from fixtures.arm64_busybox import arm64_busybox, arm64_busybox_image
from registry_common import INSECURE, publish
from registry_common import _tools, gr, reg  # noqa: F401 (fixtures)
from test_build_podman import podman  # noqa: F401 (fixture: podman 4.3 as root, its own store)
from test_foreign_platform import handler, platforms_of  # noqa: F401 (fixture)

DOCKERFILE = """\
FROM {base}
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDARCH
RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] \
$BUILDPLATFORM $BUILDARCH" > /args
"""
# what each platform's RUN step wrote: uname's machine, then the predefined args as buildah
# sets them (its TARGETPLATFORM has no variant for linux/arm64: `--platform linux/arm64` says
# none, and the base's v8 is arm64's default)
EXPECTED = {
    "linux/amd64": ("x86_64\n", "linux/amd64 linux amd64 [] linux/amd64 amd64\n"),
    "linux/arm64": ("aarch64\n", "linux/arm64 linux arm64 [] linux/amd64 amd64\n"),
}


@pytest.fixture(scope="module")
def busybox_arm64():
    path = arm64_busybox()
    if path is None:  # as need_tool: a failure in CI, whose machines reach Debian's archive
        (pytest.fail if IN_CI else pytest.skip)(
            f"Debian's arm64 busybox-static could not be fetched: {arm64_deb.REASON}")
    return path


def layout_of(dest, where):
    """The registry's REF copied with all its platforms to an OCI layout by skopeo."""
    subprocess.run(["skopeo", "copy", "-q", "--all", "--src-tls-verify=false",
                    f"docker://{dest}", f"oci:{where}:x"], check=True, capture_output=True,
                   timeout=120)
    return Path(where)


def media_type(dest):
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(raw)["mediaType"]


def run_outputs(layout):
    """{OS/ARCH: (/arch, /args)} of each image the layout's index lists, read from its layers
    (the last layer holding each file wins), and the platforms as the index lists them."""
    def blob(d):
        return layout / "blobs" / d.replace(":", "/")

    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    index = json.loads(blob(top["digest"]).read_text())
    out, listed = {}, []
    for m in index["manifests"]:
        p = m["platform"]
        manifest = json.loads(blob(m["digest"]).read_text())
        files = {}
        for layer in manifest["layers"]:
            with tarfile.open(blob(layer["digest"]), "r:*") as t:
                for member in t.getmembers():
                    name = member.name.lstrip("./")
                    if name in ("arch", "args") and member.isfile():
                        files[name] = t.extractfile(member).read().decode()
        platform = f"{p['os']}/{p['architecture']}"
        assert platform not in out, f"{platform} twice in {index}"
        out[platform] = (files.get("arch"), files.get("args"))
        listed.append("/".join(filter(None, (p["os"], p["architecture"], p.get("variant")))))
    return out, listed


def test_two_platform_build_beside_podman(gr, reg, mk, tmp_path, podman, handler,
                                          busybox_arm64):
    base = f"{reg.addr}/base/busybox:multi"
    publish(mk, tmp_path, base, mk.Index([mk.busybox_image(),
                                          arm64_busybox_image(mk, busybox_arm64)]),
            all_platforms=True)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    os.chmod(ctx / "Dockerfile", 0o644)
    # gantry: one build per platform, one name holding both; pushed as an index
    r = gr.run("build", INSECURE, "--platform", "linux/amd64,linux/arm64", "-t", "x:both", ctx)
    built = platforms_of(gr, "docker.io/library/x:both")
    # (the arm64 image keeps its base's variant, v8, as docker's builds do)
    assert sorted(built) == ["linux/amd64", "linux/arm64/v8"], (built, r)
    gdest = f"{reg.addr}/gantry/x:both"
    r = gr.run("push", INSECURE, "x:both", gdest)
    assert f"Pushed image: {gdest} (an index of 2 platforms)" in r.out, r
    # push --platform: that platform's image alone under the tag, no index
    one = f"{reg.addr}/gantry/x:arm"
    r = gr.run("push", INSECURE, "--platform", "linux/arm64", "x:both", one)
    assert f"Pushed image: {one}\nDigest: {built['linux/arm64/v8']}" in r.out, r
    assert media_type(one) == "application/vnd.oci.image.manifest.v1+json"
    # podman: the same file, its --manifest list pushed with every image
    podman("build", "--tls-verify=false", "--network", "host",
           "--platform", "linux/amd64,linux/arm64", "--manifest", "localhost/x:both", ctx)
    pdest = f"{reg.addr}/podman/x:both"
    podman("manifest", "push", "--all", "--tls-verify=false", "localhost/x:both",
           f"docker://{pdest}")
    # both indexes, read with skopeo: two images each, whose RUN steps ran on their platform
    gout, glisted = run_outputs(layout_of(gdest, tmp_path / "g-layout"))
    pout, plisted = run_outputs(layout_of(pdest, tmp_path / "p-layout"))
    assert gout == EXPECTED, gout
    assert pout == EXPECTED, pout
    # the arm64 images keep their base's variant in both (podman's list: in the order its
    # builds finished)
    assert glisted == sorted(plisted) == ["linux/amd64", "linux/arm64/v8"], (glisted, plisted)
    # what the registry serves (skopeo's layout holds OCI indexes whatever it copied)
    assert media_type(gdest) == "application/vnd.oci.image.index.v1+json"
    # (podman 4.3 keeps a Docker manifest list locally and pushes it as an OCI index)
    assert media_type(pdest) == "application/vnd.oci.image.index.v1+json"
    # gantry's index back from the registry: both platforms, each one running
    gr.run("rmi", "x:both")
    r = gr.run("pull", INSECURE, "--all-platforms", gdest)
    assert f"Pulled image: {gdest} (linux/amd64, linux/arm64/v8)" in r.out, r
    assert platforms_of(gr, gdest) == built
    for platform, (arch, _) in EXPECTED.items():
        r = gr.run("run", "--rm", "--platform", platform, gdest, "sh", "-c", "cat /arch; uname -m")
        assert r.out == arch * 2, (platform, r)
    # podman's manifest list pulls the same way
    r = gr.run("pull", INSECURE, "--all-platforms", pdest)  # (in its list's order)
    assert f"Pulled image: {pdest} (" in r.out, r
    assert sorted(platforms_of(gr, pdest)) == ["linux/amd64", "linux/arm64/v8"], r


def test_inspect_and_save_of_one_platform(g, mk, tmp_path):
    """inspect --platform and save --platform (docker 28's) of a name holding two platforms:
    that platform's image, or an error naming what the name holds; save of it alone, and
    loaded back, the name holds only it."""
    path = tmp_path / "multi.tar"
    mk.write_oci_archive(path, (mk.multiarch_index(), "v1"))
    g.run("load", path, "--name", "example.com/multi")
    ref = "example.com/multi:v1"
    held = {e["platform"]: e for e in g.run("images", "--json").json()}
    assert sorted(held) == ["linux/amd64", "linux/arm64/v8"]
    [arm] = g.run("inspect", "--json", "--platform", "linux/arm64", ref).json()
    assert (arm["platform"], arm["digest"]) == ("linux/arm64/v8", held["linux/arm64/v8"]["digest"])
    r = g.run("inspect", "--platform", "linux/arm64", "-f", "{{.Architecture}} {{.Variant}}", ref)
    assert r.out == "arm64 v8\n", r
    r = g.run("history", "-q", "--no-trunc", "--platform", "linux/arm64", ref)
    assert r.out == held["linux/arm64/v8"]["id"] + "\n", r
    [amd] = g.run("inspect", "--json", ref).json()  # the host's, without --platform
    assert amd["digest"] == held["linux/amd64"]["digest"]
    r = g.fail("inspect", "--platform", "linux/s390x", ref, code=3)
    assert f"image {ref} holds no image for linux/s390x (it holds linux/amd64, " \
           "linux/arm64/v8)" in r.err, r
    assert f"gantry pull --platform linux/s390x {ref}" in r.err, r
    r = g.fail("inspect", "--platform", "linux/arm64", held["linux/amd64"]["id"], code=3)
    assert "holds no image for linux/arm64 (it holds linux/amd64)" in r.err, r
    # save: the platforms asked only
    g.fail("save", "--platform", "linux/amd64,linux/arm64", "-o", tmp_path / "d.tar", ref,
           code=2)  # a docker-archive holds one image per name
    g.fail("save", "--format", "oci-archive", "--platform", "linux/s390x",
           "-o", tmp_path / "none.tar", ref, code=3)
    assert not (tmp_path / "none.tar").exists()
    saved = tmp_path / "arm.tar"
    g.run("save", "--format", "oci-archive", "--platform", "linux/arm64", "-o", saved, ref)
    with tarfile.open(saved) as t:  # one image, not an index (its layers as the store keeps
        [top] = json.load(t.extractfile("index.json"))["manifests"]  # them: a new manifest)
        manifest = json.load(t.extractfile(f"blobs/sha256/{top['digest'][7:]}"))
    assert top["mediaType"] == "application/vnd.oci.image.manifest.v1+json", top
    assert manifest["config"]["digest"] == held["linux/arm64/v8"]["id"], manifest
    assert top["annotations"]["io.containerd.image.name"] == ref
    both = tmp_path / "both.tar"
    g.run("save", "--format", "oci-archive", "--platform", "linux/arm64,linux/amd64", "-o", both,
          ref)
    g.run("rmi", ref)
    g.run("load", "-i", saved)
    assert {e["platform"]: e["id"] for e in g.run("images", "--json").json()} == \
        {"linux/arm64/v8": held["linux/arm64/v8"]["id"]}
    g.run("load", "-i", both)
    assert sorted(e["platform"] for e in g.run("images", "--json").json()) == sorted(held)
    # load --platform of some (a list, as docker 29's): each must be in the archive
    g.run("rmi", ref)
    r = g.fail("load", "--platform", "linux/arm64,linux/s390x", path, "--name",
               "example.com/multi", code=3)
    assert "has no image for platform linux/s390x (it has linux/amd64, linux/arm64/v8)" in r.err, r
    assert g.refs() == {}
    g.run("load", "--platform", "linux/arm64,linux/amd64", path, "--name", "example.com/multi")
    assert sorted(e["platform"] for e in g.run("images", "--json").json()) == sorted(held)
    # a docker archive holds one image per name: one of another platform is refused
    amd = tmp_path / "amd.tar"
    mk.write_docker_archive(amd, [(mk.busybox_image(), ["amd:1"])])
    r = g.fail("load", "--platform", "linux/arm64", amd, code=3)
    assert "image is for linux/amd64, not linux/arm64" in r.err, r
    assert "docker.io/library/amd:1" not in g.refs()
