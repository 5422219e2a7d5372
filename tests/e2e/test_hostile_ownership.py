"""Owners in a layer archive: applied as root, recorded in user.gantry.owner rootless, and never
taken over from the archive's own user.gantry.* xattrs."""
import os
import pwd
import stat

import pytest

from fixtures import mkimage as mk
from hostile_common import (E, as_user, assert_loaded, layer_root, read, workdir, write_archive,
                            xattrs_of)

NOBODY = pwd.getpwnam("nobody")


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
