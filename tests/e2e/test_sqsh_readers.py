"""The FUSE server's reader threads (fuse/server.cpp, sqsh/image_blocks.cpp): a big file's own
blocks decompressed by other threads than the one answering requests, through a shared cache of
decompressed blocks. On fewer than 4 CPUs gantry starts none, so these tests ask for them with
GANTRY_SQSH_READERS: the bytes read, by several readers at once, are the image's; every thread
of the server is confined; a bad value is refused naming the variable."""
import hashlib
import random

from conftest import Gantry, need_tool


def big_image(g, mk, tmp_path):
    need_tool("tar2sqfs")
    rng = random.Random(40)
    words = [bytes(rng.choice(b"abcdefghij") for _ in range(rng.randrange(2, 9))) for _ in range(500)]
    big = b" ".join(rng.choice(words) for _ in range(600_000))[:3_000_000]  # ~23 blocks, a tail
    small = {f"data/s{i}": bytes(rng.choice(words)) * (i + 1) for i in range(20)}
    E = mk.Entry
    layer = mk.Layer([E.dir("data"), E.file("data/big", big)] +
                     [E.file(k, v) for k, v in small.items()])
    archive = tmp_path / "img.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(extra_layers=[layer]), ["readers:1"])])
    g.run("load", archive)
    img = tmp_path / "img.sqsh"
    g.run("save", "readers:1", "--format", "squashfs", "-o", img)
    return img, big, small


def test_reader_threads_serve_the_image_bytes(g, mk, tmp_path):
    img, big, small = big_image(g, mk, tmp_path)
    fuse = Gantry(g.root, env={"GANTRY_SQSH_FUSE": "1", "GANTRY_SQSH_READERS": "2"})
    # three readers of the big file at once (their readahead keeps several reads in flight),
    # then the small files (fragments, on the serving thread)
    r = fuse.run("run", "--rm", img, "sh", "-c",
                 "for i in 1 2 3; do md5sum /data/big > /tmp/m$i & done; wait; cat /tmp/m1 /tmp/m2 "
                 "/tmp/m3; md5sum /data/s*")
    sums = dict(reversed(line.split()) for line in r.out.splitlines())
    lines = r.out.splitlines()
    want = hashlib.md5(big).hexdigest()
    assert [l.split()[0] for l in lines[:3]] == [want] * 3, r.out
    for name, data in small.items():
        assert sums["/" + name] == hashlib.md5(data).hexdigest(), name


def test_a_bad_reader_count_is_refused(g, mk, tmp_path):
    img, _, _ = big_image(g, mk, tmp_path)
    fuse = Gantry(g.root, env={"GANTRY_SQSH_FUSE": "1", "GANTRY_SQSH_READERS": "many"})
    r = fuse.fail("run", "--rm", img, "true", code=2)
    assert "GANTRY_SQSH_READERS=many" in r.err and "0 to 16" in r.err, r.err
