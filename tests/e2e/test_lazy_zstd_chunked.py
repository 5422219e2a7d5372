"""Lazy pull of zstd:chunked (issue 40, docs/lazy-pull.md): the older generation as Debian 12's
skopeo writes it (io.containers.*, no tar-split: the interop proof) and the current one as
`gantry push --compression zstd:chunked` writes it (io.github.containers.*, tar-split, the 64-byte
footer), against the real docker-registry behind the fault-injecting proxy of test_lazy_pull.py,
whose fixtures and sample image these tests share: the same tree as a plain pull, as root and
rootless, few bytes for a small read, a damaged chunk never served, plain clients (gantry, Debian's
podman) pulling what gantry wrote."""
import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import need_tool
from test_lazy_pull import (BIG, INSECURE, LIST, _tools, blob_ranges,  # noqa: F401
                            check_sample_runs, hashlib_md5, image, push_image, lazy_ref, no_leftovers,
                            podman_store, proxy, reg)

OLD_ZC = "io.containers.zstd-chunked."
NEW_ZC = "io.github.containers.zstd-chunked."


def get_manifest(reg, repo, tag):
    req = urllib.request.Request(f"http://{reg.addr}/v2/{repo}/manifests/{tag}",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    return json.loads(urllib.request.urlopen(req).read())


@pytest.fixture(scope="module")
def skopeo_zstd(reg, tmp_path_factory):
    """The sample image copied by Debian's skopeo with --dest-compress-format zstd:chunked (the
    io.containers.* generation, no tar-split): its reference and manifest. The same layout is
    also copied as it is (gzip), the plain pull to compare with: skopeo 1.9.3's zstd:chunked
    writer re-writes the tar headers but keeps the config's diff_ids, so its layers do not
    decompress to them and a verifying plain pull (gantry's) refuses them."""
    from fixtures import mkimage
    from fixtures.registry.harness import raw_push, skopeo_push
    need_tool("skopeo")
    d = tmp_path_factory.mktemp("zc-skopeo")
    mkimage.write_oci_layout(d / "layout", [(image(mkimage), ["v1"])])
    # into a layout, then uploaded byte for byte: copying to the registry, skopeo reuses a gzip
    # blob the registry already has (busybox's, pushed by other tests) instead of compressing it
    subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-compress-format",
                    "zstd:chunked", f"oci:{d / 'layout'}:v1", f"oci:{d / 'zc'}:v1"],
                   check=True, capture_output=True, timeout=120)
    raw_push(d / "zc", reg.addr, "lazy/zc-skopeo", "1")
    skopeo_push(d / "layout", f"{reg.addr}/lazy/zc-plain:1", "v1")
    return f"{reg.addr}/lazy/zc-skopeo:1", get_manifest(reg, "lazy/zc-skopeo", "1")


@pytest.fixture(scope="module")
def gantry_zstd(reg, tmp_path_factory, gantry_bin):
    """The sample image pushed by gantry with --compression zstd:chunked: reference, manifest."""
    from fixtures import mkimage
    ref = f"{reg.addr}/lazy/zc-gantry:1"
    push_image(tmp_path_factory.mktemp("zc-gantry"), image(mkimage), ref, "zstd:chunked")
    return ref, get_manifest(reg, "lazy/zc-gantry", "1")


def test_skopeo_zstd_chunked_runs_lazily_as_a_plain_pull(g, skopeo_zstd, proxy, fuse_open):
    """Debian 12's skopeo's zstd:chunked (old annotations, 40-byte GnUlInUx footer) run lazily as
    root prints the same tree (types, modes, owners, sizes, links, contents, whiteouts, the
    opaque directory) as a plain pull of the same image, and reads a small file for a few bytes."""
    ref, manifest = skopeo_zstd
    for layer in manifest["layers"]:
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
        assert layer["annotations"][OLD_ZC + "manifest-position"].endswith(":1")
    lref = lazy_ref(ref, proxy)
    r = g.fail("pull", INSECURE, lref)  # skopeo 1.9.3's layers are not their diff_ids
    assert "diff_id" in r.err
    plain_ref = lazy_ref(ref.replace("zc-skopeo", "zc-plain"), proxy)
    g.run("pull", INSECURE, plain_ref)
    plain = g.run("run", "--rm", plain_ref, "sh", "-c", LIST).out
    g.run("rmi", plain_ref)
    lazy = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", LIST).out
    assert lazy == plain
    assert "data/gone.txt" not in lazy and "data/dir/old.txt" not in lazy
    assert "data/dir/new.txt" in lazy and "5678" in lazy
    data = manifest["layers"][1]
    # the background prefetch off: the first lazy run's copy failed its diff_id and was cleared,
    # so a prefetch could fetch the whole layer again before `cat` ends (on a loaded machine)
    g.env["GANTRY_LAZY_PREFETCH"] = "0"
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    sent = sum(r["sent"] for r in blob_ranges(proxy, data["digest"]))
    assert sent < data["size"] / 20, (sent, data["size"])
    no_leftovers(g.root)


def xattr_in(g, ref, path, *run_args):
    """The user.lazy xattr of PATH as a container of REF sees it (read from the host through
    /proc/PID/root: busybox has no getfattr)."""
    name = "xa" + os.urandom(4).hex()
    g.run("run", "-d", "--name", name, *run_args, ref, "sleep", "60")
    try:
        pid = json.loads(Path(f"/run/gantry/{name}/state.json").read_text())["pid"]
        return os.getxattr(f"/proc/{pid}/root{path}", "user.lazy")
    finally:
        g.run("rm", "-f", name)


def test_skopeo_zstd_chunked_keeps_xattrs(g, skopeo_zstd, proxy, fuse_open):
    """The xattr a layer records, as a plain pull and as a lazy run of skopeo's image show it."""
    if os.geteuid() != 0:
        pytest.skip("reads the container's tree through /proc/PID/root, as root")
    ref, _ = skopeo_zstd
    plain_ref = lazy_ref(ref.replace("zc-skopeo", "zc-plain"), proxy)
    g.run("pull", INSECURE, plain_ref)
    assert xattr_in(g, plain_ref, "/data/x.txt") == b"yes"
    no_leftovers(g.root)
    assert xattr_in(g, lazy_ref(ref, proxy), "/data/x.txt", "--pull", "lazy", INSECURE) == b"yes"
    # no no_leftovers() here: after `rm -f` of a detached lazy container its FUSE server can
    # still hold the store's local copy for a moment (the lead's note in /work/notes/40b.md)


def test_skopeo_zstd_chunked_runs_lazily_rootless(rootless, skopeo_zstd, proxy, fuse_open):
    ref, _ = skopeo_zstd
    r = rootless.run("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(ref, proxy), "sh", "-c",
                     "cat /data/small.txt /data/link /data/hard; stat -c '%a' /data/owned;"
                     " md5sum /data/big.bin; ls /data/dir")
    lines = r.out.splitlines()
    assert lines[:3] == ["hello lazy"] * 3
    assert lines[3] == "640"
    assert lines[4].split()[0] == hashlib_md5(BIG)
    assert lines[5:] == ["new.txt"]
    no_leftovers(rootless.root)


def test_zstd_chunked_altered_chunk_is_never_served(g, skopeo_zstd, proxy, fuse_open):
    ref, manifest = skopeo_zstd
    data = manifest["layers"][1]
    lref = lazy_ref(ref, proxy)
    g.run("pull", "--lazy", INSECURE, lref)
    proxy.set_faults([{"method": "GET", "path": data["digest"], "action": "corrupt",
                       "offset": 200}])
    r = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c",
              "md5sum /data/big.bin; echo rc=$?", check=False)
    assert "rc=1" in r.out and "Input/output error" in r.out + r.err, r
    # skopeo's frames carry zstd's own checksum, which fails before the chunk's sha256 would
    assert "layer 2/3" in r.err and "the chunk at blob offset" in r.err, r.err
    assert "does not decompress" in r.err or "digest" in r.err, r.err
    assert hashlib_md5(BIG) not in r.out


def test_gantry_zstd_chunked_push_is_the_current_layout(g, gantry_zstd, skopeo_zstd, proxy,
                                                        fuse_open):
    """gantry push --compression zstd:chunked writes the io.github.containers.* generation (TOC,
    tar-split, 64-byte GNUlInUx footer); a plain gantry pull runs it, and a lazy run prints the
    same tree as skopeo's image run lazily."""
    ref, manifest = gantry_zstd
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    for layer in manifest["layers"]:
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
        a = layer["annotations"]
        assert a[NEW_ZC + "manifest-checksum"].startswith("sha256:")
        assert a[NEW_ZC + "manifest-position"].endswith(":1")
        assert len(a[NEW_ZC + "tarsplit-position"].split(":")) == 3
        with urllib.request.urlopen(urllib.request.Request(
                f"http://{lazy_ref(ref, proxy).split('/')[0]}/v2/lazy/zc-gantry/blobs/"
                f"{layer['digest']}", headers={"Range": "bytes=-72"})) as resp:
            tail = resp.read()
        assert tail[:8] == bytes.fromhex("502a4d1840000000") and tail[-8:] == b"GNUlInUx"
    g.run("pull", INSECURE, ref)
    assert g.run("run", "--rm", ref, "cat", "/data/small.txt").out == "hello lazy\n"
    ours = g.run("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(ref, proxy), "sh", "-c",
                 LIST).out
    theirs = g.run("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(skopeo_zstd[0], proxy),
                   "sh", "-c", LIST).out
    assert ours == theirs
    no_leftovers(g.root)


def test_podman_pulls_and_runs_gantrys_zstd_chunked(gantry_zstd, tmp_path):
    """Debian 12's podman (containers/image 5.23: zstd, not this generation's annotations) pulls
    the blob as a plain tar+zstd layer and runs it."""
    ref, _ = gantry_zstd
    with podman_store() as podman:
        r = podman("pull", INSECURE, ref)
        assert r.returncode == 0, r.stderr
        check_sample_runs(podman, ref)
