"""The facts gantry reads from a .sqsh before it runs it (the verified header, etc/passwd) are
kept in STORE/sqsh-facts, one entry per file identity (sqsh/facts_cache.hpp), so that the next
`run FILE.sqsh` forks no confined reader. The entry's name is the documented digest of the file's
identity and superblock; a planted entry is what the run uses (so it is used), a torn one is a
miss that is written again, and a file changed in place gets a new entry."""
import hashlib
import os
import struct

from conftest import need_tool


def key(path, want_passwd=True):
    st = os.stat(path)
    with open(path, "rb") as f:
        superblock = f.read(96)
    nums = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9,
            st.st_ctime_ns // 10**9, st.st_ctime_ns % 10**9, int(want_passwd),
            0, 0]  # the image's window in the file: a .sqsh is all of it (a SIF's: its partition)
    ident = b"gantry-sqsh-facts-3" + b"".join(b" %d" % n for n in nums) + b" " + superblock
    return hashlib.sha256(ident).hexdigest()


def fields(answer):
    out = []
    while answer:
        (n,) = struct.unpack("<I", answer[:4])
        out.append(answer[4:4 + n])
        answer = answer[4 + n:]
    return out


def entry(*parts):
    answer = b"".join(struct.pack("<I", len(p)) + p for p in parts)
    return hashlib.sha256(answer).hexdigest().encode() + b"\n" + answer


def test_a_run_keeps_the_facts_and_the_next_run_uses_them(g, mk, tmp_path):
    need_tool("tar2sqfs")
    archive = tmp_path / "img.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(), ["facts:1"])])
    g.run("load", archive)
    img = tmp_path / "img.sqsh"
    g.run("save", "facts:1", "--format", "squashfs", "-o", img)
    cache = g.root / "sqsh-facts"

    assert g.run("run", "--rm", img, "id", "-u").out.strip() == "0"
    assert os.listdir(cache) == [key(img)]
    stored = (cache / key(img)).read_bytes()
    kind, header, passwd = fields(stored[65:])
    assert stored[:64].decode() == hashlib.sha256(stored[65:]).hexdigest()
    assert kind == b"header" and b'"config_digest"' in header and passwd.startswith(b"root:")

    # used: a user only the entry knows
    (cache / key(img)).write_bytes(entry(b"header", header,
                                         passwd + b"cached:x:4242:4242::/:/bin/sh\n"))
    assert g.run("run", "--rm", "-u", "cached", img, "id", "-u").out.strip() == "4242"

    # torn (or tampered: the digest no longer matches): read from the file again, written again
    (cache / key(img)).write_bytes(stored[:100])
    assert g.run("run", "--rm", img, "id", "-u").out.strip() == "0"
    assert (cache / key(img)).read_bytes() == stored
    bad = entry(b"header", b"{not json", passwd)  # intact, but not a header: refused as damaged
    (cache / key(img)).write_bytes(bad)
    assert g.run("run", "--rm", img, "id", "-u").out.strip() == "0"
    assert (cache / key(img)).read_bytes() == stored

    # the file changed in place (its ctime moves): a new entry, the old one is not used
    old = key(img)
    (cache / old).write_bytes(entry(b"header", header, passwd + b"cached:x:4242:4242::/:/bin/sh\n"))
    os.utime(img)
    assert key(img) != old
    g.fail("run", "--rm", "-u", "cached", img, "id", "-u")
    assert sorted(os.listdir(cache)) == sorted([old, key(img)])


def test_the_cache_keeps_the_newest_entries(g, mk, tmp_path):
    """At most 1,024 entries: a miss removes the oldest (a changed file leaves its old entry)."""
    need_tool("tar2sqfs")
    archive = tmp_path / "img.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(), ["facts:2"])])
    g.run("load", archive)
    img = tmp_path / "img.sqsh"
    g.run("save", "facts:2", "--format", "squashfs", "-o", img)
    cache = g.root / "sqsh-facts"
    cache.mkdir()
    for i in range(1030):
        (cache / f"{i:064x}").write_bytes(b"old")
        os.utime(cache / f"{i:064x}", (1000 + i, 1000 + i))
    assert g.run("run", "--rm", img, "id", "-u").out.strip() == "0"
    left = set(os.listdir(cache))
    assert len(left) == 1024 and key(img) in left
    assert f"{0:064x}" not in left and f"{6:064x}" not in left and f"{1029:064x}" in left
