"""Lazy pull's read-ahead (docs/lazy-pull.md, "Read-ahead"): a file read from its start and on,
and small files read in the blob's order, arrive in few large Range requests (a window that
doubles from 512 KiB, 1 MiB for the squashfs artifact, up to 4 MiB, the next one asked for while
the container reads this one), not one request per chunk or per 512 KiB; a small read still
fetches little; every byte still verified. Against test_lazy_pull's registry and proxy, with the
background prefetch off (it would fetch the rest meanwhile): the requests are then the read
fetcher's (lazy/read_fetcher.hpp), whose threads the serving process starts under its seccomp
filter (sandbox::confinement(lazy::server_calls())), so these runs also show that list lets them
start."""
import hashlib
import json
import random
import urllib.request

import pytest

from conftest import Gantry
from test_lazy_pull import INSECURE, _tools, blob_ranges, lazy_ref, proxy, reg  # noqa: F401

HUGE = random.Random(41).randbytes(24 << 20)  # incompressible: 24 zstd:chunked chunks
SMALL = [random.Random(i).randbytes(40 << 10) for i in range(200)]  # 8 MB of small files


def image(mk):
    E = mk.Entry
    files = [E.dir("big"), E.file("big/huge.bin", HUGE), E.dir("small")]
    files += [E.file(f"small/f{i:03}", b) for i, b in enumerate(SMALL)]
    return mk.busybox_image(extra_layers=[mk.Layer(files)])


@pytest.fixture(scope="module")
def pushed(reg, tmp_path_factory, gantry_bin):  # noqa: F811
    """The image pushed as eStargz, zstd:chunked and a squashfs artifact: format -> (reference,
    the digest of the blob holding big/ and small/)."""
    from fixtures import mkimage
    d = tmp_path_factory.mktemp("ra-push")
    gan = Gantry(d / "store")
    archive = d / "img.tar"
    mkimage.write_docker_archive(archive, [(image(mkimage), ["ra:latest"])])
    gan.run("load", archive)
    out = {}
    for name, opts in (("estargz", ["--compression", "estargz"]),
                       ("zstd", ["--compression", "zstd:chunked"]),
                       ("sqsh", ["--format", "squashfs"])):
        ref = f"{reg.addr}/lazy/ra-{name}:1"
        gan.run("push", INSECURE, *opts, "ra:latest", ref)
        req = urllib.request.Request(
            f"http://{reg.addr}/v2/lazy/ra-{name}/manifests/1",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        layers = json.loads(urllib.request.urlopen(req).read())["layers"]
        out[name] = (ref, layers[0 if name == "sqsh" else -1]["digest"])
    return out


def run_reading(g, pushed, px, script):
    """Runs SCRIPT lazily (prefetch off) after the metadata fetch: its output and the Range
    requests it made of the blob holding big/ and small/."""
    ref, digest = pushed
    lref = lazy_ref(ref, px)
    on_demand = Gantry(g.root, env={"GANTRY_LAZY_PREFETCH": "0"})
    on_demand.run("pull", "--lazy", INSECURE, lref)
    px.clear_log()
    out = on_demand.run("run", "--rm", "--pull", "lazy", INSECURE, lref, "sh", "-c", script).out
    gets = blob_ranges(px, digest)
    assert gets and all(r["range"] for r in gets), gets
    return out, gets


@pytest.mark.parametrize("fmt", ["zstd", "sqsh", "estargz"])
def test_big_file_read_sequentially_makes_few_large_requests(g, pushed, proxy, fuse_open, fmt):
    """24 MiB read from its start: zstd:chunked's 1 MiB chunks were 24 requests, the squashfs
    artifact's 1 MiB read-ahead 24 (eStargz's 4 MiB chunks: 6); now the window grows to 4 MiB,
    and stops at the file's end (the squashfs artifact's reads are of blocks, not files)."""
    out, gets = run_reading(g, pushed[fmt], proxy, "md5sum /big/huge.bin")
    assert out.split()[0] == hashlib.md5(HUGE).hexdigest()
    sizes = sorted(r["sent"] for r in gets)
    assert sum(sizes) >= len(HUGE)
    # ~24 MiB / 4 MiB + the growing windows (+ the squashfs artifact's tables and busybox)
    assert len(gets) <= 14, sizes
    big = [s for s in sizes if s >= (2 << 20)]
    assert sum(big) >= len(HUGE) * 3 // 4, sizes
    if fmt != "sqsh":  # its stream stops at its end: not a byte of the small files after it
        assert sum(sizes) <= len(HUGE) + (256 << 10), sizes


@pytest.mark.parametrize("fmt", ["estargz", "zstd"])
def test_small_files_in_blob_order_come_in_growing_requests(g, pushed, proxy, fuse_open, fmt):
    """200 files of 40 KiB read in path order (the blob's): a 512 KiB request each 12 files
    before (16 for 8 MB); now the stream's window grows."""
    out, gets = run_reading(g, pushed[fmt], proxy,
                            "cat /small/f* | md5sum")
    assert out.split()[0] == hashlib.md5(b"".join(SMALL)).hexdigest()
    sizes = sorted(r["sent"] for r in gets)
    assert len(gets) <= 7, sizes
    assert max(sizes) >= (2 << 20), sizes


def test_a_small_read_still_fetches_little(g, pushed, proxy, fuse_open):
    """One small file in the middle of the blob: one stream's first window, nothing ahead."""
    out, gets = run_reading(g, pushed["estargz"], proxy, "md5sum /small/f100")
    assert out.split()[0] == hashlib.md5(SMALL[100]).hexdigest()
    assert len(gets) == 1 and gets[0]["sent"] <= (512 << 10), gets
