"""gantry's squashfs image as an OCI artifact (issue 40, docs/lazy-pull.md): `gantry push --format
squashfs` publishes the image as one squashfs blob; `gantry run --pull lazy` mounts it straight
from the registry, each missing run of 256 KiB blocks fetched by one Range request, and prints the
same tree as a plain pull of the image; a small read fetches a small part of the blob, the whole
blob is checked against its digest once every byte of it is in, and a blob that lies is refused
from then on. Shares test_lazy_pull.py's registry, proxy and sample image."""
import json
import urllib.request

import pytest

from conftest import Gantry
from test_lazy_pull import (BIG, INSECURE, LIST, _tools, blob_ranges, hashlib_md5,  # noqa: F401
                            image, lazy_ref, no_leftovers, proxy, reg)

MEDIA = "application/vnd.gantry.image.squashfs"


@pytest.fixture(scope="module")
def artifact(reg, tmp_path_factory, gantry_bin):
    """The sample image pushed with --format squashfs (and as it is, the plain pull to compare
    with): the artifact's reference and manifest, the plain reference."""
    from fixtures import mkimage
    d = tmp_path_factory.mktemp("sqsh-artifact")
    gan = Gantry(d / "store")
    mkimage.write_docker_archive(d / "img.tar", [(image(mkimage), ["sample:latest"])])
    gan.run("load", d / "img.tar")
    ref = f"{reg.addr}/lazy/sqsh:1"
    gan.run("push", INSECURE, "--format", "squashfs", "sample:latest", ref)
    gan.run("push", INSECURE, "sample:latest", f"{reg.addr}/lazy/sqsh-plain:1")
    req = urllib.request.Request(f"http://{reg.addr}/v2/lazy/sqsh/manifests/1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    return ref, json.loads(urllib.request.urlopen(req).read()), f"{reg.addr}/lazy/sqsh-plain:1"


def test_squashfs_artifact_runs_lazily_as_a_plain_pull(g, artifact, proxy, fuse_open):
    ref, manifest, plain_ref = artifact
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [MEDIA]
    blob = manifest["layers"][0]
    g.run("pull", INSECURE, lazy_ref(plain_ref, proxy))
    plain = g.run("run", "--rm", lazy_ref(plain_ref, proxy), "sh", "-c", LIST).out
    lref = lazy_ref(ref, proxy)
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    gets = blob_ranges(proxy, blob["digest"])
    assert gets and all(r["range"] for r in gets)
    sent = sum(r["sent"] for r in gets)
    assert sent < blob["size"] / 2, (sent, blob["size"])  # busybox's blocks and small.txt's
    lazy = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", LIST).out
    assert lazy == plain
    assert "data/gone.txt" not in lazy and "data/dir/new.txt" in lazy
    no_leftovers(g.root)


def test_squashfs_artifact_keeps_xattrs(g, artifact, proxy, fuse_open):
    import os
    from test_lazy_zstd_chunked import xattr_in
    if os.geteuid() != 0:
        pytest.skip("reads the container's tree through /proc/PID/root, as root")
    ref, _, _ = artifact
    assert xattr_in(g, lazy_ref(ref, proxy), "/data/x.txt", "--pull", "lazy", INSECURE) == b"yes"


def test_squashfs_artifact_rootless(rootless, artifact, proxy, fuse_open):
    ref, _, _ = artifact
    r = rootless.run("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(ref, proxy), "sh", "-c",
                     "cat /data/small.txt /data/hard; md5sum /data/big.bin")
    lines = r.out.splitlines()
    assert lines[:2] == ["hello lazy"] * 2
    assert lines[2].split()[0] == hashlib_md5(BIG)
    no_leftovers(rootless.root)


def test_squashfs_artifact_that_lies_is_refused_once_complete(g, artifact, proxy, fuse_open,
                                                               tmp_path):
    """What docs/lazy-pull.md says plainly: squashfs has no per-block digests, so a byte the
    registry alters in a file's data block can be served; once every block is in, the blob's
    sha256 is checked against the manifest's digest, which fails, and every later read is
    refused (the shell itself then dies of SIGBUS when it pages in its own text)."""
    import subprocess
    import time
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    lref = lazy_ref(ref, proxy)
    sync = tmp_path / "sync"
    sync.mkdir()
    # started (its passwd and shell fetched clean), then big.bin (incompressible: stored as is)
    # read through the lying registry, then every file, which completes the blob
    script = ("touch /sync/ready; while [ ! -e /sync/go ]; do sleep 0.05; done; "
              "md5sum /data/big.bin; find / -xdev -type f -exec cat {} + > /dev/null 2>&1; "
              "ls -laR / > /dev/null 2>&1; cat /data/small.txt; echo rc=$?")
    p = g.popen("run", "--rm", "--pull", "lazy", INSECURE, "-v", f"{sync}:/sync", lref, "sh",
                "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (sync / "ready").exists():
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    proxy.set_faults([{"method": "GET", "path": blob["digest"], "action": "corrupt",
                       "offset": 5000, "times": 1}])
    (sync / "go").touch()
    out, err = p.communicate(timeout=120)
    # the altered block may be served (no per-block digest) or the blob completed first: either
    # way big.bin's true content is not what the container got, and the whole blob is refused
    assert hashlib_md5(BIG) not in out, (out, err)
    assert "the manifest says " + blob["digest"] in err, err
    assert "no more of it is served" in err, err
    assert "rc=0" not in out, out
    no_leftovers(g.root)


def test_plain_pull_of_the_artifact_says_how_to_run_it(g, artifact):
    ref, _, _ = artifact
    r = g.fail("pull", INSECURE, ref, code=7)
    assert "squashfs artifact" in r.err and "--pull lazy" in r.err, r.err


def test_push_format_errors(g):
    r = g.fail("push", "--format", "tar", "x:1", "localhost:1/x:1", code=2)
    assert "--format squashfs" in r.err
    r = g.fail("push", "--format", "squashfs", "--compression", "estargz", "x:1",
               "localhost:1/x:1", code=2)
    assert "no --compression" in r.err


def test_gantry_reads_only_the_superblock_of_the_artifact(g, artifact, proxy, fuse_open,
                                                          tmp_path):
    """The artifact's blob is as untrusted as a .sqsh file (its blocks are served before the
    blob's digest can be checked): gantry's own process reads its 96-byte superblock from the
    local copy and nothing more; its tables, etc/passwd and every file are read by processes
    it forked that loaded a seccomp filter first (the facts reader, the FUSE server)."""
    from conftest import need_tool
    import re
    import subprocess
    need_tool("strace")
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]["digest"].split(":")[1]
    log = tmp_path / "trace"
    r = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=pread64,seccomp", "-o", log,
                        *g.cmd("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(ref, proxy),
                               "cat", "/data/small.txt")],
                       capture_output=True, text=True, env=g.environ(), timeout=120)
    assert r.returncode == 0 and r.stdout == "hello lazy\n", r
    lines = log.read_text().splitlines()
    main = lines[0].split()[0]
    confined, readers = set(), set()
    for line in lines:
        pid, call = line.split(None, 1)
        if call.startswith("seccomp(SECCOMP_SET_MODE_FILTER") and "= 0" in call:
            confined.add(pid)
        if call.startswith("pread64(") and blob in call.split(",")[0]:
            if pid == main:
                m = re.search(r", (\d+), (\d+)\) += ", call)
                assert m and int(m[1]) + int(m[2]) <= 96, \
                    f"gantry itself read more than the superblock of the artifact: {line}"
            else:
                assert pid in confined, f"a read of the artifact before confinement: {line}"
                readers.add(pid)
    assert len(readers) >= 2, readers  # the facts reader and the server
