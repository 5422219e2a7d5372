"""A hostile layer's PAX sparse file of 2 TiB is a few KB in its tar. The store keeps its holes;
what reads the tree (the tree digest at unpack, `system fsck --deep`) reads its data only
(gantry-tree-v3/v4's zero runs: it read 2 TiB of zeros, hours, before), and what would have to
write the holes out as zeros (`save --format squashfs`, `push --compression zstd:chunked` or
`estargz`, `slim`) refuses it at once, naming the file, rather than after hours of zeros."""
import json
import os
import tarfile
from pathlib import Path

import pytest

from conftest import load_busybox, need_tool

TIB = 1 << 40


@pytest.fixture
def vast(g, mk, tmp_path):
    layer = mk.Layer([
        mk.Entry.sparse("d/vast", [(TIB, b"middle")], 2 * TIB),
        mk.Entry.file("d/small", b"small"),
    ], compression="gzip")
    archive = tmp_path / "vast.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(extra_layers=[layer]), ["vast:1"])])
    assert os.path.getsize(archive) < 4 << 20
    g.run("load", archive, timeout=60)  # 2 TiB of zeros read took hours
    [d] = [d for d in (g.root / "layers" / "sha256").iterdir()
           if (d / "rootfs" / "d" / "vast").exists()]
    return g, d


def test_a_vast_sparse_file_is_unpacked_digested_and_checked_by_its_data(vast):
    g, d = vast
    meta = json.loads((d / "meta.json").read_text())
    assert meta["tree"]["scheme"] == "gantry-tree-v4", meta  # one copy, its tar-split kept
    f = d / "rootfs" / "d" / "vast"
    assert f.stat().st_size == 2 * TIB and f.stat().st_blocks * 512 < 1 << 20
    assert g.run("run", "--rm", "vast:1", "/bin/busybox", "stat", "-c", "%s",
                 "/d/vast").out.strip() == str(2 * TIB)
    rep = g.run("system", "fsck", "--deep", "--json", timeout=60).json()
    assert rep["problems"] == [] and rep["trees_checked"] == 2, rep
    # a byte written into a hole, the size kept: the zero runs see it
    with open(f, "r+b") as fh:
        fh.seek(TIB // 2)
        fh.write(b"X")
    r = g.run("system", "fsck", "--deep", "--json", check=False, timeout=60)
    assert r.code == 4, r
    assert [p["object"] for p in r.json()["problems"]] == ["sha256:" + d.name], r.json()


def test_formats_that_would_write_its_holes_out_refuse_it_naming_it(vast, tmp_path):
    g, _ = vast
    r = g.run("slim", "--tag", "vast:slim", "vast:1", check=False, timeout=60)
    assert r.code == 7 and "d/vast is a sparse file" in r.err, r
    assert "the slimmed layer" in r.err, r.err
    out = tmp_path / "vast.sqsh"
    r = g.run("save", "--format", "squashfs", "-o", out, "vast:1", check=False, timeout=60)
    assert r.code == 7, r
    # its data padded to a tar block
    assert "d/vast is a sparse file of 2199023255552 bytes (512 of data)" in r.err, r.err
    assert "a squashfs file" in r.err and not out.exists(), r.err
    need_tool("docker-registry")
    from fixtures.registry.harness import Registry
    reg = Registry(tmp_path / "reg").start()
    try:
        for compression in ("zstd:chunked", "estargz"):
            r = g.run("push", "--tls-verify=false", "--compression", compression, "vast:1",
                      f"{reg.addr}/vast/{compression.replace(':', '-')}:1", check=False,
                      timeout=60)
            assert r.code == 7, r
            assert "d/vast is a sparse file" in r.err, r.err
        # the store's own format keeps the holes: a plain push passes
        g.run("push", "--tls-verify=false", "vast:1", f"{reg.addr}/vast/plain:1", timeout=60)
    finally:
        reg.stop()


def test_import_takes_a_2_tib_sparse_file_and_refuses_one_no_file_system_holds(g, mk, tmp_path):
    """`gantry import` copies a tarball's entries into a layer keeping the holes, walking them:
    2 TiB is quick; 2^62 bytes (the same 10 KB of tar) was a walk without end, now refused."""
    vast = tmp_path / "vast.tar"
    vast.write_bytes(mk.Layer([mk.Entry.sparse("d/vast", [(TIB, b"v")], 2 * TIB)],
                              compression="none").tar_bytes())
    g.run("import", vast, "vast:imported", timeout=60)
    [f] = list((g.root / "layers" / "sha256").glob("*/rootfs/d/vast"))
    assert f.stat().st_size == 2 * TIB and f.stat().st_blocks * 512 < 1 << 20
    absurd = tmp_path / "absurd.tar"
    absurd.write_bytes(mk.Layer([mk.Entry.sparse("d/absurd", [(0, b"a")], 1 << 62)],
                                compression="none").tar_bytes())
    r = g.run("import", absurd, "absurd:1", check=False, timeout=60)
    assert r.code == 7, r
    assert f"d/absurd is a sparse file of {1 << 62} bytes" in r.err and "16 TiB" in r.err, r.err
    assert "absurd" not in g.run("images").out


def _tree_file(g, name):
    """The one layer tree's file NAME (a path in the image) in G's store."""
    [f] = [f for f in (g.root / "layers" / "sha256").glob(f"*/rootfs/{name}")]
    return f


def test_build_add_of_a_sparse_tar_puts_each_block_at_its_offset_and_keeps_vast_holes(
        g, mk, tmp_path):
    """ADD of a local tar wrote a sparse member's data blocks one after another, from offset
    0 (the bytes in the wrong place), then its holes as zeros through deflate (a 2 TiB member:
    hours); now each block lands at its offset and the member's map is kept, as `import` keeps
    it; one no file system holds is refused."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "sparse.tar").write_bytes(mk.Layer([
        mk.Entry.sparse("d/small", [(4 << 20, b"middle")], 8 << 20),
        mk.Entry.sparse("d/vast", [(TIB, b"far")], 2 * TIB),
    ], compression="none").tar_bytes())
    (ctx / "Dockerfile").write_text("FROM scratch\nADD sparse.tar /\n")
    g.run("build", "-q", "-t", "added:1", ctx, timeout=60)
    small = _tree_file(g, "d/small")
    with open(small, "rb") as f:
        assert f.read(6) == bytes(6)
        f.seek(4 << 20)
        assert f.read(6) == b"middle"
    assert small.stat().st_size == 8 << 20
    vast = _tree_file(g, "d/vast")
    assert vast.stat().st_size == 2 * TIB and vast.stat().st_blocks * 512 < 1 << 20
    with open(vast, "rb") as f:
        f.seek(TIB)
        assert f.read(3) == b"far"
    (ctx / "sparse.tar").write_bytes(mk.Layer([mk.Entry.sparse("d/absurd", [(0, b"a")], 1 << 62)],
                                              compression="none").tar_bytes())
    r = g.run("build", "-q", "-t", "absurd:1", ctx, check=False, timeout=60)
    assert r.code == 7, r
    assert f"d/absurd is a sparse file of {1 << 62} bytes" in r.err and "16 TiB" in r.err, r.err


def test_build_copy_and_run_keep_a_vast_sparse_files_holes(g, mk, tmp_path):
    """A 2 TiB sparse file COPY'd from the context was read whole for the step's cache key and
    again into the layer (hours); one a RUN made (useradd's lastlog of a large uid grows so) was
    read whole into the layer. Each now keeps its holes in the layer (a PAX sparse map) and its
    data in place, and the cache key still sees a byte change in the data."""
    base = load_busybox(g, mk, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    big = ctx / "big"
    with open(big, "wb") as f:
        f.truncate(2 * TIB)
        f.seek(TIB)
        f.write(b"copied")
    (ctx / "Dockerfile").write_text(
        f"FROM {base}\nCOPY big /big\n"
        "RUN truncate -s 2199023255552 /ran && "
        "printf ran | dd of=/ran bs=1 seek=1099511627776 conv=notrunc 2>/dev/null\n")
    g.run("build", "-q", "-t", "holes:1", ctx, timeout=120)
    out = g.run("run", "--rm", "holes:1", "/bin/sh", "-c",
                "stat -c %s /big /ran; dd if=/big bs=1 skip=1099511627776 count=6 2>/dev/null;"
                " echo; dd if=/ran bs=1 skip=1099511627776 count=3 2>/dev/null",
                timeout=60).out.split()
    assert out == [str(2 * TIB), str(2 * TIB), "copied", "ran"], out
    for name in ("big", "ran"):
        f = _tree_file(g, name)
        assert f.stat().st_blocks * 512 < 1 << 20, (name, f.stat())
    # the COPY's cache key reads the data: a changed byte is a miss, the same bytes a hit
    r = g.run("build", "-t", "holes:2", ctx, timeout=120)
    assert r.err.count("  cached") == 2, r.err  # the COPY and the RUN
    with open(big, "r+b") as f:
        f.seek(TIB)
        f.write(b"C")
    r = g.run("build", "-t", "holes:3", ctx, timeout=120)
    assert r.err.count("  cached") == 0, r.err
    assert g.run("run", "--rm", "holes:3", "/bin/sh", "-c",
                 "dd if=/big bs=1 skip=1099511627776 count=6 2>/dev/null",
                 timeout=60).out == "Copied"


def test_load_of_a_squashfs_with_a_vast_sparse_file_keeps_its_holes(g, tmp_path):
    """tests/fixtures/sqsh/vast-sparse.sqsh, 4 KB, was written by mksquashfs 4.5.1 (`-b 1M`) from
    a 20 GiB file of holes with "hello at 1G" at 1 GiB and "end" at 19 GiB: squashfs keeps the
    holes as sparse blocks. `load` wrote the 20 GiB out as zeros through the layer's tar, its
    digest and its unpacking (still at it when killed at 60 s); now the tar carries a sparse map
    of the file's data blocks, as a build's or a layer's vast sparse file does."""
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "sqsh" / "vast-sparse.sqsh"
    g.run("load", "-i", fixture, timeout=60)
    [f] = [d / "rootfs" / "vast" for d in (g.root / "layers" / "sha256").iterdir()
           if (d / "rootfs" / "vast").exists()]
    assert f.stat().st_size == 20 << 30 and f.stat().st_blocks * 512 < 8 << 20, f.stat()
    with open(f, "rb") as data:
        data.seek(1 << 30)
        assert data.read(12) == b"hello at 1G\0"
        data.seek(19 << 30)
        assert data.read(4) == b"end\0"
        data.seek((1 << 30) - 5)
        assert data.read(5) == bytes(5)
    # the layer's tar as `save` writes it: the map, the two data blocks, no 20 GiB of zeros
    out = tmp_path / "saved.tar"
    g.run("save", "vast-sparse", "-o", out, timeout=60)
    assert out.stat().st_size < 4 << 20
    with tarfile.open(out) as saved:
        [layer] = [m for m in saved.getmembers() if m.name.endswith(".tar")]
        with tarfile.open(fileobj=saved.extractfile(layer)) as t:
            vast_member = t.getmember("vast")
    assert vast_member.size == 20 << 30
    # the map's data regions (a map ends with an empty one where the file ends in a hole)
    assert [(o, n) for o, n in vast_member.sparse if n] == [(1 << 30, 1 << 20),
                                                            (19 << 30, 1 << 20)]
