"""Lazy pull (issue 40, docs/lazy-pull.md): `gantry push --compression estargz` writes eStargz,
`gantry pull --lazy` / `gantry run --pull lazy` start it from a real docker-registry (through
the fault-injecting proxy of tests/fixtures/registry, which logs every Range request), as root
and rootless: the same tree as a plain pull, far fewer bytes than the blob, altered chunks never
served, a registry gone is a bounded EIO naming the layer and the registry."""
import contextlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import Gantry, need_tool
from fixtures.registry.harness import Proxy, Registry
from test_oci_runtime import containerd  # noqa: F401 (fixture)

INSECURE = "--tls-verify=false"
BIG = random.Random(40).randbytes(6 << 20)  # incompressible: two 4 MiB chunks' worth


@pytest.fixture(scope="module", autouse=True)
def _tools():
    need_tool("docker-registry")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("reg")).start()
    yield r
    r.stop()


@pytest.fixture
def proxy(tmp_path, reg):
    p = Proxy(tmp_path / "proxy", reg.addr).start()
    yield p
    p.kill()


def image(mk):
    E = mk.Entry
    data = mk.Layer([E.dir("data"), E.file("data/big.bin", BIG),
                     E.file("data/small.txt", b"hello lazy\n"),
                     E.symlink("data/link", "small.txt"),
                     E.hardlink("data/hard", "data/small.txt"),
                     E.file("data/owned", b"mine\n", mode=0o640, uid=1234, gid=5678),
                     E.file("data/gone.txt", b"bye\n"),
                     E.file("data/x.txt", b"xattr\n", xattrs={"user.lazy": b"yes"}),
                     E.dir("data/dir"), E.file("data/dir/old.txt", b"old\n"),
                     E.fifo("data/fifo")], sort=False)
    upper = mk.Layer([E.whiteout("data/gone.txt"), E.dir("data/dir"),
                      E.opaque("data/dir"), E.file("data/dir/new.txt", b"new\n"),
                      E.file("etc/motd", b"lazy motd\n")], sort=False)
    return mk.busybox_image(extra_layers=[data, upper])


def push_image(d, img, ref, compression):
    """IMG (fixtures.mkimage's) loaded into a store of its own in D and pushed to REF as
    `push --compression COMPRESSION` writes it."""
    gan = Gantry(d / "store")
    from fixtures import mkimage
    mkimage.write_docker_archive(d / "img.tar", [(img, ["pushed:latest"])])
    gan.run("load", d / "img.tar")
    gan.run("push", INSECURE, "--compression", compression, "pushed:latest", ref)


@pytest.fixture(scope="module")
def pushed(reg, tmp_path_factory, gantry_bin):
    """The sample image pushed once as eStargz: its reference and its manifest."""
    from fixtures import mkimage
    ref = f"{reg.addr}/lazy/img:1"
    push_image(tmp_path_factory.mktemp("push"), image(mkimage), ref, "estargz")
    req = urllib.request.Request(f"http://{reg.addr}/v2/lazy/img/manifests/1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    manifest = json.loads(urllib.request.urlopen(req).read())
    return ref, manifest


# what a container prints of its tree: path, type+mode, owners, size, links, content digest
# (directories' sizes and link counts are the filesystem's own, overlayfs' 1: not compared)
LIST = ("cd / && for f in $(find data etc/motd bin/sh | sort); do "
        "if [ -d $f ]; then stat -c '%n %f %u %g' $f; "
        "else stat -c '%n %f %u %g %s %h %N' $f; fi; "
        "if [ -f $f ] && [ ! -p $f ]; then md5sum $f; fi; done")


def lazy_ref(ref, px):
    return ref.replace(ref.split("/")[0], px.addr, 1)


def blob_ranges(px, digest):
    return [r for r in px.requests() if r["method"] == "GET" and digest in r["path"]]


def no_leftovers(root):
    """Nothing mounted from the run, no process holding the store's local copies. The trash
    reaper (store/scratch.hpp) is not counted: it deletes discarded directories in the
    background by design, once trash/ holds a batch, whichever test's run filled it."""
    mounts = Path("/proc/self/mounts").read_text()
    assert str(root) not in mounts
    trash = str(Path(root) / "trash")
    held = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if str(root) in target and not target.startswith(trash):
                    held.append(pid)
        except OSError:
            continue
    assert held == []


def test_estargz_manifest_and_plain_pull(g, pushed, reg):
    """The pushed image is an OCI manifest whose layers carry the TOC digest; a plain pull runs
    it (the interop proof: a client that knows nothing of eStargz)."""
    ref, manifest = pushed
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    for layer in manifest["layers"]:
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        assert layer["annotations"]["containerd.io/snapshot/stargz/toc.digest"].startswith(
            "sha256:")
    g.run("pull", INSECURE, ref)
    assert g.run("run", "--rm", ref, "cat", "/data/small.txt").out == "hello lazy\n"


@contextlib.contextmanager
def podman_store():
    """Debian 12's podman as root in a store of its own (vfs, runc), removed afterwards: yields
    a function running `podman ARGS...` (a CompletedProcess, text)."""
    need_tool("podman")
    need_tool("runc")
    if os.geteuid() != 0:
        pytest.skip("run as root (podman rootless needs subordinate ids here)")
    base = Path(tempfile.mkdtemp(prefix="gl40-", dir="/tmp"))  # runroot: 50 characters at most
    # runc: crun 1.8 refuses this VM's hybrid cgroups (as tests/e2e/test_build_podman.py)
    cmd = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
           "--tmpdir", str(base / "tmp"), "--storage-driver", "vfs", "--runtime", "runc"]
    # this VM's hard nofile/nproc limits are below podman's defaults (test_build_podman.py)
    conf = base / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))

    def podman(*args):
        return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                              timeout=300, env=env)
    try:
        yield podman
    finally:
        subprocess.run(cmd + ["rmi", "-a", "-f"], capture_output=True, timeout=120, env=env)
        shutil.rmtree(base, ignore_errors=True)


def check_sample_runs(podman, ref):
    """podman runs the sample image REF: its small file and its big one are the sample's."""
    r = podman("run", "--rm", "--net", "none", ref, "sh", "-c",
               "cat /data/small.txt; md5sum /data/big.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "hello lazy"
    assert r.stdout.splitlines()[1].split()[0] == hashlib_md5(BIG)


def test_podman_pulls_and_runs_the_estargz_image(pushed, tmp_path):
    """podman (Debian 12's, containers/image 5.23: no eStargz support) pulls and runs it."""
    ref, _ = pushed
    with podman_store() as podman:
        r = podman("pull", INSECURE, ref)
        assert r.returncode == 0, r.stderr
        r = podman("run", "--rm", "--net", "none", ref, "cat", "/data/small.txt")
        assert r.returncode == 0 and r.stdout == "hello lazy\n", r.stderr


def test_lazy_run_matches_a_plain_pull_as_root(g, pushed, proxy, fuse_open):
    ref, manifest = pushed
    lref = lazy_ref(ref, proxy)
    g.run("pull", INSECURE, lref)
    plain = g.run("run", "--rm", lref, "sh", "-c", LIST).out
    g.run("rmi", lref)
    proxy.clear_log()
    lazy = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", LIST).out
    assert lazy == plain
    assert "data/gone.txt" not in lazy and "data/dir/old.txt" not in lazy
    assert "data/dir/new.txt" in lazy and "5678" in lazy
    # a second run starts from the record: no manifest or TOC fetched again
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/etc/motd").out == "lazy motd\n"
    assert not [r for r in proxy.requests() if "/manifests/" in r["path"]]
    no_leftovers(g.root)


def test_lazy_run_rootless(rootless, pushed, proxy, fuse_open):
    ref, _ = pushed
    lref = lazy_ref(ref, proxy)
    r = rootless.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c",
                     "cat /data/small.txt /data/link /data/hard; stat -c '%u %g %a' /data/owned;"
                     " md5sum /data/big.bin")
    lines = r.out.splitlines()
    assert lines[:3] == ["hello lazy"] * 3
    # a rootless single-id map shows unmapped owners as 0 (as the store's rootless layers do)
    assert lines[3] == "0 0 640"
    import hashlib
    assert lines[4].split()[0] == hashlib.md5(BIG).hexdigest()
    no_leftovers(rootless.root)


def test_small_read_fetches_little(g, pushed, proxy, fuse_open):
    """One small read fetches its chunk, not the layer (the background prefetch off: it would
    fetch the rest meanwhile)."""
    ref, manifest = pushed
    data = manifest["layers"][1]
    lref = lazy_ref(ref, proxy)
    g.env["GANTRY_LAZY_PREFETCH"] = "0"
    g.run("pull", "--lazy", INSECURE, lref)
    proxy.clear_log()
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    gets = blob_ranges(proxy, data["digest"])
    assert gets and all(r["range"] for r in gets)
    sent = sum(r["sent"] for r in gets)
    assert sent < data["size"] / 20, (sent, data["size"])


def test_altered_chunk_is_never_served(g, pushed, proxy, fuse_open):
    ref, manifest = pushed
    data = manifest["layers"][1]
    lref = lazy_ref(ref, proxy)
    g.run("pull", "--lazy", INSECURE, lref)  # the TOCs, before the registry lies
    proxy.set_faults([{"method": "GET", "path": data["digest"], "action": "corrupt",
                       "offset": 200}])
    r = g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c",
              "md5sum /data/big.bin; echo rc=$?", check=False)
    assert "rc=1" in r.out and "Input/output error" in r.out + r.err, r
    assert "layer 2/3" in r.err and "digest" in r.err, r.err
    assert hashlib_md5(BIG) not in r.out


def hashlib_md5(b):
    import hashlib
    return hashlib.md5(b).hexdigest()


@pytest.mark.parametrize("fault", ["gone", "drop"])
def test_registry_faults_are_a_bounded_eio(g, pushed, proxy, fuse_open, fault, tmp_path):
    ref, manifest = pushed
    data = manifest["layers"][1]
    lref = lazy_ref(ref, proxy)
    # the background prefetch off: it could fetch the file before the registry goes
    g.env["GANTRY_LAZY_PREFETCH"] = "0"
    g.run("pull", "--lazy", INSECURE, lref)
    sync = tmp_path / "sync"
    sync.mkdir()
    # the container starts (its passwd and shell fetched), says so, and reads a file of the
    # second layer only once the registry is gone
    script = ("touch /sync/ready; while [ ! -e /sync/go ]; do sleep 0.05; done; "
              "cat /data/small.txt; echo rc=$?")
    if fault == "drop":
        proxy.set_faults([{"method": "GET", "path": data["digest"], "action": "drop"}])
    p = g.popen("run", "--rm", "--pull", "lazy", INSECURE, "-v", f"{sync}:/sync", lref, "sh",
                "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (sync / "ready").exists():
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    if fault == "gone":
        proxy.kill()
    t0 = time.monotonic()
    (sync / "go").touch()
    out, err = p.communicate(timeout=120)
    took = time.monotonic() - t0
    assert "rc=1" in out and "Input/output error" in out + err, (out, err)
    assert "layer 2/3" in err and proxy.addr in err, err
    assert took < 20, took  # 3 retries from 0.5 s, then every read fails at once
    no_leftovers(g.root)


def test_pull_lazy_refuses_a_plain_image(g, reg, proxy, mk, tmp_path):
    """A gzip image without TOCs: a clear error naming the layer and the fix; nothing kept."""
    from fixtures.registry.harness import skopeo_push
    need_tool("skopeo")
    d = tmp_path / "layout"
    mk.write_oci_layout(d, [(mk.busybox_image(), ["v1"])])
    skopeo_push(d, f"{reg.addr}/lazy/plain:v1", "v1")
    r = g.fail("pull", "--lazy", INSECURE, f"{proxy.addr}/lazy/plain:v1", code=7)
    assert "not eStargz" in r.err and "without --lazy" in r.err
    assert not (g.root / "lazy" / "refs").exists() or not os.listdir(g.root / "lazy" / "refs")


def test_lazy_run_with_bearer_tokens(tmp_path, gantry_bin, fuse_open):
    """A private repository behind a token server: the chunks' Range requests carry the bearer
    token `gantry login` led to, as a pull's do."""
    import hashlib
    from conftest import Gantry
    from fixtures import mkimage
    from fixtures.registry.token_server import TokenServer
    ts = TokenServer(tmp_path / "token", users={"alice": "pw"},
                     grants={"private/*": {"alice": ["pull", "push"]}})
    reg = Registry(tmp_path / "reg", token=ts).start()
    try:
        home = tmp_path / "home"
        (home / ".config").mkdir(parents=True)
        gan = Gantry(tmp_path / "store", env={"HOME": str(home),
                                              "XDG_CONFIG_HOME": str(home / ".config")})
        archive = tmp_path / "img.tar"
        mkimage.write_docker_archive(archive, [(image(mkimage), ["sample:latest"])])
        gan.run("load", archive)
        ref = f"{reg.addr}/private/img:1"
        r = gan.fail("run", "--rm", "--pull", "lazy", INSECURE, ref, "true")
        assert "gantry login" in r.err
        gan.run("login", INSECURE, "-u", "alice", "--password-stdin", reg.addr, input="pw")
        gan.run("push", INSECURE, "--compression", "estargz", "sample:latest", ref)
        ts.requests.clear()
        out = gan.run("run", "--rm", "--pull", "lazy", INSECURE, ref, "sh", "-c",
                      "md5sum /data/big.bin").out
        assert out.split()[0] == hashlib.md5(BIG).hexdigest()
        assert ts.requests and all(q["account"] == "alice" for q in ts.requests)
    finally:
        reg.stop()
        ts.stop()


def test_stargz_snapshotter_image_reads_the_same(pushed, reg, proxy, containerd, g, tmp_path,
                                                 fuse_open):
    """The differential: the same image converted by stargz-snapshotter's own writer (Debian's
    ctr-remote, estargz.Build, with a containerd started for the test) and run lazily prints the
    same tree as the image gantry converted."""
    need_tool("ctr-remote")
    from fixtures import mkimage
    archive = tmp_path / "img.tar"
    mkimage.write_docker_archive(archive, [(image(mkimage), ["sample:latest"])])
    containerd("image", "import", archive)
    sock = containerd.address

    def remote(*args):
        p = subprocess.run(["ctr-remote", "--address", str(sock), "-n", "gantry", *args],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return p

    ctr_ref = f"{reg.addr}/lazy/ctr:1"
    remote("image", "convert", "--estargz", "--oci", "docker.io/library/sample:latest", ctr_ref)
    remote("image", "push", "--plain-http", ctr_ref)
    ref, manifest = pushed
    req = urllib.request.Request(f"http://{reg.addr}/v2/lazy/ctr/manifests/1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    theirs_manifest = json.loads(urllib.request.urlopen(req).read())
    for ours_l, theirs_l in zip(manifest["layers"], theirs_manifest["layers"], strict=True):
        assert theirs_l["annotations"]["containerd.io/snapshot/stargz/toc.digest"]
        assert theirs_l["digest"] != ours_l["digest"]  # another writer's bytes
    ours = g.run("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(ref, proxy), "sh", "-c",
                 LIST).out
    theirs = g.run("run", "--rm", "--pull", "lazy", INSECURE, lazy_ref(ctr_ref, proxy), "sh",
                   "-c", LIST).out
    assert theirs == ours
    no_leftovers(g.root)


def test_detached_lazy_container_exec_and_rm(g, pushed, proxy, fuse_open):
    """-d: the FUSE server lives with the container's monitor; exec reads through it; rm leaves
    nothing mounted or running."""
    ref, _ = pushed
    lref = lazy_ref(ref, proxy)
    g.run("run", "-d", "--name", "lz", "--pull", "lazy", INSECURE, lref, "sleep", "60")
    assert g.run("exec", "lz", "cat", "/data/small.txt").out == "hello lazy\n"
    assert "lz" in g.run("ps").out
    # restarted: its lazily pulled root opened again from what run -d kept (prepared.json)
    g.run("restart", "-t", "0", "lz")
    assert g.run("exec", "lz", "cat", "/data/small.txt").out == "hello lazy\n"
    g.run("rm", "-f", "lz")
    no_leftovers(g.root)


def test_pull_flag_errors(g):
    """What gantry does not do is refused, naming the flag and the fix (exit 2, usage)."""
    r = g.fail("run", "--rm", "--pull", "sometimes", "localhost:1/x:1", "true", code=2)
    assert '--pull: "sometimes" is not a pull policy' in r.err and "lazy" in r.err
    r = g.fail("pull", "--lazy", "--format", "squashfs", "localhost:1/x:1", code=2)
    assert "--lazy" in r.err
    r = g.fail("push", "--compression", "gzip", "x:1", "localhost:1/x:1", code=2)
    assert "--compression estargz or zstd:chunked" in r.err


def test_lazy_start_honours_the_site_policy(g, pushed, reg, tmp_path, fuse_open):
    """The site's rules apply to a lazy start as to a pull (issue 39 meets issue 40 in the
    registry client): policy.json's reject refuses it (exit 11) before anything is recorded or
    mounted; a registries.conf mirror serves the metadata and the chunks when the primary is
    down, and the image keeps its logical name."""
    ref, _ = pushed
    reject = tmp_path / "reject.json"
    reject.write_text(json.dumps({"default": [{"type": "reject"}]}))
    refused = Gantry(g.root, env={"CONTAINERS_POLICY_JSON": str(reject)})
    r = refused.fail("run", "--rm", "--pull", "lazy", INSECURE, ref, "true", code=11)
    assert "reject" in r.err, r
    assert not (g.root / "lazy").exists() or not list((g.root / "lazy").rglob("*.json"))
    no_leftovers(g.root)

    import socket
    with socket.socket() as s:  # a port nobody listens on: the primary is down
        s.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{s.getsockname()[1]}"
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nprefix = "{down}"\nlocation = "{down}"\ninsecure = true\n'
                    f'[[registry.mirror]]\nlocation = "{reg.addr}"\ninsecure = true\n')
    accept = tmp_path / "accept.json"
    accept.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    mirrored = Gantry(g.root, env={"CONTAINERS_REGISTRIES_CONF": str(conf),
                                   "CONTAINERS_POLICY_JSON": str(accept)})
    logical = ref.replace(reg.addr, down)
    # every chunk of the big file, through the mirror
    out = mirrored.run("run", "--rm", "--pull", "lazy", logical, "sh", "-c",
                       "wc -c < /data/big.bin").out
    assert out.strip() == str(len(BIG))
    assert mirrored.run("run", "--rm", "--pull", "lazy", logical, "cat",
                        "/etc/motd").out == "lazy motd\n"
    no_leftovers(g.root)
