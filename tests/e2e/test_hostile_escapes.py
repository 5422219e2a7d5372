"""More escapes through hostile layer archives: symlinks used as parents, hard links through
symlinks, whiteouts and opaque markers through symlinks, a symlink from an earlier layer; each
loaded as root and as 'nobody' with a victim directory under /tmp that must stay untouched
(hostile_common.Guard)."""
import os
import stat

import pytest

from conftest import tmp_entries
from fixtures import mkimage as mk
from hostile_common import (E, Guard, _contained_pwned, as_user, assert_loaded, assert_refused,
                            layer_root, read, workdir, write_archive)


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
