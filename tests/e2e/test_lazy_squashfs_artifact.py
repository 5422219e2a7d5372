"""gantry's squashfs image as an OCI artifact (issue 40, docs/lazy-pull.md): `gantry push --format
squashfs` publishes the image as one squashfs blob and its block-digest table; `gantry run --pull
lazy` mounts it straight from the registry, each missing run of 1 MiB ranges fetched by one Range
request and checked against the table before a byte is served, and prints the same tree as a
plain pull of the image; a small read fetches a small part of the blob; a range that lies fails
the read; hostile tables are refused before anything is recorded. An artifact without the table
(an older gantry's) is checked as a whole once every byte is in. Once a run has made the blob
local it is the node's .sqsh cache entry: the next run asks the registry nothing. Shares
test_lazy_pull.py's registry, proxy and sample image."""
import hashlib
import json
import os
import struct
import urllib.request

import pytest

from conftest import Gantry
from test_lazy_pull import (BIG, INSECURE, LIST, _tools, blob_ranges, hashlib_md5,  # noqa: F401
                            image, lazy_ref, no_leftovers, proxy, reg)

MEDIA = "application/vnd.gantry.image.squashfs"
TABLE = "application/vnd.gantry.squashfs.blockdigests.v1"


def on_demand(g):
    """G with the background fetch off (GANTRY_LAZY_PREFETCH=0): what a read fetches, alone."""
    return Gantry(g.root, env={"GANTRY_LAZY_PREFETCH": "0"})


def put_blob(reg, repo, data):
    """Uploads DATA as a blob of REPO (POST + PUT); its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{reg.addr}/v2/{repo}/blobs/uploads/", method="POST")
    loc = urllib.request.urlopen(req).headers["Location"]
    if loc.startswith("/"):
        loc = f"http://{reg.addr}{loc}"
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(
        f"{loc}{sep}digest={digest}", data=data, method="PUT",
        headers={"Content-Type": "application/octet-stream"}))
    return digest


def put_manifest(reg, repo, tag, doc):
    urllib.request.urlopen(urllib.request.Request(
        f"http://{reg.addr}/v2/{repo}/manifests/{tag}", data=json.dumps(doc).encode(),
        method="PUT", headers={"Content-Type": doc["mediaType"]}))
    return f"{reg.addr}/{repo}:{tag}"


def table_of(blob, rng=1 << 20, size=None, drop=0):
    """A block-digest table as gantry writes it (docs/lazy-pull.md); SIZE, DROP: lies."""
    digests = b"".join(hashlib.sha256(blob[i:i + rng]).digest()
                       for i in range(0, len(blob), rng))
    digests = digests[:len(digests) - 32 * drop]
    return b"GSQBDG01" + struct.pack("<IIQ", rng, 0, len(blob) if size is None else size) + digests


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
    assert [layer["mediaType"] for layer in manifest["layers"]] == [MEDIA, TABLE]
    blob = manifest["layers"][0]
    ranges = (blob["size"] + (1 << 20) - 1) >> 20
    assert manifest["layers"][1]["size"] == 24 + 32 * ranges
    g.run("pull", INSECURE, lazy_ref(plain_ref, proxy))
    plain = g.run("run", "--rm", lazy_ref(plain_ref, proxy), "sh", "-c", LIST).out
    lref = lazy_ref(ref, proxy)
    proxy.clear_log()
    assert on_demand(g).run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
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
    # the rest fetched by `pull`: the user's own node cache entry, which a plain run mounts
    rootless.run("pull", INSECURE, lazy_ref(ref, proxy))
    assert list((rootless.root / "sqsh-cache" / "sqsh").glob("*.sqsh"))
    assert rootless.run("run", "--rm", lazy_ref(ref, proxy), "cat",
                        "/data/small.txt").out == "hello lazy\n"
    no_leftovers(rootless.root)


@pytest.fixture(scope="module")
def legacy(artifact, reg):
    """The artifact as gantry pushed it before block-digest tables: its blob as the one layer."""
    _, manifest, _ = artifact
    doc = dict(manifest, layers=manifest["layers"][:1])
    return put_manifest(reg, "lazy/sqsh", "legacy", doc), doc


def started_then(g, ref, tmp_path, then, fault):
    """Runs REF lazily; once the container has started (its shell fetched clean) the proxy is
    given FAULT and the container runs THEN. Its (out, err)."""
    import subprocess
    import time
    sync = tmp_path / "sync"
    sync.mkdir()
    script = "touch /sync/ready; while [ ! -e /sync/go ]; do sleep 0.05; done; " + then
    p = g.popen("run", "--rm", "--pull", "lazy", INSECURE, "-v", f"{sync}:/sync", ref, "sh",
                "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (sync / "ready").exists():
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    fault.set_faults([fault.rule])
    (sync / "go").touch()
    return p.communicate(timeout=120)


def test_squashfs_artifact_range_that_lies_is_never_served(g, artifact, proxy, fuse_open,
                                                            tmp_path):
    """Every range fetched is checked against the block-digest table before it is written or
    served: a registry that alters one byte of every answer fails the read (EIO), the message
    names the layer, the range and both digests, and not one byte of the altered data reaches
    the container (md5sum prints no sum)."""
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    proxy.rule = {"method": "GET", "path": blob["digest"], "action": "corrupt", "offset": 5000}
    out, err = started_then(on_demand(g), lazy_ref(ref, proxy), tmp_path,
                            "md5sum /data/big.bin; echo rc=$?", proxy)
    assert "/data/big.bin" not in out and "rc=1" in out, (out, err)
    assert "the squashfs artifact " + blob["digest"] in err, err
    assert "its block-digest table says sha256:" in err and "none of them is served" in err, err
    no_leftovers(g.root)


def test_legacy_artifact_that_lies_is_refused_once_complete(g, legacy, proxy, fuse_open,
                                                            tmp_path):
    """An artifact without the table still runs, checked as docs/lazy-pull.md says: squashfs has
    no per-block digests, so a byte the registry alters in a file's data block can be served;
    once every block is in, the blob's sha256 is checked against the manifest's digest, which
    fails, and every later read is refused (the shell itself then dies of SIGBUS when it pages
    in its own text)."""
    ref, doc = legacy
    blob = doc["layers"][0]
    lref = lazy_ref(ref, proxy)
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    # started (its passwd and shell fetched clean), then big.bin (incompressible: stored as is)
    # read through the lying registry, then every file, which completes the blob
    proxy.rule = {"method": "GET", "path": blob["digest"], "action": "corrupt", "offset": 5000,
                  "times": 1}
    out, err = started_then(on_demand(g), lref, tmp_path,
                            "md5sum /data/big.bin; find / -xdev -type f -exec cat {} + > "
                            "/dev/null 2>&1; find / -xdev -exec ls -ld {} + > /dev/null 2>&1; "
                            "cat /data/small.txt; echo rc=$?", proxy)
    # the altered block may be served (no per-block digest) or the blob completed first: either
    # way big.bin's true content is not what the container got, and the whole blob is refused
    assert hashlib_md5(BIG) not in out, (out, err)
    assert "the manifest says " + blob["digest"] in err, err
    assert "no more of it is served" in err, err
    assert "rc=0" not in out, out
    no_leftovers(g.root)


def test_legacy_cache_entry_is_checked_whole(g, legacy, proxy, fuse_open):
    """An artifact without the table becomes a cache entry too (`pull`: its blob checked whole);
    a cache entry of it is hashed whole when opened: a changed byte, and it is removed and not
    used (the run fetches from the registry instead)."""
    ref, doc = legacy
    blob = doc["layers"][0]
    lref = lazy_ref(ref, proxy)
    g.run("pull", "--lazy", INSECURE, lref)
    g.run("pull", INSECURE, lref)
    [entry] = list((g.root / "sqsh-cache" / "sqsh").glob("*.sqsh"))
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    assert proxy.requests() == []
    with open(entry, "r+b") as f:
        f.seek(blob["size"] // 2)
        byte = f.read(1)
        f.seek(blob["size"] // 2)
        f.write(bytes([byte[0] ^ 0xff]))
    r = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat", "/data/small.txt")
    assert r.out == "hello lazy\n" and "is not the blob its manifest names; removed" in r.err, r
    assert blob_ranges(proxy, blob["digest"]) and not entry.exists()
    no_leftovers(g.root)


@pytest.mark.parametrize("lie", ["count", "size", "range", "too-big", "third-layer"])
def test_hostile_block_digest_table_is_refused(g, artifact, reg, lie):
    """A table that does not describe the blob, or one too big to read, is refused (`pull
    --lazy`: exit 4, invalid) before anything is recorded, naming the table and what is wrong
    with it; `run --pull lazy` refuses it too."""
    _, manifest, _ = artifact
    blob = manifest["layers"][0]
    data = urllib.request.urlopen(f"http://{reg.addr}/v2/lazy/sqsh/blobs/{blob['digest']}").read()
    table = {"count": table_of(data, drop=1), "size": table_of(data, size=len(data) + 1),
             "range": table_of(data, rng=3 << 20), "too-big": table_of(data),
             "third-layer": table_of(data)}[lie]
    desc = {"mediaType": TABLE, "digest": put_blob(reg, "lazy/sqsh", table), "size": len(table)}
    if lie == "too-big":
        desc["size"] = (32 << 20) + 1  # refused from the manifest, before a byte is fetched
    layers = [blob, desc] + ([desc] if lie == "third-layer" else [])
    ref = put_manifest(reg, "lazy/sqsh", "lie-" + lie, dict(manifest, layers=layers))
    r = g.fail("pull", "--lazy", INSECURE, ref, code=4)
    want = {"count": "bytes of digests", "size": "describes a blob of",
            "range": "is not a power of two", "too-big": "gantry reads tables of 1 to",
            "third-layer": "has 3 layers"}[lie]
    assert want in r.err, r.err
    assert not list(g.root.glob("lazy/refs/*.json"))
    assert "block-digest table" in g.fail("run", "--rm", "--pull", "lazy", INSECURE, ref,
                                          "true").err


def test_complete_artifact_becomes_the_nodes_sqsh_cache_entry(g, artifact, proxy, fuse_open):
    """A run that read every byte leaves the blob as the node's .sqsh cache entry (the blob
    itself: its digest checked), the sparse copy gone; the next `run --pull lazy` and a plain
    `run` of the reference ask the registry nothing."""
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    lref = lazy_ref(ref, proxy)
    g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c",
          "find / -xdev -type f -exec cat {} + > /dev/null; "
          "find / -xdev -exec ls -ld {} + > /dev/null")
    entries = list((g.root / "sqsh-cache" / "sqsh").glob("*.sqsh"))
    assert [e.name for e in entries] == [manifest_digest(g, lref)[7:] + ".sqsh"], entries
    assert "sha256:" + hashlib.sha256(entries[0].read_bytes()).hexdigest() == blob["digest"]
    assert not (g.root / "lazy" / "blobs" / blob["digest"][7:]).exists()
    assert not [p for p in (g.root / "sqsh-cache").rglob("*") if ".tmp-" in p.name]
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c",
                 "cat /data/small.txt; md5sum /data/big.bin").out.split()[:3] == [
                     "hello", "lazy", hashlib_md5(BIG)]
    assert g.run("run", "--rm", lref, "cat", "/data/small.txt").out == "hello lazy\n"
    assert proxy.requests() == []
    no_leftovers(g.root)


def test_damaged_or_torn_cache_entry_is_not_served(g, artifact, proxy, fuse_open):
    """A cache entry whose bytes changed fails the read of that range (its table) and is removed
    when the container ends; a torn (short) one is not used; either way the next run fetches
    the image from the registry again."""
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    lref = lazy_ref(ref, proxy)
    read_all = ("find / -xdev -type f -exec cat {} + > /dev/null; "
                "find / -xdev -exec ls -ld {} + > /dev/null")
    g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", read_all)
    [entry] = list((g.root / "sqsh-cache" / "sqsh").glob("*.sqsh"))
    with open(entry, "r+b") as f:  # one byte of big.bin's data (stored as is: incompressible)
        data = f.read()
        at = data.index(BIG[1 << 20:(1 << 20) + 64])
        f.seek(at)
        f.write(bytes([data[at] ^ 0xff]))
    proxy.clear_log()
    r = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c",
              "md5sum /data/big.bin; echo rc=$?", check=False)
    assert hashlib_md5(BIG) not in r.out and "rc=1" in r.out, r
    assert "of the node's cached copy have digest sha256:" in r.err, r.err
    assert "its block-digest table says" in r.err and "removed" in r.err, r.err
    assert not entry.exists() and not list((g.root / "sqsh-cache" / "refs").iterdir())
    assert proxy.requests() == []
    # fetched again, whole again, then torn: not used, fetched again
    g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", read_all)
    assert entry.exists() and blob_ranges(proxy, blob["digest"])
    os.truncate(entry, entry.stat().st_size // 2)
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    assert blob_ranges(proxy, blob["digest"])
    no_leftovers(g.root)


def test_runs_add_up_and_pull_completes_into_the_cache(g, artifact, proxy, fuse_open):
    """The ranges one run fetched are the next run's (checked against the table, not fetched
    again); `gantry pull REF` fetches only the rest, and the image is then the node's cache
    entry, which a plain `run` mounts with no request."""
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    lref = lazy_ref(ref, proxy)
    on_demand(g).run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat", "/data/small.txt")
    first = sum(r["sent"] for r in blob_ranges(proxy, blob["digest"]))
    assert 0 < first < blob["size"]
    g.run("system", "prune")  # keeps what the record names: its manifest, config and table
    pct = first * 100 // blob["size"]
    assert f"(lazy, {pct}% local)" in g.run("images").out  # what the sparse copy holds
    proxy.clear_log()
    assert on_demand(g).run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                            "/data/small.txt").out == "hello lazy\n"
    assert blob_ranges(proxy, blob["digest"]) == []
    r = g.run("pull", INSECURE, lref)
    assert f"{first} bytes were local, {blob['size'] - first} fetched" in r.err, r.err
    [entry] = list((g.root / "sqsh-cache" / "sqsh").glob("*.sqsh"))
    assert "sha256:" + hashlib.sha256(entry.read_bytes()).hexdigest() == blob["digest"]
    assert "(lazy, 100% local)" in g.run("images").out
    proxy.clear_log()
    assert g.run("run", "--rm", lref, "sh", "-c", "md5sum /data/big.bin").out.split()[0] == \
        hashlib_md5(BIG)
    assert g.run("pull", INSECURE, lref).code == 0  # in the cache already: the manifest only
    assert blob_ranges(proxy, blob["digest"]) == []
    no_leftovers(g.root)


def test_background_fetch_makes_the_cache_entry(g, artifact, proxy, fuse_open, tmp_path):
    """While a container runs, the serving process fetches the rest of the blob (after the
    container's reads); when the container ends the blob is the node's cache entry, and the
    next run asks the registry nothing."""
    import subprocess
    import time
    ref, manifest, _ = artifact
    blob = manifest["layers"][0]
    lref = lazy_ref(ref, proxy)
    sync = tmp_path / "sync"
    sync.mkdir()
    p = g.popen("run", "--rm", "--pull", "lazy", INSECURE, "-v", f"{sync}:/sync", lref, "sh",
                "-c", "cat /data/small.txt; while [ ! -e /sync/go ]; do sleep 0.05; done",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    copy = g.root / "lazy" / "blobs" / blob["digest"][7:]

    def whole():  # no hole left in the sparse copy: every range written
        try:
            with open(copy, "rb") as f:
                return os.lseek(f.fileno(), 0, os.SEEK_HOLE) >= blob["size"]
        except OSError:
            return False
    deadline = time.monotonic() + 60
    while not whole():
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    (sync / "go").touch()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and out == "hello lazy\n", (out, err)
    assert sum(r["sent"] for r in blob_ranges(proxy, blob["digest"])) == blob["size"]
    [entry] = list((g.root / "sqsh-cache" / "sqsh").glob("*.sqsh"))
    assert "sha256:" + hashlib.sha256(entry.read_bytes()).hexdigest() == blob["digest"]
    proxy.clear_log()
    assert g.run("run", "--rm", lref, "cat", "/data/small.txt").out == "hello lazy\n"
    assert proxy.requests() == []
    no_leftovers(g.root)


def manifest_digest(g, lref):
    [rec] = list((g.root / "lazy" / "refs").glob("*.json"))
    return json.loads(rec.read_text())["manifest"]


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
    import strace_log
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
    main, reads = strace_log.reads_of(log.read_text(), blob)
    readers = set()
    for read in reads:
        if read.pid == main:
            assert read.size + read.offset <= 96, \
                f"gantry itself read more than the superblock of the artifact: {read.line}"
        else:
            assert read.confined, f"a read of the artifact before confinement: {read.line}"
            readers.add(read.pid)
    assert len(readers) >= 2, readers  # the facts reader and the server


def test_the_artifacts_server_is_a_confined_process(g, artifact, proxy, fuse_open, tmp_path):
    """What test_sqsh_hostile.py asserts of `run FILE.sqsh`'s FUSE server, for the artifact run
    lazily (src/engine/launch.cpp serves it confined by
    sandbox::confinement(lazy::server_calls())): the process serving the blob's tree is one gantry forked, each of its threads as nobody (root's run) with no
    capability, no_new_privs and a seccomp filter, while gantry itself has none; it goes when
    the run ends."""
    import subprocess
    import time
    from test_sqsh_hostile import proc_status
    ref, _, _ = artifact
    sync = tmp_path / "sync"
    sync.mkdir()
    p = g.popen("run", "--rm", "--pull", "lazy", INSECURE, "-v", f"{sync}:/sync",
                lazy_ref(ref, proxy), "sh", "-c",
                "cat /data/small.txt > /dev/null; touch /sync/started; "
                "while [ ! -e /sync/stop ]; do usleep 20000; done",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (sync / "started").exists():
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.02)
        children = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        servers = [c for c in children if proc_status(c)["Seccomp"] == "2"
                   and os.path.realpath(f"/proc/{c}/exe") == os.path.realpath(g.bin)]
        assert len(servers) == 1, {c: proc_status(c) for c in children}
        for task in os.listdir(f"/proc/{servers[0]}/task"):
            s = proc_status(servers[0], task)
            if os.geteuid() == 0:
                assert s["Uid"].split() == ["65534"] * 4, s
                assert s["Gid"].split() == ["65534"] * 4, s
            assert s["CapEff"] == s["CapPrm"] == "0" * 16, s
            assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2", s
        main = proc_status(p.pid)
        assert main["Seccomp"] == "0" and main["CapEff"] != "0" * 16, main
    finally:
        (sync / "stop").touch()
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, (out, err)
    assert not os.path.exists(f"/proc/{servers[0]}")
    no_leftovers(g.root)


@pytest.fixture(scope="module")
def hostile_artifacts(reg, artifact, tmp_path_factory):
    """test_sqsh_hostile.py's damaged images, each pushed as a squashfs artifact with the sample's
    config and a block-digest table true to its bytes (the registry is honest; the image is
    not): {case: reference}."""
    import test_sqsh_hostile as th
    _, manifest, _ = artifact
    d = tmp_path_factory.mktemp("hostile-artifacts")
    pristine = _pristine(d)
    refs = {}
    for case, edits in th.hostile_cases(pristine).items():
        data = th.patched(pristine, d, case, edits).read_bytes()
        table = table_of(data)
        layers = [dict(manifest["layers"][0], digest=put_blob(reg, "lazy/hostile", data),
                       size=len(data)),
                  dict(manifest["layers"][1], digest=put_blob(reg, "lazy/hostile", table),
                       size=len(table))]
        cfg = manifest["config"]
        config = urllib.request.urlopen(
            f"http://{reg.addr}/v2/lazy/sqsh/blobs/{cfg['digest']}").read()
        put_blob(reg, "lazy/hostile", config)
        refs[case] = put_manifest(reg, "lazy/hostile", case, dict(manifest, layers=layers))
    return refs


def _pristine(d):
    """test_sqsh_hostile.pristine's image, made in D (a fixture cannot be called)."""
    import shutil
    import subprocess
    import test_sqsh_hostile as th
    from conftest import need_tool
    need_tool("mksquashfs")
    need_tool("setfattr")
    root = d / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    v = root / "victim"
    v.mkdir()
    (v / "small").write_bytes(b"s" * th.SMALL_SIZE)
    (v / "a-victim-entry-name").write_text("entry\n")
    (v / "link").symlink_to(th.LINK_TARGET)
    (v / "xattr").write_text("x\n")
    subprocess.run(["setfattr", "-n", "user.colorkey", "-v", "bluevalue", str(v / "xattr")],
                   check=True)
    img = d / "pristine.sqsh"
    subprocess.run(["mksquashfs", str(root), str(img), "-noI", "-noD", "-noF", "-noX",
                    "-all-root", "-quiet", "-noappend"], check=True, capture_output=True)
    return img


@pytest.mark.parametrize("case", ["dir-entry-name-size", "xattr-key-size", "xattr-value-size",
                                  "xattr-id-count", "symlink-target-size", "fragment-index",
                                  "id-index", "file-size-huge", "fragment-count", "id-count",
                                  "dir-loop"])
def test_hostile_squashfs_artifact_is_refused_or_unreadable_never_a_crash(
        g, hostile_artifacts, proxy, fuse_open, case):
    """A hostile image through the lazy artifact path (its bytes match the table, so every range
    is served to the reader): the confined reader of the tables refuses it before the container
    starts (125, run's code for a fault of a lazily pulled image, naming the artifact, "damaged
    squashfs image", and a hint to push it again, not a file to check), or the container gets an
    I/O error for the damaged part from the confined server (its stderr names the artifact),
    which keeps serving; never a crash of gantry."""
    from types import SimpleNamespace
    from test_sqsh_hostile import assert_no_crash
    ref = lazy_ref(hostile_artifacts[case], proxy)
    r = g.run("run", "--rm", "--pull", "lazy", INSECURE, ref, "/bin/sh", "-c",
              "ls -la /victim; cat /victim/* ; readlink /victim/link; "
              "/bin/busybox true && echo still-served", check=False, timeout=60)
    said = r.err.replace("(damaged squashfs image: corrupted)", "")  # libsquashfs' word
    assert_no_crash(SimpleNamespace(code=r.code, out=r.out, err=said), f"run {case}")
    assert r.code in (0, 125), r
    if r.code == 125:  # refused by the confined reader of the tables, before the container
        assert "the squashfs artifact sha256:" in r.err and "damaged squashfs image" in r.err, r
        assert "push it again" in r.err and "rdsquashfs" not in r.err, r  # no file to check
    else:
        assert "still-served" in r.out, f"run {case}: the server stopped serving: {r!r}"
        # the damaged part: an I/O error naming the artifact (the server's stderr), or for the
        # directory that contains itself the kernel's ELOOP
        seen = r.out + r.err
        assert ("Input/output error" in seen and "the squashfs artifact sha256:" in r.err) or \
            (case == "dir-loop" and "Too many levels of symbolic links" in seen) or \
            case == "id-index", r
    no_leftovers(g.root)
