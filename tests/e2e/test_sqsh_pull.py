"""`gantry pull REF --format squashfs` (issue 24) against a real docker-registry behind the
request-logging proxy: into -o FILE, into a shared store, and into the node's squashfs cache,
which `run REF` reads after the store; one download per node however many pullers; the cache in
`system df` and evicted least-recently-used by `system prune --sqsh-cache-max`."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import Gantry, need_tool
from fixtures.registry.harness import Proxy, Registry
from registry_common import INSECURE, blob_gets, publish


@pytest.fixture(autouse=True)
def _tools():
    for t in ("docker-registry", "skopeo", "tar2sqfs"):
        need_tool(t)


@pytest.fixture
def proxy(tmp_path):
    r = Registry(tmp_path / "reg").start()
    p = Proxy(tmp_path / "proxy", r.addr).start()
    yield p
    p.kill()
    r.stop()


def image(mk, word, files=()):
    E = mk.Entry
    extra = [mk.Layer([E.file(f, os.urandom(200_000)) for f in files])] if files else []
    return mk.busybox_image(cmd=["/bin/sh", "-c", f"echo {word}"], extra_layers=extra)


def test_pull_to_a_file(g, mk, tmp_path, proxy):
    E = mk.Entry
    img = mk.busybox_image(
        cmd=["/bin/sh", "-c", "cat /d/kept; ls /d"],
        extra_layers=[mk.Layer([E.dir("d"), E.file("d/gone", b"x"), E.file("d/kept", b"lower\n"),
                                E.dir("d/opq"), E.file("d/opq/old", b"o")]),
                      mk.Layer([E.whiteout("d/gone"), E.opaque("d/opq"),
                                E.file("d/opq/new", b"n")])])
    pub = publish(mk, tmp_path, f"{proxy.addr}/team/app:1", image=img)
    out = tmp_path / "app.sqsh"
    r = g.run("pull", INSECURE, "--format", "squashfs", "-o", out, f"{proxy.addr}/team/app:1")
    assert f"Digest: {pub.digest}" in r.out
    assert g.refs() == {}  # not in the store
    assert not list((g.root / "tmp").iterdir())  # the temporary store is gone
    ls = subprocess.run(["unsquashfs", "-l", "-d", "", str(out)], capture_output=True, text=True,
                        check=True).stdout.split()
    assert "/d/kept" in ls and "/d/opq/new" in ls and "/d/gone" not in ls
    assert "/d/opq/old" not in ls
    assert g.run("run", "--rm", out).out.split() == ["lower", "kept", "opq"]
    # --format sif: the same image as an Apptainer SIF file (docs/apptainer.md)
    if shutil.which("siftool"):
        sif = tmp_path / "app.sif"
        g.run("pull", INSECURE, "--format", "sif", "-o", sif, f"{proxy.addr}/team/app:1")
        listing = subprocess.run(["siftool", "list", str(sif)], capture_output=True, text=True,
                                 check=True).stdout
        assert "FS (Squashfs/*System/amd64)" in listing, listing
        assert g.run("run", "--rm", sif).out.split() == ["lower", "kept", "opq"]
        assert g.refs() == {} and not list((g.root / "tmp").iterdir())
        r = g.fail("pull", "--format", "sif", f"{proxy.addr}/team/app:1", code=2)
        assert "give -o FILE.sif" in r.err
    # an error leaves no file and nothing in the store's tmp
    bad = tmp_path / "none.sqsh"
    g.fail("pull", INSECURE, "--format", "squashfs", "-o", bad, f"{proxy.addr}/team/nope:1")
    assert not bad.exists() and not list((g.root / "tmp").iterdir())


def test_pull_into_the_node_cache_once(g, mk, tmp_path, proxy):
    publish(mk, tmp_path, f"{proxy.addr}/team/app:1", image=image(mk, "cached", ["big"]))
    ref = f"{proxy.addr}/team/app:1"
    procs = [g.popen("pull", INSECURE, "--format", "squashfs", ref, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    # one download: each blob fetched once for three pullers
    gets = blob_gets(proxy)
    assert len(gets) == len({r["path"] for r in gets}), gets
    assert sum("Already in the squashfs cache" in e for _, e in outs) == 2
    cache = g.root / "sqsh-cache"
    assert len(list((cache / "sqsh").iterdir())) == 1
    # run finds it after the store, without pulling anything
    before = len(proxy.requests())
    assert g.run("run", "--rm", ref).out.strip() == "cached"
    assert len(proxy.requests()) == before
    lines = g.run("images").out.splitlines()
    assert any("sqsh-cache" in l for l in lines), lines
    df = g.run("system", "df", "--json").json()
    assert df["sqsh_cache"]["images"] == 1 and df["sqsh_cache"]["bytes"] > 200_000


def test_cache_lru_eviction(g, mk, tmp_path, proxy):
    refs = []
    for i, word in enumerate(["one", "two", "three"]):
        ref = f"{proxy.addr}/team/app{i}:1"
        publish(mk, tmp_path, ref, image=image(mk, word, [f"f{i}"]))
        g.run("pull", INSECURE, "--format", "squashfs", ref)
        refs.append(ref)
    objs = sorted((g.root / "sqsh-cache" / "sqsh").iterdir())
    sizes = {p: p.stat().st_size for p in objs}
    # make the first pulled the most recently used: a run touches it
    time.sleep(0.05)
    g.run("run", "--rm", refs[0])
    # room for two: the least recently used (app1) goes, with its reference
    limit = sum(sorted(sizes.values())[-2:]) + 1
    r = g.run("system", "prune", "--sqsh-cache-max", str(limit))
    assert "Removed 1 squashfs image" in r.out
    assert g.run("run", "--rm", refs[0]).out.strip() == "one"
    assert g.run("run", "--rm", refs[2]).out.strip() == "three"
    r = g.fail("run", "--rm", "--pull", "never", refs[1], code=125)
    assert "not in the store" in r.err
    g.run("system", "prune", "--sqsh-cache-max", "0")
    assert g.run("system", "df", "--json").json()["sqsh_cache"]["images"] == 0
    assert not list((g.root / "sqsh-cache" / "refs").iterdir())


def test_pull_into_a_shared_store(g, mk, tmp_path, proxy):
    ref = f"{proxy.addr}/team/app:2"
    publish(mk, tmp_path, ref, image=image(mk, "shared"))
    shared = tmp_path / "shared"
    g.run("pull", INSECURE, "--format", "squashfs", "--image-store", shared, ref)
    other = Gantry(tmp_path / "other" / "store")
    assert other.run("--image-store", shared, "run", "--rm", ref).out.strip() == "shared"
    assert g.fail("pull", "--format", "tar", ref, code=2)
    assert g.fail("pull", "-o", tmp_path / "x.sqsh", ref, code=2)
    r = g.fail("pull", "--format", "squashfs", "-o", tmp_path / "x.sqsh", "--image-store", shared,
               ref, code=2)
    assert "not both" in r.err


def test_rootless_pull_into_the_cache_and_run(rootless, mk, tmp_path, proxy, fuse_open):
    ref = f"{proxy.addr}/team/app:3"
    publish(mk, tmp_path, ref, image=image(mk, "rootless-cache"))
    rootless.run("pull", INSECURE, "--format", "squashfs", ref)
    assert rootless.refs() == {}
    assert rootless.run("run", "--rm", ref).out.strip() == "rootless-cache"
