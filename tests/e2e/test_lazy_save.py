"""`gantry save --compression estargz|zstd:chunked` (issue 40, docs/lazy-pull.md): the archive's
layers are converted as `push --compression` converts them (one code path, lazy::convert_to); it
loads with `gantry load` and Debian's podman, skopeo copies it to a registry unchanged, and gantry
then runs it lazily from there (Range requests, not the whole blob). Combinations without sense
are refused (exit 2). Shares test_lazy_pull.py's registry, proxy and sample image."""
import json
import subprocess
import tarfile

import pytest

from conftest import Gantry, need_tool
from test_lazy_pull import (INSECURE, _tools, blob_ranges, check_sample_runs,  # noqa: F401
                            image, lazy_ref, no_leftovers, podman_store, proxy, reg)


@pytest.fixture(scope="module")
def store(tmp_path_factory, gantry_bin):
    from fixtures import mkimage
    d = tmp_path_factory.mktemp("lazy-save")
    gan = Gantry(d / "store")
    mkimage.write_docker_archive(d / "img.tar", [(image(mkimage), ["sample:latest"])])
    gan.run("load", d / "img.tar")
    return gan, d


def manifest_of(archive):
    with tarfile.open(archive) as t:
        index = json.load(t.extractfile("index.json"))
        top = index["manifests"][0]
        doc = json.load(t.extractfile("blobs/sha256/" + top["digest"][7:]))
    return top, doc


@pytest.mark.parametrize("compression", ["estargz", "zstd:chunked"])
def test_saved_archive_loads_and_runs_lazily_once_copied(store, reg, proxy, g, compression,
                                                         fuse_open, tmp_path):
    need_tool("skopeo")
    gan, _ = store
    out = tmp_path / "img.tar"
    gan.run("save", "--format", "oci-archive", "--compression", compression, "-o", out,
            "sample:latest")
    top, doc = manifest_of(out)
    assert top["annotations"]["io.containerd.image.name"].endswith("sample:latest")
    key = ("containerd.io/snapshot/stargz/toc.digest" if compression == "estargz"
           else "io.github.containers.zstd-chunked.manifest-position")
    assert all(key in layer.get("annotations", {}) for layer in doc["layers"]), doc
    # the same conversion as push: pushing the image gives the same manifest
    plain = Gantry(tmp_path / "plain")
    plain.run("load", out)
    assert plain.run("run", "--rm", "sample:latest", "cat", "/data/small.txt").out == \
        "hello lazy\n"
    repo = "lazy/saved-" + compression.replace(":", "-")
    r = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci-archive:{out}",
                        f"docker://{reg.addr}/{repo}:1"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    ref = lazy_ref(f"{reg.addr}/{repo}:1", proxy)
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, ref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    gets = [x for layer in doc["layers"] for x in blob_ranges(proxy, layer["digest"])]
    assert gets and all(x["range"] for x in gets), gets  # read lazily: Range requests only
    pushed = gan.run("push", INSECURE, "--compression", compression, "sample:latest",
                     f"{reg.addr}/{repo}-pushed:1").out
    assert "Digest: " + top["digest"] in pushed, (pushed, top)
    no_leftovers(g.root)


def test_podman_loads_a_saved_zstd_chunked_archive(store, tmp_path):
    """Debian 12's podman loads the archive (tar+zstd layers) and runs it."""
    gan, _ = store
    out = tmp_path / "img.tar"
    with podman_store() as podman:
        gan.run("save", "--format", "oci-archive", "--compression", "zstd:chunked", "-o", out,
                "sample:latest")
        r = podman("load", "-i", out)
        assert r.returncode == 0, r.stderr
        loaded = r.stdout.strip().splitlines()[-1].split(": ", 1)[1].split(",")[0]
        check_sample_runs(podman, loaded)


def test_save_compression_errors(store, tmp_path):
    gan, _ = store
    out = tmp_path / "x.tar"
    r = gan.fail("save", "--compression", "estargz", "-o", out, "sample:latest", code=2)
    assert "--format oci-archive" in r.err and "docker-archive" in r.err, r.err
    r = gan.fail("save", "--format", "squashfs", "--compression", "zstd:chunked", "-o", out,
                 "sample:latest", code=2)
    assert "no --compression" in r.err, r.err
    r = gan.fail("save", "--format", "oci-archive", "--compression", "gzip", "-o", out,
                 "sample:latest", code=2)
    assert "--compression estargz or zstd:chunked" in r.err, r.err
    assert not out.exists() and not list(tmp_path.glob("x.tar*"))
