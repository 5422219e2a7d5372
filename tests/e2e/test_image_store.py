"""Read-only shared image stores (issue 24): `push --image-store DIR` / `save --format squashfs
--image-store DIR` publish an image as one squashfs object, and any other store ("node") runs it
from there with `--image-store DIR`, GANTRY_IMAGE_STORES or the config file, writing nothing into
DIR. Two nodes publishing the same image at once both succeed. `load FILE.sqsh` brings a squashfs
image into a store.

A real NFS mount needs the kernel's NFS client, which this VM's kernel does not have
(reference/this-machine.md: no `nfs` in /proc/filesystems, no modules): the NFS test runs where the
kernel has it and says why it skips where it does not; the same two-node checks run on a local
directory everywhere."""
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Gantry, load_busybox, need_tool


def tree(root):
    """Every path under ROOT with its size and mtime (to prove nothing was written)."""
    root = Path(root)
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns)
                  for p in root.rglob("*"))


@pytest.fixture
def published(g, mk, tmp_path):
    need_tool("tar2sqfs")
    ref = load_busybox(g, mk, tmp_path, env=["PATH=/bin", "FROM=shared-store"],
                       cmd=["/bin/sh", "-c", "echo from-config $FROM"])
    shared = tmp_path / "shared"
    r = g.run("push", "--image-store", shared, ref)
    assert "Published image: docker.io/library/sample:latest" in r.out
    return ref, shared


def node(tmp_path, name, **env):
    """Another machine's local store (empty)."""
    return Gantry(tmp_path / name / "store", env=env)


def test_publish_layout_and_run_on_another_node(published, tmp_path):
    ref, shared = published
    objects = list((shared / "sqsh").iterdir())
    assert len(objects) == 1 and objects[0].name.endswith(".sqsh")
    digest = "sha256:" + objects[0].name[:-5]
    assert (shared / "manifests" / (digest[7:] + ".json")).is_file()
    assert (shared / "refs" / "docker.io%2Flibrary%2Fsample%3Alatest").read_text() == digest + "\n"
    assert list((shared / "configs").iterdir())
    assert not [p for p in shared.rglob("*") if ".tmp-" in p.name]
    # `unsquashfs` reads the object as a plain squashfs
    out = subprocess.run(["unsquashfs", "-l", "-d", "", str(objects[0])], capture_output=True,
                         text=True, check=True).stdout
    assert "/bin/busybox" in out

    n = node(tmp_path, "node1")
    r = n.run("--image-store", shared, "run", "--rm", ref)
    assert r.out.strip() == "from-config shared-store"
    r = n.run("--image-store", shared, "run", "--rm", "-e", "FROM=flag", "sample", "sh", "-c",
              "echo $FROM; grep ' / ' /proc/self/mountinfo | head -1")
    assert r.out.splitlines()[0] == "flag"
    # by digest too
    assert n.run("--image-store", shared, "run", "--rm", "sample@" + digest, "true").code == 0
    assert n.run("--image-store", shared, "run", "--rm", digest, "true").code == 0
    # nothing of it in the node's own store
    assert n.refs() == {}
    # images lists it with the store it is in; inspect reads it
    lines = n.run("--image-store", shared, "images").out.splitlines()
    assert lines[0].split()[-1] == "STORE"
    assert any(l.startswith("docker.io/library/sample") and l.endswith(str(shared))
               for l in lines[1:]), lines
    j = n.run("--image-store", shared, "images", "--json").json()
    assert j[0]["digest"] == digest and j[0]["image_store"] == str(shared)
    ins = n.run("--image-store", shared, "inspect", "--json", ref).json()[0]
    assert ins["digest"] == digest and ins["image_store"] == str(shared)
    assert ins["config"]["Env"] == ["PATH=/bin", "FROM=shared-store"]
    # without the store: not found (run's own errors are 125)
    assert "not in the store" in n.fail("run", "--rm", "--pull", "never", ref, code=125).err


def test_env_and_config_file(published, tmp_path):
    ref, shared = published
    n = node(tmp_path, "n-env", GANTRY_IMAGE_STORES=f"/nonexistent:{shared}")
    assert n.run("run", "--rm", ref).out.strip() == "from-config shared-store"
    conf = tmp_path / "config.yaml"
    conf.write_text(f"image_stores:\n  - /nonexistent\n  - {shared}\n")
    n = node(tmp_path, "n-conf", GANTRY_CONFIG=str(conf))
    assert n.run("run", "--rm", ref).out.strip() == "from-config shared-store"
    conf.write_text("image_stores: {a: 1}\n")
    r = n.fail("run", "--rm", ref, code=125)
    assert str(conf) in r.err and "image_stores" in r.err
    assert n.fail("inspect", ref, code=4)
    # a key gantry does not read is refused, named (a misspelt image_stores is not ignored)
    conf.write_text(f"image_stores: [{shared}]\nimage-stores: [/x]\n")
    r = n.fail("inspect", ref, code=4)
    assert 'line 2: unknown key "image-stores"' in r.err
    # the example the package installs (every key, its default) is read as it is
    example = Path(__file__).resolve().parents[2] / "packaging" / "config.yaml"
    n2 = node(tmp_path, "n-example", GANTRY_CONFIG=str(example),
              GANTRY_IMAGE_STORES=str(shared))
    assert n2.run("run", "--rm", ref).out.strip() == "from-config shared-store"
    # a local image is found without reading the config file at all
    conf.write_text("image_stores: [")
    assert "config file" in n.fail("images", code=4).err


def test_local_store_wins(published, mk, tmp_path):
    ref, shared = published
    n = node(tmp_path, "n-local")
    (tmp_path / "n-local").mkdir(exist_ok=True)
    load_busybox(n, mk, tmp_path / "n-local", env=["PATH=/bin", "FROM=local"],
                 cmd=["/bin/sh", "-c", "echo from-config $FROM"])
    assert n.run("--image-store", shared, "run", "--rm", ref).out.strip() == "from-config local"


def test_run_writes_nothing_into_a_read_only_store(published, tmp_path):
    ref, shared = published
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", shared, ro], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True)
        before = tree(shared)
        n = node(tmp_path, "n-ro")
        assert n.run("--image-store", ro, "run", "--rm", ref).out.strip() == \
            "from-config shared-store"
        assert n.run("--image-store", ro, "run", "-d", "--name", "x", ref,
                     "sleep", "1").code == 0
        n.run("wait", "x")
        n.run("rm", "x")
        n.fail("--image-store", ro, "push", "--image-store", ro, ref)
        assert tree(shared) == before
    finally:
        subprocess.run(["umount", ro], check=True)


def test_rootless_node_runs_the_shared_image(published, rootless, fuse_open):
    ref, shared = published
    # root published it; the rootless node only reads (the store is world-readable, as on NFS)
    for p in [shared, *shared.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    d = shared
    while d != Path("/"):
        os.chmod(d, os.stat(d).st_mode | 0o005)
        d = d.parent
    before = tree(shared)
    r = rootless.run("--image-store", shared, "run", "--rm", ref)
    assert r.out.strip() == "from-config shared-store"
    r = rootless.run("--image-store", shared, "run", "--rm", ref, "sh", "-c",
                     "echo x > /tmp/w && cat /tmp/w && id -u")
    assert r.out.split() == ["x", "0"]
    assert tree(shared) == before


def test_two_nodes_publish_the_same_image_at_once(g, mk, tmp_path):
    need_tool("tar2sqfs")
    ref = load_busybox(g, mk, tmp_path)
    other = node(tmp_path, "other")
    (tmp_path / "other").mkdir(exist_ok=True)
    load_busybox(other, mk, tmp_path / "other")
    shared = tmp_path / "shared"
    for trial in range(3):
        if shared.exists():
            shutil.rmtree(shared)
        procs = [n.popen("push", "--image-store", shared, ref, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True) for n in (g, other)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert len(list((shared / "sqsh").iterdir())) == 1
        assert not [p for p in shared.rglob("*") if ".tmp-" in p.name]
    n = node(tmp_path, "reader")
    assert n.run("--image-store", shared, "run", "--rm", ref, "true").code == 0
    # publishing again changes nothing and says so
    before = tree(shared / "sqsh")
    r = g.run("save", ref, "--format", "squashfs", "--image-store", shared)
    assert "Already there" in r.err
    assert tree(shared / "sqsh") == before


def test_killed_publisher_leaves_no_object(g, mk, tmp_path):
    need_tool("tar2sqfs")
    ref = load_busybox(g, mk, tmp_path)
    shared = tmp_path / "shared"
    p = g.popen("push", "--image-store", shared, ref, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
    time.sleep(0.05)
    p.kill()
    p.wait()
    # whatever moment it died at, no reference names a missing object and no object is partial
    n = node(tmp_path, "after-kill")
    for f in (shared / "refs").glob("*") if (shared / "refs").exists() else []:
        if ".tmp-" not in f.name:
            assert n.run("--image-store", shared, "run", "--rm", ref, "true").code == 0
    g.run("push", "--image-store", shared, ref)
    assert n.run("--image-store", shared, "run", "--rm", ref, "true").code == 0


def test_publish_errors(g, mk, tmp_path):
    need_tool("tar2sqfs")
    ref = load_busybox(g, mk, tmp_path)
    r = g.fail("push", "--image-store", tmp_path / "s", "nosuch:1", code=3)
    assert "nosuch" in r.err
    r = g.fail("save", ref, "--image-store", tmp_path / "s", code=2)
    assert "--format squashfs" in r.err
    r = g.fail("push", "--image-store", tmp_path / "s", ref, "localhost:5000/x", code=2)
    assert "no destination" in r.err
    r = g.fail("save", ref, "--format", "squashfs", code=2)
    assert "-o FILE (or --image-store DIR)" in r.err
    # a reference file that does not hold a digest: a damaged store, exit 4, naming the file
    shared = tmp_path / "bad"
    g.run("push", "--image-store", shared, ref)
    (shared / "refs" / "docker.io%2Flibrary%2Fsample%3Alatest").write_text("garbage\n")
    r = node(tmp_path, "n-bad").fail("--image-store", shared, "run", "--rm", ref, code=125)
    assert "does not hold a digest" in r.err
    assert node(tmp_path, "n-bad").fail("--image-store", shared, "inspect", ref, code=4)


def nfs_available():
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] in ("nfs", "nfs4") for line in f if line.strip())


def test_shared_store_on_nfs_two_nodes(g, mk, tmp_path):
    """The store exported by nfs-kernel-server over loopback, mounted twice (two nodes)."""
    if not nfs_available():
        pytest.skip("this kernel has no NFS client (no nfs in /proc/filesystems, no modules to "
                    "load): the same checks run on a local directory above")
    need_tool("exportfs")
    if os.geteuid() != 0:
        pytest.skip("exporting and mounting NFS needs root")
    export = tmp_path / "export"
    export.mkdir()
    os.chmod(export, 0o777)
    mounts = [tmp_path / "nodeA", tmp_path / "nodeB"]
    subprocess.run(["rpcbind"], check=False)
    subprocess.run(["rpc.nfsd", "4"], check=True)
    subprocess.run(["exportfs", "-o", "rw,no_root_squash,insecure,fsid=77",
                    f"127.0.0.1:{export}"], check=True)
    try:
        for m in mounts:
            m.mkdir()
            subprocess.run(["mount", "-t", "nfs", "-o", "vers=4.2", f"127.0.0.1:{export}", m],
                           check=True)
        ref = load_busybox(g, mk, tmp_path, cmd=["/bin/sh", "-c", "echo on-nfs"])
        g.run("push", "--image-store", mounts[0], ref)
        nodes = [node(tmp_path, "A"), node(tmp_path, "B")]
        results = [None, None]

        def go(i):
            results[i] = nodes[i].run("--image-store", mounts[i], "run", "--rm", ref)

        ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert [r.out.strip() for r in results] == ["on-nfs", "on-nfs"]
        # two nodes publishing the same image through their own mounts at once
        other = node(tmp_path, "pubB")
        (tmp_path / "pubB").mkdir(exist_ok=True)
        load_busybox(other, mk, tmp_path / "pubB", cmd=["/bin/sh", "-c", "echo second"])
        procs = [g.popen("push", "--image-store", mounts[0], "sample:latest"),
                 other.popen("push", "--image-store", mounts[1], "sample:latest")]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        assert not [p for p in export.rglob("*") if ".tmp-" in p.name]
    finally:
        for m in mounts:
            subprocess.run(["umount", "-l", m], check=False)
        subprocess.run(["exportfs", "-u", f"127.0.0.1:{export}"], check=False)


# --------------------------------------------------------------------------------------------
# gantry load FILE.sqsh
# --------------------------------------------------------------------------------------------

def listing(store_root, tmp_path, name):
    """`unsquashfs -lln`-style rows (mode, owner, size, path) of a store image, via save."""
    g = Gantry(store_root)
    out = tmp_path / f"{name}.check.sqsh"
    g.run("save", name, "--format", "squashfs", "-o", out)
    return lls(out)


def lls(path):
    out = subprocess.run(["unsquashfs", "-lln", "-d", "", str(path)], capture_output=True,
                         text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        mode, owner, size, path = parts[0], parts[1], parts[2], parts[5]
        rows[path] = (mode, owner, size if mode[0] == "-" else "")
    return rows


def test_load_round_trip(g, mk, tmp_path):
    need_tool("tar2sqfs")
    need_tool("sqfs2tar")
    from test_sqsh import sample_image
    archive = tmp_path / "img.tar"
    mk.write_docker_archive(archive, [(sample_image(mk), ["sq:1"])])
    g.run("load", archive)
    first = tmp_path / "first.sqsh"
    g.run("save", "sq:1", "--format", "squashfs", "-o", first)
    n = node(tmp_path, "loader")
    r = n.run("load", first)
    assert "Loaded image: docker.io/library/first:latest" in r.out
    n.run("load", "--name", "again:2", first)
    # the same files, owners, modes and sizes as the file it came from
    second = tmp_path / "second.sqsh"
    n.run("save", "again:2", "--format", "squashfs", "-o", second)
    a, b = lls(first), lls(second)
    assert a == b
    assert a["/data/keep/owned"][1] == "1000/1000" and a["/data/setuid"][0] == "-rwsr-xr-x"
    # config kept: entrypoint, cmd, workdir, env; one layer
    ins = n.run("inspect", "--json", "again:2").json()[0]
    assert ins["config"]["WorkingDir"] == "/data"
    assert len(ins["layers"]) == 1
    r = n.run("run", "--rm", "again:2")
    assert r.out.split() == ["from-config", "/data"]
    r = n.run("run", "--rm", "--entrypoint", "/bin/sh", "again:2", "-c",
              "cat /data/link2 /data/opq/new; ls /data/opq; test -e /data/gone || echo gone; "
              "stat -c %h /data/link1")
    assert r.out.split() == ["linked", "new", "new", "gone", "2"]


def test_load_plain_mksquashfs_directory(g, tmp_path):
    need_tool("mksquashfs")
    need_tool("sqfs2tar")
    root = tmp_path / "tree"
    (root / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "sh")
    (root / "hello.txt").write_text("plain squashfs\n")
    f = tmp_path / "Plain App.sqsh"
    subprocess.run(["mksquashfs", root, f, "-quiet", "-noappend", "-all-root"], check=True)
    r = g.run("load", f)
    assert "docker.io/library/plain-app:latest" in r.out and "empty config" in r.err
    assert g.run("run", "--rm", "plain-app", "/bin/sh", "-c",
                 "cat /hello.txt").out == "plain squashfs\n"


def test_load_hostile_and_damaged(g, tmp_path):
    need_tool("mksquashfs")
    need_tool("sqfs2tar")
    root = tmp_path / "evil"
    root.mkdir()
    os.symlink("/etc/shadow", root / "shadow")
    os.symlink("../../../../etc", root / "up")
    f = tmp_path / "evil.sqsh"
    subprocess.run(["mksquashfs", root, f, "-quiet", "-noappend", "-all-root"], check=True)
    g.run("load", f)  # symlinks are data: they resolve inside the container, never on the host
    store = g.root
    assert not [p for p in store.rglob("shadow") if p.is_file() and not p.is_symlink()]
    # truncated: refused by the superblock check, exit 4, nothing tagged
    data = f.read_bytes()
    bad = tmp_path / "cut.sqsh"
    bad.write_bytes(data[:200])  # the superblock says more bytes are used
    r = g.fail("load", bad, code=4)
    assert "cut.sqsh" in r.err
    # garbage after a valid superblock: sqfs2tar's error, exit 4, nothing tagged
    good = tmp_path / "good.sqsh"
    tree = tmp_path / "t2"
    tree.mkdir()
    for i in range(50):
        (tree / f"f{i}").write_bytes(os.urandom(3000))
    subprocess.run(["mksquashfs", tree, good, "-quiet", "-noappend"], check=True)
    d = bytearray(good.read_bytes())
    for i in range(200, len(d) - 200, 97):
        d[i] ^= 0xFF
    garbled = tmp_path / "garbled.sqsh"
    garbled.write_bytes(bytes(d))
    before = g.refs()
    r = g.fail("load", garbled)
    assert r.code == 4, r
    assert g.refs() == before


def test_load_rootless(g, mk, tmp_path, rootless):
    need_tool("tar2sqfs")
    need_tool("sqfs2tar")
    ref = load_busybox(g, mk, tmp_path, cmd=["/bin/sh", "-c", "echo loaded-rootless"])
    f = rootless.base / "app.sqsh"
    g.run("save", ref, "--format", "squashfs", "-o", f)
    os.chmod(f, 0o644)
    assert "docker.io/library/app:latest" in rootless.run("load", f).out
    assert rootless.run("run", "--rm", "app").out.strip() == "loaded-rootless"


def tar_rows(data):
    """A tar's entries as comparable rows: name bytes, type, mode, owners, size, link, mtime,
    device numbers, xattrs (whichever pax key carries them) and the sha256 of the content."""
    import hashlib
    import io
    import tarfile
    rows = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*", encoding="utf-8",
                      errors="surrogateescape") as t:
        for m in t:
            xattrs = {k.split(".", 2)[2]: v for k, v in m.pax_headers.items()
                      if k.startswith("SCHILY.xattr.")}
            body = t.extractfile(m).read() if m.isfile() else b""
            rows.append((os.fsencode(m.name.rstrip("/")), m.type, m.mode, m.uid, m.gid, m.size,
                         os.fsencode(m.linkname), m.mtime, m.devmajor, m.devminor,
                         sorted(xattrs.items()), hashlib.sha256(body).hexdigest()))
    return rows


def test_load_writes_the_layer_sqfs2tar_would(g, tmp_path):
    """`load FILE.sqsh`'s layer (written by the confined reader, sqsh/image_tar.hpp) holds what
    squashfs-tools-ng's sqfs2tar makes of the same file: every file type, owner, mode (setuid),
    mtime, xattr, hard link, device number, a big mostly-zero file (sparse blocks in squashfs),
    a name that is not UTF-8 and a deep path; a socket is refused, naming it."""
    need_tool("tar2sqfs")
    need_tool("sqfs2tar")
    import gzip
    import io
    import tarfile
    src = io.BytesIO()
    with tarfile.open(fileobj=src, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as t:
        def add(name, kind=tarfile.REGTYPE, data=b"", **kw):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mtime = kind, 1700000000
            for k, v in kw.items():
                setattr(ti, k, v)
            ti.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add("d", tarfile.DIRTYPE, mode=0o750, uid=5, gid=6)
        add("d/f", data=b"hello\n", mode=0o640, uid=1000, gid=1000,
            pax_headers={"SCHILY.xattr.user.color": "blue",
                         "SCHILY.xattr.trusted.t": "x"})
        add("d/h", tarfile.LNKTYPE, linkname="d/f")
        add("d/s", tarfile.SYMTYPE, linkname="../nowhere")
        add("d/c", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
        add("d/b", tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o600)
        add("d/p", tarfile.FIFOTYPE, mode=0o600)
        add("d/caf\udce9", data=b"latin-1 name\n")  # b"caf\xe9"
        add("setuid", data=b"#!/bin/sh\n", mode=0o4755)
        add("zeros", data=b"\0" * (3 << 20) + b"end" + b"\0" * (1 << 20), mode=0o644)
        deep = "/".join(["n"] * 200)
        for i in range(1, 201):
            add("/".join(["n"] * i), tarfile.DIRTYPE, mode=0o755)
        add(deep + "/leaf", data=b"deep\n")
    img = tmp_path / "types.sqsh"
    subprocess.run(["tar2sqfs", "-q", "-f", str(img)], input=src.getvalue(), check=True)
    want = tar_rows(subprocess.run(["sqfs2tar", "--no-skip", str(img)], capture_output=True,
                                   check=True).stdout)
    g.run("load", "--name", "types:1", img)
    # the layer as `save` gives it back: the store keeps one copy, the unpacked tree and its
    # tar-split, from which save rebuilds the very tar (docs/storage.md "One copy")
    archive = tmp_path / "types.tar"
    g.run("save", "-o", archive, "types:1")
    with tarfile.open(archive) as a:
        name = json.loads(a.extractfile("manifest.json").read())[0]["Layers"][0]
        layer = a.extractfile(name).read()
    got = tar_rows(gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer)
    assert [r[0] for r in got] == [r[0] for r in want]
    assert got == want
    assert b"d/caf\xe9" in [r[0] for r in got]

    sock_root = tmp_path / "sock"
    sock_root.mkdir()
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_root / "listening"))
    s.close()
    sock = tmp_path / "sock.sqsh"
    need_tool("mksquashfs")
    subprocess.run(["mksquashfs", sock_root, sock, "-quiet", "-noappend"], check=True)
    before = g.refs()
    r = g.fail("load", sock, code=7)
    assert "listening is a socket" in r.err and "hint:" in r.err, r
    assert g.refs() == before
