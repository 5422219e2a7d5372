"""Hostile layer archives: extraction must never write outside the layer root.

Every builder of mkimage.HOSTILE is wrapped in an image, written as a docker-archive and an
oci-archive, and loaded as root and as the unprivileged user 'nobody'. Each test creates its
own victim directory under /tmp (present and empty, or absent) that the hostile entries aim at,
and checks afterwards that:
  * the victim is untouched, no hostile target name appeared in / or /tmp;
  * nothing exists in the test's own directory beside the archive and the store's layout
    (so a "../../escaped" landing in the store's tmp/ or next to it is caught);
  * /etc/passwd is unchanged (content and link count);
  * refused layers exit 4 naming the entry and leave no refs, layer trees or tmp/ entries;
  * accepted layers end up with the expected content inside the layer root.
"""
import hashlib
import inspect
import os
import pwd
import re
import shutil
import stat
import uuid
from pathlib import Path

import pytest

from conftest import tmp_entries
from fixtures import mkimage as mk

NOBODY = pwd.getpwnam("nobody")

E = mk.Entry
HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Names the hostile entries use: none may appear in / or /tmp.
TARGET_NAMES = {
    "escaped", "escaped2", "abs-escape", "abs-escape-dir", "pwned", "outside", "hl-abs",
    "mynull", "myloop", "myfifo", "long-symlink", "long-hardlink", "xattr-file", "binary-xattr",
    "trusted-opaque", "user-opaque", "dot-prefixed", "gantry-hostile-marker",
}

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


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def passwd_state():
    st = os.stat("/etc/passwd")
    return sha256_file("/etc/passwd"), st.st_nlink, st.st_mtime_ns, st.st_ino


def present_targets(d):
    try:
        return {n for n in os.listdir(d) if n in TARGET_NAMES}
    except FileNotFoundError:
        return set()


class Guard:
    """Snapshots the host before a hostile load and checks nothing changed after."""

    def __init__(self, base, victim_state):
        self.base = Path(base)
        self.victim = Path(f"/tmp/gantry-victim-{uuid.uuid4().hex[:12]}")
        self.victim_state = victim_state
        if victim_state == "exists":
            self.victim.mkdir()
            os.chmod(self.victim, 0o777)  # writable by nobody too: a leak could land here
            self.victim_stat = self._vstat()
        self.passwd = passwd_state()
        self.root_names = present_targets("/")
        self.tmp_names = present_targets("/tmp")

    def _vstat(self):
        st = os.lstat(self.victim)
        return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid

    def check(self, g, archive):
        if self.victim_state == "exists":
            assert self.victim.is_dir() and not self.victim.is_symlink()
            assert self._vstat() == self.victim_stat, "victim's mode or owner changed"
            assert os.listdir(self.victim) == [], f"victim {self.victim} was written into"
            assert not os.listxattr(self.victim), "victim got xattrs"
        else:
            assert not os.path.lexists(self.victim), f"victim {self.victim} was created"
        assert passwd_state() == self.passwd, "/etc/passwd changed"
        assert present_targets("/") == self.root_names, "a hostile name appeared in /"
        assert present_targets("/tmp") == self.tmp_names, "a hostile name appeared in /tmp"
        assert not os.path.lexists("/abs-escape") or "abs-escape" in self.root_names
        assert_only_store_layout(self.base, g.root, archive)

    def cleanup(self):
        if os.path.lexists(self.victim):
            if self.victim.is_dir() and not self.victim.is_symlink():
                shutil.rmtree(self.victim, ignore_errors=True)
            else:
                self.victim.unlink()


def assert_only_store_layout(base, store, archive):
    """Everything under base outside layer roots is the archive or the store's own layout."""
    base, store, archive = Path(base), Path(store), Path(archive)
    unexpected = []
    for dirpath, dirnames, filenames in os.walk(base):
        d = Path(dirpath)
        for name in dirnames + filenames:
            p = d / name
            if p == archive or p == store:
                continue
            try:
                rel = p.relative_to(store).parts
            except ValueError:
                unexpected.append(str(p))
                continue
            ok = (
                rel in {("blobs",), ("blobs", "sha256"), ("layers",), ("layers", "sha256"),
                        ("tmp",), ("locks",), ("holds",), ("refs.json",)}
                or (len(rel) == 2 and rel[0] == "locks")
                or (len(rel) == 3 and rel[:2] == ("blobs", "sha256") and HEX64.match(rel[2]))
                or (len(rel) == 3 and rel[:2] == ("layers", "sha256") and HEX64.match(rel[2]))
                or (len(rel) == 4 and rel[:2] == ("layers", "sha256")
                    and rel[3] in ("rootfs", "meta.json", "tar-split.json.zst"))
                or (len(rel) > 4 and rel[:2] == ("layers", "sha256") and rel[3] == "rootfs")
            )
            if not ok:
                unexpected.append(str(p))
        # do not descend into layer roots: whatever the layer holds is contained there
        if d.parent.parent == store / "layers":
            dirnames[:] = [n for n in dirnames if n != "rootfs"]
    assert not unexpected, f"files outside the store layout: {unexpected}"


def as_user(request, user):
    return request.getfixturevalue("g" if user == "root" else "rootless")


def workdir(gan, tmp_path):
    return Path(getattr(gan, "base", tmp_path))


def write_archive(image, fmt, where, name):
    where = Path(where)
    if fmt == "docker-archive":
        path = where / f"{name}.docker.tar"
        mk.write_docker_archive(path, [(image, [f"hostile/{name}:latest"])])
    else:
        path = where / f"{name}.oci.tar"
        mk.write_oci_archive(path, image, tags="latest")
    os.chmod(path, 0o644)
    return path


def layer_root(gan, layer):
    return gan.root / "layers" / "sha256" / layer.diff_id.split(":")[1] / "rootfs"


def blob_names(gan):
    d = gan.root / "blobs" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def layer_names(gan):
    d = gan.root / "layers" / "sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def assert_refused(gan, res, entries, layer):
    assert res.code == 4, f"hostile layer should be refused with exit 4: {res!r}"
    for e in entries:
        assert f'"{e}"' in res.err, f"error should name the entry {e!r}: {res!r}"
    assert gan.refs() == {}, "a refused image must not be referenced"
    assert layer_names(gan) == [], "a refused layer left an unpacked tree"
    assert tmp_entries(gan.root) == [], "a refused load left work files in tmp/"
    assert layer.digest.split(":")[1] not in blob_names(gan), "the refused layer blob was stored"
    assert gan.run("images", "--json").json() == []


def assert_loaded(gan, res, layer):
    assert res.code == 0, f"load should succeed: {res!r}"
    assert len(gan.refs()) == 1
    assert tmp_entries(gan.root) == []
    assert layer_root(gan, layer).is_dir(), "the layer tree is missing"
    fsck = gan.run("system", "fsck", "--json").json()
    assert fsck["problems"] == []


def all_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.append(Path(dirpath) / n)
    return out


def xattrs_of(p):
    return {k: os.getxattr(p, k, follow_symlinks=False)
            for k in os.listxattr(p, follow_symlinks=False)}


def build_layer(name, victim):
    builder = mk.HOSTILE[name]
    kw = {}
    if "victim" in inspect.signature(builder).parameters:
        kw["victim"] = str(victim)
    return builder(**kw)


# --------------------------------------------------------------------------------------------
# per-builder checks of the extracted tree (only for loads that succeed)
# --------------------------------------------------------------------------------------------

def read(p):
    return Path(p).read_bytes()


def check_absolute(root, user, res, guard):
    assert read(root / "abs-escape") == b"abs\n"
    assert (root / "abs-escape-dir").is_dir()
    assert read(root / "abs-escape-dir" / "f") == b"abs\n"


def _contained_pwned(root, content):
    hits = [p for p in all_files(root) if p.name in ("pwned", "x") and p.is_file()
            and not p.is_symlink() and read(p) == content]
    assert hits, f"loaded, but the entry's content is nowhere inside the layer root {root}"


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


# --------------------------------------------------------------------------------------------
# more escapes named by the issue: symlinks used as parents, hard links through symlinks,
# whiteouts through symlinks, a symlink from an earlier layer
# --------------------------------------------------------------------------------------------

def _victim_rel(guard):
    return str(guard.victim).lstrip("/")


def case_symlink_parent_in_root(guard):
    """link -> victim (absolute) where the layer itself has that path: resolves in the layer."""
    rel = _victim_rel(guard)
    return [E.dir("tmp"), E.dir(rel), E.symlink("link", str(guard.victim)),
            E.file("link/pwned", "pwned\n")]


def case_symlink_parent_relative(guard):
    up = "../" * 12
    return [E.symlink("link", up + _victim_rel(guard)), E.file("link/pwned", "pwned\n")]


def case_file_over_symlink(guard):
    """A regular file replaces a symlink to the outside: the symlink must not be followed."""
    return [E.symlink("f", str(guard.victim / "pwned")), E.file("f", "replaced\n")]


def case_hardlink_through_symlinked_dir(guard):
    return [E.symlink("etc", "/etc"), E.hardlink("hl-abs", "etc/passwd")]


def case_hardlink_to_outside_symlink(guard):
    return [E.symlink("sl", "/etc/passwd"), E.hardlink("hl-abs", "sl")]


def case_whiteout_through_symlink(guard):
    return [E.symlink("s", str(guard.victim)), E.whiteout("s/keep")]


def case_opaque_through_symlink(guard):
    return [E.symlink("s", str(guard.victim)), E.opaque("s")]


def case_dir_replaced_by_file(guard):
    """Removing a replaced directory must not follow a symlink inside it to the outside."""
    return [E.dir("d"), E.symlink("d/ln", str(guard.victim)), E.dir("d/sub"),
            E.symlink("d/sub/ln2", str(guard.victim)), E.file("d", "now a file\n")]


def case_dir_mode_through_symlink(guard):
    """A directory's mode (applied at the end) must not land on a symlink that replaced it."""
    return [E.dir("s", mode=0o700, uid=1000, gid=1000), E.symlink("s", str(guard.victim))]


def case_malformed_whiteout(guard):
    return [E.dir("sub"), E.file("sub/.wh...")]


EXTRA = {
    # name: (entries builder, "refuse" | "load" | "either", quoted entry for refusals)
    "symlink-parent-in-root": (case_symlink_parent_in_root, "either", "link/pwned"),
    "symlink-parent-relative": (case_symlink_parent_relative, "either", "link/pwned"),
    "file-over-symlink": (case_file_over_symlink, "load", None),
    "hardlink-through-symlinked-dir": (case_hardlink_through_symlinked_dir, "refuse", "hl-abs"),
    "hardlink-to-outside-symlink": (case_hardlink_to_outside_symlink, "either", "hl-abs"),
    "whiteout-through-symlink": (case_whiteout_through_symlink, "either", "s/.wh.keep"),
    "opaque-through-symlink": (case_opaque_through_symlink, "either", "s/.wh..wh..opq"),
    "malformed-whiteout": (case_malformed_whiteout, "refuse", "sub/.wh..."),
    "dir-replaced-by-file": (case_dir_replaced_by_file, "load", None),
    "dir-mode-through-symlink": (case_dir_mode_through_symlink, "load", None),
}


@pytest.mark.parametrize("user", ["root", "rootless"])
@pytest.mark.parametrize("case", sorted(EXTRA))
def test_more_escapes(request, tmp_path, case, user):
    gan = as_user(request, user)
    base = workdir(gan, tmp_path)
    guard = Guard(base, "exists")
    keep = None
    try:
        if case.startswith(("whiteout", "opaque", "dir-replaced")):
            # the victim has content a whiteout or opaque marker could destroy or mark
            keep = guard.victim / "keep"
            keep.write_text("keep me\n")
        build, expect, entry = EXTRA[case]
        layer = mk.Layer(build(guard), compression="none", sort=False)
        archive = write_archive(mk.Image([layer]), "oci-archive", base, case)
        res = gan.run("load", archive, check=False)
        if keep is not None:
            assert keep.read_text() == "keep me\n", "a whiteout removed a file outside"
            assert stat.S_ISREG(os.lstat(keep).st_mode)
            assert not any(k.startswith("user.overlay") for k in os.listxattr(guard.victim)), \
                "an opaque marker was set outside the layer"
            keep.unlink()
        guard.check(gan, archive)
        if expect == "refuse" or (expect == "either" and res.code != 0):
            assert_refused(gan, res, [entry], layer)
            return
        assert_loaded(gan, res, layer)
        root = layer_root(gan, layer)
        if case.startswith("symlink-parent"):
            _contained_pwned(root, b"pwned\n")
            if case == "symlink-parent-in-root":
                assert read(root / _victim_rel(guard) / "pwned") == b"pwned\n"
        elif case == "file-over-symlink":
            f = root / "f"
            assert stat.S_ISREG(os.lstat(f).st_mode) and read(f) == b"replaced\n"
        elif case == "hardlink-to-outside-symlink":
            # a hard link to the symlink itself, never to the host file it names
            assert os.path.islink(root / "hl-abs")
            assert os.readlink(root / "hl-abs") == "/etc/passwd"
        elif case == "dir-replaced-by-file":
            f = root / "d"
            assert stat.S_ISREG(os.lstat(f).st_mode) and read(f) == b"now a file\n"
        elif case == "dir-mode-through-symlink":
            assert os.readlink(root / "s") == str(guard.victim)
        elif case == "whiteout-through-symlink":
            st = os.lstat(root / "s" / "keep") if (root / "s").is_dir() else None
            assert st is None or (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
        guard.check(gan, archive)
    finally:
        guard.cleanup()


@pytest.mark.parametrize("user", ["root", "rootless"])
def test_symlink_from_an_earlier_layer(request, tmp_path, user):
    """Layer 1 plants link -> victim, layer 2 writes link/pwned: each layer has its own root."""
    gan = as_user(request, user)
    base = workdir(gan, tmp_path)
    guard = Guard(base, "exists")
    try:
        l1 = mk.Layer([E.symlink("link", str(guard.victim))], compression="gzip", sort=False)
        l2 = mk.Layer([E.file("link/pwned", "pwned\n")], compression="gzip", sort=False)
        archive = write_archive(mk.Image([l1, l2]), "docker-archive", base, "two-layers")
        res = gan.run("load", archive, check=False)
        guard.check(gan, archive)
        if res.code != 0:
            assert res.code == 4, res
            assert gan.refs() == {} and tmp_entries(gan.root) == []
            return
        assert_loaded(gan, res, l2)
        assert os.readlink(layer_root(gan, l1) / "link") == str(guard.victim)
        r2 = layer_root(gan, l2)
        assert (r2 / "link").is_dir() and not (r2 / "link").is_symlink()
        assert read(r2 / "link" / "pwned") == b"pwned\n"
    finally:
        guard.cleanup()


# --------------------------------------------------------------------------------------------
# ownership
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", ["root", "rootless"])
def test_ownership_applied_or_recorded(request, tmp_path, user):
    gan = as_user(request, user)
    base = workdir(gan, tmp_path)
    layer = mk.Layer([
        E.dir("home"),
        E.dir("home/u", mode=0o750, uid=1000, gid=1000),
        E.file("home/u/f", "mine\n", uid=1000, gid=1000),
        E.file("rootfile", "root\n"),
        E.file("groupfile", "g\n", uid=0, gid=50),
        E.file("userfile", "u\n", uid=1234, gid=0),
    ], compression="gzip", sort=False)
    archive = write_archive(mk.Image([layer]), "oci-archive", base, "owners")
    res = gan.run("load", archive, check=False)
    assert_loaded(gan, res, layer)
    root = layer_root(gan, layer)
    want = {"home/u": (1000, 1000), "home/u/f": (1000, 1000), "rootfile": (0, 0),
            "groupfile": (0, 50), "userfile": (1234, 0)}
    for rel, (uid, gid) in want.items():
        p = root / rel
        st = os.lstat(p)
        xa = xattrs_of(p)
        if user == "root":
            assert (st.st_uid, st.st_gid) == (uid, gid), f"{rel}: owner not applied as root"
            assert "user.gantry.owner" not in xa, f"{rel}: root applies owners, records none"
        else:
            assert (st.st_uid, st.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
            if (uid, gid) == (0, 0):
                assert "user.gantry.owner" not in xa, f"{rel}: 0:0 needs no record"
            else:
                assert xa.get("user.gantry.owner") == f"{uid}:{gid}".encode(), \
                    f"{rel}: owner not recorded rootless: {xa}"
    assert stat.S_IMODE(os.lstat(root / "home/u").st_mode) == 0o750
    assert read(root / "home/u/f") == b"mine\n"


def test_archive_cannot_forge_owner_record(rootless):
    """user.gantry.* xattrs in the archive must not be taken over (they would forge owners)."""
    layer = mk.Layer([E.file("forged", "x\n", xattrs={"user.gantry.owner": "0:0",
                                                        "user.keep": "1"}),
                      E.file("forged2", "y\n", uid=1000, gid=1000,
                             xattrs={"user.gantry.owner": "0:0"})],
                     compression="none", sort=False)
    archive = write_archive(mk.Image([layer]), "oci-archive", rootless.base, "forge")
    res = rootless.run("load", archive, check=False)
    assert_loaded(rootless, res, layer)
    root = layer_root(rootless, layer)
    assert "user.gantry.owner" not in xattrs_of(root / "forged")
    assert xattrs_of(root / "forged").get("user.keep") == b"1"
    assert xattrs_of(root / "forged2").get("user.gantry.owner") == b"1000:1000"
