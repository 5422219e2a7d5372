"""gantry build rootless with subordinate ids (issue 26): a user with a range in /etc/subuid and
/etc/subgid gets a full id map for RUN (no fake-root), a real chown lands in the layer with the
container's ids, and files only a subordinate id can read (0600, owned by uid 5) are still
written into the layer (a child in a user namespace with the same maps writes it) and removed
afterwards, leaving nothing the user cannot delete."""
import os
import pwd
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import GANTRY, Gantry, load_busybox, need_tool

USER = "gantry-subid"


@pytest.fixture
def subid_user():
    if os.geteuid() != 0:
        pytest.skip("creates a user with subordinate ids: needs root")
    need_tool("newuidmap")
    need_tool("useradd")
    made = subprocess.run(["id", USER], capture_output=True).returncode != 0
    if made:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false", USER],
                       check=True)
    saved = {}
    for f in ("/etc/subuid", "/etc/subgid"):
        saved[f] = Path(f).read_text() if os.path.exists(f) else None
        lines = [l for l in (saved[f] or "").splitlines() if not l.startswith(USER + ":")]
        Path(f).write_text("\n".join(lines + [f"{USER}:300000:65536"]) + "\n")
    base = Path(tempfile.mkdtemp(prefix="gantry-subid-", dir="/tmp"))
    os.chmod(base, 0o755)
    user = pwd.getpwnam(USER)
    os.chown(base, user.pw_uid, user.pw_gid)
    bindir = Path(str(base) + "-bin")
    bindir.mkdir(mode=0o755)
    shutil.copy2(GANTRY, bindir / "gantry")
    g = Gantry(base / "store", user=user, binary=bindir / "gantry")
    g.base = base
    yield g
    for f, text in saved.items():
        if text is None:
            os.unlink(f)
        else:
            Path(f).write_text(text)
    subprocess.run(["rm", "-rf", str(base), str(bindir)], capture_output=True)
    if made:
        subprocess.run(["userdel", USER], capture_output=True)


def test_subordinate_ids_map_a_full_range(subid_user, mk):
    g = subid_user
    load_busybox(g, mk, g.base)
    ctx = g.base / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM sample:latest\n"
        "RUN mkdir /d && echo secret > /d/private && chmod 600 /d/private && chown 5:7 /d/private"
        " && echo shared > /d/shared && chown 1000:1000 /d/shared\n")
    os.chmod(ctx / "Dockerfile", 0o644)
    os.chown(ctx, g.user.pw_uid, g.user.pw_gid)
    r = g.run("build", "-t", "sub:1", ctx)
    assert "RUN steps ran as subordinate ids" in r.err, r
    out = g.base / "sub.tar"
    g.run("save", "-o", out, "sub:1")
    owners = {}
    with tarfile.open(out) as t:
        for m in t.getmembers():
            if m.name.endswith(".tar"):
                with tarfile.open(fileobj=t.extractfile(m)) as lt:
                    for e in lt.getmembers():
                        owners[e.name.rstrip("/")] = (e.uid, e.gid, e.mode & 0o777)
    assert owners["d/private"] == (5, 7, 0o600)
    assert owners["d/shared"] == (1000, 1000, 0o644)
    # the writable layers are gone: nothing under the store the user cannot remove
    r = subprocess.run(["runuser", "-u", USER, "--", "find", str(g.base / "store"), "!",
                        "-user", USER], capture_output=True, text=True)
    assert r.stdout == "", r.stdout
