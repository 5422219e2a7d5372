"""Zero runs become holes when layers are unpacked (issue 23): a 64 MiB file of zeros with a
byte in the middle takes a few KiB in the store, reads back identical inside a container, and
`system df` and `analyze` report apparent and allocated sizes; as root and rootless."""
import hashlib
import os
from pathlib import Path

MIB = 1 << 20
ZEROS = b"\0" * (32 * MIB) + b"x" + b"\0" * (32 * MIB) + b"tail"
NOISE = os.urandom(3 * MIB)


def sparse_image(mk, where):
    img = mk.busybox_image(extra_layers=[mk.Layer(
        [mk.Entry.file("data/zeros.bin", ZEROS), mk.Entry.file("data/noise.bin", NOISE)],
        compression="gzip")])
    archive = Path(where) / "sparse.tar"
    mk.write_docker_archive(archive, [(img, ["sparse:1"])])
    os.chmod(archive, 0o644)
    return archive


def unpacked(store_root, name):
    hits = list(Path(store_root).glob(f"layers/sha256/*/rootfs/data/{name}"))
    assert len(hits) == 1, hits
    return hits[0].stat()


def check(gan, store_root):
    z, n = unpacked(store_root, "zeros.bin"), unpacked(store_root, "noise.bin")
    assert z.st_size == len(ZEROS) and z.st_blocks * 512 <= 64 * 1024, z
    assert n.st_blocks * 512 >= len(NOISE)  # nothing to skip in random data
    out = gan.run("run", "--rm", "sparse:1", "/bin/busybox", "sha256sum", "/data/zeros.bin",
                  "/data/noise.bin").out.split()
    assert out[0] == hashlib.sha256(ZEROS).hexdigest()
    assert out[2] == hashlib.sha256(NOISE).hexdigest()
    df = gan.run("system", "df", "--json").json()["layers"]
    assert df["apparent_bytes"] >= len(ZEROS) + len(NOISE)
    assert df["allocated_bytes"] < len(NOISE) + 8 * MIB, df
    assert "on disk" in gan.run("system", "df").out
    a = gan.run("analyze", "sparse:1", "--json").json()
    assert a["final_apparent_size"] >= len(ZEROS) + len(NOISE)
    assert len(NOISE) <= a["final_allocated_size"] < len(NOISE) + 8 * MIB, a
    assert "allocated unpacked" in gan.run("analyze", "sparse:1").out


def test_zero_runs_are_holes(g, mk, tmp_path):
    g.run("load", sparse_image(mk, tmp_path))
    check(g, g.root)


def test_zero_runs_are_holes_rootless(rootless, mk):
    rootless.run("load", sparse_image(mk, rootless.base))
    check(rootless, rootless.root)


def test_bundle_on_another_filesystem_keeps_content_and_holes(g, mk, tmp_path):
    """A bundle's rootfs is a flattened copy: onto tmpfs (/dev/shm), another filesystem than the
    store's, copy_file_range refuses (EXDEV), which used to fail `gantry bundle` outright; the copy
    now keeps the data identical and the holes holes."""
    import shutil
    import tempfile
    import pytest
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm (tmpfs)")
    if os.stat("/dev/shm").st_dev == os.stat(g.root.parent).st_dev:
        pytest.skip("the store is on /dev/shm's filesystem: nothing crosses filesystems")
    g.run("load", sparse_image(mk, tmp_path))
    parent = Path(tempfile.mkdtemp(prefix="gantry-sparse-", dir="/dev/shm"))
    try:
        g.run("bundle", "sparse:1", parent / "b")
        rootfs = parent / "b" / "rootfs"
        z, n = rootfs / "data/zeros.bin", rootfs / "data/noise.bin"
        assert hashlib.sha256(z.read_bytes()).digest() == hashlib.sha256(ZEROS).digest()
        assert n.read_bytes() == NOISE
        assert z.stat().st_blocks * 512 <= 64 * 1024, z.stat()
    finally:
        shutil.rmtree(parent, ignore_errors=True)
