"""Lazy pull, the second slice (issue 40, docs/lazy-pull.md): the background prefetch makes a
lazily started image local without the container reading it (the first run's working set
first on later starts), a finished image becomes an ordinary store image, a later `gantry pull`
fetches only what the local copies lack, `ps`/`images` say how much is local, `rmi` and
`system prune` know lazy records, and a bearer token that expires mid-run is fetched again.
The registry and the eStargz image are this module's (test_lazy_pull.py's fixtures)."""
import hashlib
import json
import os
import time

import pytest

from conftest import Gantry, need_tool
from fixtures.registry.harness import Registry
from test_lazy_pull import (BIG, INSECURE, blob_ranges, image, lazy_ref, no_leftovers,  # noqa: F401
                            proxy, pushed, reg)


@pytest.fixture(scope="module", autouse=True)
def _tools():
    need_tool("docker-registry")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")


def wait_for(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def lazy_status(g, name):
    """ps --json's "lazy" of container NAME: {"local", "total"} bytes."""
    for c in json.loads(g.run("ps", "--json").out):
        if c["name"] == name:
            return c.get("lazy")
    return None


def fully_local(g, name):
    s = lazy_status(g, name)
    return s is not None and s["local"] == s["total"]


def blob_gets(px, manifest):
    digests = [l["digest"] for l in manifest["layers"]]
    return [r for r in px.requests() if r["method"] == "GET" and
            any(d in r["path"] for d in digests)]


def test_prefetch_makes_the_image_local_and_a_store_image(g, pushed, proxy, fuse_open):
    """A detached container that reads nothing: the prefetch fetches every layer (ps says how
    much is local meanwhile); once it ended the image is an ordinary store image, run with no
    registry request."""
    ref, manifest = pushed
    lref = lazy_ref(ref, proxy)
    g.run("pull", "--lazy", INSECURE, lref)
    images = g.run("images").out
    assert "lazy, " in images and "% local" in images, images
    g.run("run", "-d", "--name", "lazy-pf", "--pull", "lazy", INSECURE, lref, "sleep", "60")
    wait_for("the whole image local", lambda: fully_local(g, "lazy-pf"))
    assert "lazy, 100% local" in g.run("ps").out
    total = sum(l["size"] for l in manifest["layers"])
    assert sum(r["sent"] for r in blob_gets(proxy, manifest)) >= total
    # stopped, the container's end makes the store image (`rm -f` would leave it lazy:
    # test_lazy_containers.py); stop returns once the monitor has
    g.run("stop", "-t", "0", "lazy-pf")
    g.run("rm", "lazy-pf")
    no_leftovers(g.root)
    listed = json.loads(g.run("images", "--json").out)
    mine = [i for i in listed if i["reference"].endswith("lazy/img:1")]
    assert len(mine) == 1 and "lazy" not in mine[0], listed
    assert not os.listdir(g.root / "lazy" / "refs")
    assert not os.listdir(g.root / "lazy" / "blobs")
    proxy.clear_log()
    assert g.run("run", "--rm", lref, "sh", "-c", "md5sum /data/big.bin").out.split()[0] == \
        hashlib.md5(BIG).hexdigest()
    # --pull lazy of an image the store now holds takes the store's path
    assert g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat",
                 "/data/small.txt").out == "hello lazy\n"
    assert blob_gets(proxy, manifest) == []


def test_working_set_is_prefetched_first(g, pushed, proxy, fuse_open):
    """The first run records the chunks it read, in order; a later start (its local copies
    gone, as on another node) fetches them before anything else, so its reads of them make no
    Range request."""
    ref, manifest = pushed
    lref = lazy_ref(ref, proxy)
    g.env["GANTRY_LAZY_PREFETCH"] = "0"
    g.run("pull", "--lazy", INSECURE, lref)
    g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "cat", "/data/small.txt", "/etc/motd")
    mhex = json.loads(g.run("images", "--json").out)[0]["digest"].split(":")[1]
    ws = (g.root / "lazy" / "working-sets" / mhex).read_text().split("\n")[:-1]
    recorded = [(manifest["layers"][int(layer)]["digest"], int(off))
                for layer, off in (line.split() for line in ws)]
    assert len(recorded) >= 3  # passwd, busybox, small.txt, motd: a chunk in each layer
    assert {d for d, _ in recorded} == {l["digest"] for l in manifest["layers"]}
    # another node: the record again, no local copy; the prefetch on
    g.run("rmi", lref)
    assert not os.listdir(g.root / "lazy" / "blobs")
    g.run("pull", "--lazy", INSECURE, lref)
    del g.env["GANTRY_LAZY_PREFETCH"]
    proxy.clear_log()
    g.run("run", "-d", "--name", "lazy-ws", "--pull", "lazy", INSECURE, lref, "sleep", "60")
    wait_for("the whole image local", lambda: fully_local(g, "lazy-ws"))
    def span(r):
        a, b = r["range"].split("=")[1].split("-")
        return (next(l["digest"] for l in manifest["layers"] if l["digest"] in r["path"]),
                int(a), int(b))
    gets = list(dict.fromkeys(span(r) for r in blob_gets(proxy, manifest)))

    def first_covering(c):
        return next((i for i, (d, a, b) in enumerate(gets) if d == c[0] and a <= c[1] <= b),
                    None)
    # every recorded chunk fetched by one of the first requests (a request may carry several
    # close chunks): the start's own reads (passwd, the shell: also recorded) and a piece the
    # second thread began meanwhile are the only others allowed
    at = [first_covering(c) for c in recorded]
    assert None not in at, (recorded, gets)
    assert max(at) < len(recorded) + 2, (recorded, gets)
    proxy.clear_log()
    assert g.run("exec", "lazy-ws", "cat", "/data/small.txt", "/etc/motd").out == \
        "hello lazy\nlazy motd\n"
    assert blob_gets(proxy, manifest) == []
    g.run("rm", "-f", "lazy-ws")
    no_leftovers(g.root)


def test_pull_completes_from_the_local_copies(g, pushed, proxy, fuse_open):
    """A lazy run read part of the big file; `gantry pull` fetches only the rest (no byte twice)
    and the image is then an ordinary store image; rmi of a lazy record removes its copies;
    prune removes a copy no record names."""
    ref, manifest = pushed
    data = manifest["layers"][1]
    lref = lazy_ref(ref, proxy)
    g.env["GANTRY_LAZY_PREFETCH"] = "0"
    g.run("pull", "--lazy", INSECURE, lref)
    g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", "head -c 10 /data/big.bin | wc -c")
    before = json.loads(g.run("images", "--json").out)
    lazy = [i for i in before if "lazy" in i][0]["lazy"]
    assert 4 << 20 <= lazy["local"] < lazy["total"], lazy
    proxy.clear_log()
    g.run("pull", INSECURE, lref)
    sent = sum(r["sent"] for r in blob_ranges(proxy, data["digest"]))
    assert sent <= data["size"] - (4 << 20), (sent, data["size"])
    assert all(r["range"] for r in blob_gets(proxy, manifest))
    assert g.run("run", "--rm", lref, "sh", "-c", "md5sum /data/big.bin").out.split()[0] == \
        hashlib.md5(BIG).hexdigest()
    assert not os.listdir(g.root / "lazy" / "refs")


def test_rmi_and_prune_of_a_lazy_image(g, pushed, proxy, fuse_open):
    """rmi of a lazy record removes it and its local copies (the working set stays: it is the
    image's, not the record's); prune removes a local copy no record names."""
    ref, _ = pushed
    lref = lazy_ref(ref, proxy)
    g.env["GANTRY_LAZY_PREFETCH"] = "0"
    g.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "true")
    assert os.listdir(g.root / "lazy" / "blobs")
    out = g.run("rmi", lref).out
    assert "Removed lazily pulled image" in out, out
    assert not os.listdir(g.root / "lazy" / "refs")
    assert not os.listdir(g.root / "lazy" / "blobs")
    assert os.listdir(g.root / "lazy" / "working-sets")
    assert "lazy/img" not in g.run("images").out
    # a damaged record: rmi removes it all the same
    g.run("pull", "--lazy", INSECURE, lref)
    (rec,) = os.listdir(g.root / "lazy" / "refs")
    (g.root / "lazy" / "refs" / rec).write_text("{damaged")
    assert "Removed lazily pulled image" in g.run("rmi", lref).out
    assert not os.listdir(g.root / "lazy" / "refs")
    orphan = g.root / "lazy" / "blobs" / ("ab" * 32)
    orphan.write_bytes(b"x" * 1000)
    (g.root / "lazy" / "blobs" / (("ab" * 32) + ".map")).write_bytes(b"\1")
    g.run("system", "prune")
    assert not os.listdir(g.root / "lazy" / "blobs")


def test_expired_token_is_fetched_again(tmp_path, gantry_bin, fuse_open):
    """A token that the registry stops accepting 2 s after it was issued (docker-registry
    allows 60 s of clock skew past exp: the token says exp = issued - 58 s): a read after that
    gets 401, fetches a new token and goes on."""
    from fixtures import mkimage
    from fixtures.registry.token_server import TokenServer
    ts = TokenServer(tmp_path / "token", users={"alice": "pw"},
                     grants={"private/*": {"alice": ["pull", "push"]}}, expires_in=-58)
    reg = Registry(tmp_path / "reg", token=ts).start()
    try:
        home = tmp_path / "home"
        (home / ".config").mkdir(parents=True)
        gan = Gantry(tmp_path / "store", env={"HOME": str(home),
                                              "XDG_CONFIG_HOME": str(home / ".config"),
                                              "GANTRY_LAZY_PREFETCH": "0"})
        archive = tmp_path / "img.tar"
        mkimage.write_docker_archive(archive, [(image(mkimage), ["sample:latest"])])
        gan.run("load", archive)
        ref = f"{reg.addr}/private/img:1"
        gan.run("login", INSECURE, "-u", "alice", "--password-stdin", reg.addr, input="pw")
        ts.expires_in = 3600
        gan.run("push", INSECURE, "--compression", "estargz", "sample:latest", ref)
        ts.expires_in = -58
        gan.run("pull", "--lazy", INSECURE, ref)
        ts.requests.clear()
        # the token the start fetched is refused by the time big.bin is read (a sleep: the
        # clock is what this test is about)
        out = gan.run("run", "--rm", "--pull", "lazy", INSECURE, ref, "sh", "-c",
                      "cat /data/small.txt; sleep 3; md5sum /data/big.bin").out
        assert out.split("\n")[1].split()[0] == hashlib.md5(BIG).hexdigest(), out
        assert len(ts.requests) >= 2, ts.requests
    finally:
        reg.stop()
        ts.stop()


def test_lazy_image_with_gpus(g, reg, proxy, tmp_path, fuse_open):
    """--gpus on a lazily pulled CUDA image: the GPU step reads the image's files through its
    tree (no store layers yet), and the container sees the simulated host's GPU and driver."""
    import sys
    from conftest import TESTS
    from fixtures import mkimage
    sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
    import cuda_image as ci  # noqa: E402
    import gpuhost as gh  # noqa: E402
    host = gh.build_host(tmp_path / "host", gh.preset(1), devices="auto")
    archive = tmp_path / "img.tar"
    mkimage.write_docker_archive(archive, [(ci.cuda_image(cuda_env=True), ["gt/cuda:1"])])
    g.run("load", archive)
    ref = f"{reg.addr}/lazy/cuda:1"
    g.run("push", INSECURE, "--compression", "estargz", "gt/cuda:1", ref)
    g.run("rmi", "gt/cuda:1")
    g.env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
    res = g.run("run", "--rm", "--pull", "lazy", INSECURE, "--driver-root", host.driver_root,
                "--dev-root", host.dev_root, "--gpus", "all", lazy_ref(ref, proxy), "sh", "-c",
                "cuda_probe; echo probe_rc=$?")
    driver = host.desc["driver"]
    assert f"libcuda: /usr/lib/x86_64-linux-gnu/libcuda.so.{driver}" in res.out, res
    assert "device_count: 1" in res.out and "probe_rc=0" in res.out, res
