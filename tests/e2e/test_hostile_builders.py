"""Hostile layer archives: extraction must never write outside the layer root.

Every builder of mkimage.HOSTILE is wrapped in an image, written as a docker-archive and an
oci-archive, and loaded as root and as the unprivileged user 'nobody'. Each test creates its
own victim directory under /tmp (present and empty, or absent) that the hostile entries aim at,
and checks afterwards (hostile_common.Guard and the assert_* helpers there) that:
  * the victim is untouched, no hostile target name appeared in / or /tmp;
  * nothing exists in the test's own directory beside the archive and the store's layout
    (so a "../../escaped" landing in the store's tmp/ or next to it is caught);
  * /etc/passwd is unchanged (content and link count);
  * refused layers exit 4 naming the entry and leave no refs, layer trees or tmp/ entries;
  * accepted layers end up with the expected content inside the layer root.
More escapes are in test_hostile_escapes.py, owners in test_hostile_ownership.py.
"""
import hashlib
import inspect
import os
import stat

import pytest

from conftest import tmp_entries
from fixtures import mkimage as mk
from hostile_common import (Guard, _contained_pwned, all_files, as_user, assert_loaded,
                            assert_refused, blob_names, layer_root, read, sha256_file, workdir,
                            write_archive, xattrs_of)

# builder -> (expected outcome, entry names the error message must quote)
REFUSED = {
    "dotdot": ["../../escaped"],
    "hardlink-dotdot": ["hl"],
    "hardlink-absolute": ["hl-abs"],
}
# A symlink used as a parent that points outside: refused, or contained inside the layer.
REFUSE_OR_CONTAIN = {
    "symlink-escape": ["link/pwned"],
    "symlink-chain": ["a/x"],
    "dir-then-symlink": ["d/pwned"],
}


def build_layer(name, victim):
    builder = mk.HOSTILE[name]
    kw = {}
    if "victim" in inspect.signature(builder).parameters:
        kw["victim"] = str(victim)
    return builder(**kw)


# --------------------------------------------------------------------------------------------
# per-builder checks of the extracted tree (only for loads that succeed)
# --------------------------------------------------------------------------------------------

def check_absolute(root, user, res, guard):
    assert read(root / "abs-escape") == b"abs\n"
    assert (root / "abs-escape-dir").is_dir()
    assert read(root / "abs-escape-dir" / "f") == b"abs\n"


def check_symlink_escape(root, user, res, guard):
    assert os.readlink(root / "link") == str(guard.victim)
    _contained_pwned(root, b"pwned\n")


def check_symlink_chain(root, user, res, guard):
    assert os.readlink(root / "a") == "b"
    assert os.readlink(root / "b") == "../../.."
    _contained_pwned(root, b"pwned via chain\n")


def check_dir_then_symlink(root, user, res, guard):
    # the symlink replaced the directory (last entry wins) and d/pwned stayed inside
    assert os.readlink(root / "d") == str(guard.victim)
    _contained_pwned(root, b"pwned\n")


def check_symlink_then_dir(root, user, res, guard):
    s = root / "s"
    assert s.is_dir() and not s.is_symlink(), "the directory entry must replace the symlink"
    assert read(s / "f") == b"inside\n"
    assert sorted(os.listdir(root)) == ["s"]


def check_device(root, user, res, guard):
    fifo = root / "dev" / "myfifo"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    if user == "root":
        assert os.path.lexists(root / "dev" / "mynull"), \
            f"root must create device nodes, but they were skipped: {res.err}"
        st = os.lstat(root / "dev" / "mynull")
        assert stat.S_ISCHR(st.st_mode), "root must create the char device"
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
        st = os.lstat(root / "dev" / "myloop")
        assert stat.S_ISBLK(st.st_mode), "root must create the block device"
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (7, 0)
    else:
        assert not os.path.lexists(root / "dev" / "mynull")
        assert not os.path.lexists(root / "dev" / "myloop")
        low = res.err.lower()
        assert "device" in low and "skip" in low, f"rootless must note skipped devices: {res!r}"


def check_setuid(root, user, res, guard):
    suid, sgid = os.lstat(root / "suid"), os.lstat(root / "sgid")
    assert read(root / "suid") == b"#!/bin/sh\nid\n"
    if user == "root":
        assert stat.S_IMODE(suid.st_mode) == 0o4755, oct(suid.st_mode)
        assert stat.S_IMODE(sgid.st_mode) == 0o2755, oct(sgid.st_mode)
    else:
        assert stat.S_IMODE(suid.st_mode) == 0o755, oct(suid.st_mode)
        assert stat.S_IMODE(sgid.st_mode) == 0o755, oct(sgid.st_mode)
    assert stat.S_IMODE(os.lstat(root / "sticky").st_mode) == 0o1777


def check_weird_paths(root, user, res, guard):
    assert sorted(os.listdir(root)) == ["dir", "dot-prefixed"]
    assert sorted(os.listdir(root / "dir")) == ["dotted", "double", "sub"]
    assert read(root / "dir" / "dotted") == b"1\n"
    assert read(root / "dir" / "double") == b"2\n"
    assert read(root / "dot-prefixed") == b"3\n"
    assert read(root / "dir" / "sub" / "deep") == b"4\n"


def check_long_name(root, user, res, guard):
    name = mk.long_name(300)
    f = root / name
    assert read(f) == b"long\n"
    assert os.readlink(root / "long-symlink") == name
    assert os.path.samefile(root / "long-hardlink", f)
    assert os.lstat(f).st_nlink == 2
    assert os.readlink(root / (name[:-1] + "s")) == "zzz"


def check_xattrs(root, user, res, guard):
    assert xattrs_of(root / "xattr-file").get("user.test") == b"hello"
    assert xattrs_of(root / "binary-xattr").get("user.bin") == b"\x00\xff\xfe"
    assert (root / "trusted-opaque").is_dir() and (root / "user-opaque").is_dir()
    for p in [root, *all_files(root)]:
        for k in xattrs_of(p):
            assert not k.startswith(("trusted.overlay.", "user.overlay.")), \
                f"{p} kept the archive's overlay xattr {k}"


def check_sparse(root, user, res, guard):
    f = root / "sparse"
    expected = bytearray(mk.SPARSE_SIZE)
    for off, data in mk.SPARSE_CHUNKS:
        expected[off:off + len(data)] = data
    st = os.lstat(f)
    assert st.st_size == mk.SPARSE_SIZE
    assert sha256_file(f) == hashlib.sha256(expected).hexdigest(), "sparse content differs"
    assert st.st_blocks * 512 < st.st_size // 4, \
        f"sparse file was written densely ({st.st_blocks} blocks for {st.st_size} bytes)"


CHECKS = {
    "absolute": check_absolute,
    "symlink-escape": check_symlink_escape,
    "symlink-chain": check_symlink_chain,
    "dir-then-symlink": check_dir_then_symlink,
    "symlink-then-dir": check_symlink_then_dir,
    "device": check_device,
    "setuid": check_setuid,
    "weird-paths": check_weird_paths,
    "long-name": check_long_name,
    "xattrs": check_xattrs,
    "sparse": check_sparse,
}


def test_every_hostile_builder_has_an_expectation():
    assert set(mk.HOSTILE) == set(REFUSED) | set(CHECKS)


# --------------------------------------------------------------------------------------------
# the matrix: every hostile builder x archive format x root/rootless
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", ["root", "rootless"])
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
@pytest.mark.parametrize("name", sorted(mk.HOSTILE))
def test_hostile_layer(request, tmp_path, name, fmt, user):
    gan = as_user(request, user)
    base = workdir(gan, tmp_path)
    # the victim exists (empty) for the escape builders and is absent for half of the others,
    # so both "nothing written into it" and "nothing created there" get exercised
    victim_state = "exists" if (name in REFUSE_OR_CONTAIN or name == "symlink-then-dir"
                                or fmt == "oci-archive") else "absent"
    guard = Guard(base, victim_state)
    try:
        layer = build_layer(name, guard.victim)
        archive = write_archive(mk.Image([layer], cmd=["/bin/sh"]), fmt, base, name)
        res = gan.run("load", archive, check=False)
        guard.check(gan, archive)
        if name in REFUSED:
            assert_refused(gan, res, REFUSED[name], layer)
            return
        if name in REFUSE_OR_CONTAIN and res.code != 0:
            assert_refused(gan, res, REFUSE_OR_CONTAIN[name], layer)
            return
        assert_loaded(gan, res, layer)
        CHECKS[name](layer_root(gan, layer), user, res, guard)
        guard.check(gan, archive)
    finally:
        guard.cleanup()


@pytest.mark.parametrize("user", ["root", "rootless"])
@pytest.mark.parametrize("victim_state", ["exists", "absent"])
@pytest.mark.parametrize("name", sorted(REFUSE_OR_CONTAIN) + ["symlink-then-dir"])
def test_symlink_builders_victim_states(request, tmp_path, name, victim_state, user):
    """The symlink builders aimed at an existing and at a missing victim directory."""
    gan = as_user(request, user)
    base = workdir(gan, tmp_path)
    guard = Guard(base, victim_state)
    try:
        layer = build_layer(name, guard.victim)
        archive = write_archive(mk.Image([layer]), "oci-archive", base, name)
        res = gan.run("load", archive, check=False)
        guard.check(gan, archive)
        if name in REFUSE_OR_CONTAIN and res.code != 0:
            assert_refused(gan, res, REFUSE_OR_CONTAIN[name], layer)
        else:
            assert_loaded(gan, res, layer)
            CHECKS[name](layer_root(gan, layer), user, res, guard)
    finally:
        guard.cleanup()


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_image_leaves_no_blobs(g, tmp_path, name, fmt):
    """Bad input leaves no partial state: not even the manifest or config of a refused image."""
    layer = build_layer(name, "/tmp/gantry-victim-unused")
    archive = write_archive(mk.Image([layer]), fmt, tmp_path, name)
    res = g.run("load", archive, check=False)
    assert res.code == 4, res
    assert blob_names(g) == [], f"a refused load left blobs behind: {blob_names(g)}"
    df = g.run("system", "df", "--json").json()
    assert df["blobs"]["count"] == 0 and df["layers"]["count"] == 0


@pytest.mark.parametrize("user", ["root", "rootless"])
def test_hostile_on_top_of_busybox(request, tmp_path, user):
    """A refused hostile layer on top of a good one: the whole image is refused."""
    gan = as_user(request, user)
    base = workdir(gan, tmp_path)
    guard = Guard(base, "exists")
    try:
        img = mk.Image([mk.busybox_layer("gzip"), mk.hostile_dotdot()])
        archive = write_archive(img, "oci-archive", base, "bb-dotdot")
        res = gan.run("load", archive, check=False)
        guard.check(gan, archive)
        assert res.code == 4, res
        assert '"../../escaped"' in res.err
        assert gan.refs() == {}
        assert tmp_entries(gan.root) == []
        assert gan.run("system", "fsck", "--json").json()["problems"] == []
    finally:
        guard.cleanup()
