"""gantry build rootless with subordinate ids (issue 26): a user with a range in /etc/subuid and
/etc/subgid gets a full id map for RUN (no fake-root), a real chown lands in the layer with the
container's ids, and files only a subordinate id can read (0600, owned by uid 5) are still
written into the layer (a child in a user namespace with the same maps writes it); the layer
tree in the store holds those owners as subordinate ids, and rmi and prune remove it."""
import os
import subprocess
import tarfile

from conftest import SUBID_RANGE
from conftest import SUBID_USER as USER
from conftest import load_busybox


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
    # the writable layers are gone: nothing under the store is another's but the layer trees'
    # applied owners (docs/storage.md "Owners in a rootless store"): uid 5 is the range's 5th
    r = subprocess.run(["runuser", "-u", USER, "--", "find", str(g.base / "store"), "!",
                        "-user", USER, "-printf", "%P %U:%G\n"], capture_output=True, text=True)
    others = dict(l.rsplit(" ", 1) for l in r.stdout.splitlines())
    start = int(SUBID_RANGE.split(":")[0])
    assert sorted(o for p, o in others.items() if not p.startswith("layers/")) == [], others
    assert sorted(others.values()) == [f"{start + 4}:{start + 6}",
                                       f"{start + 999}:{start + 999}"], others
    # and the user removes them: rmi and prune leave nothing another owns
    g.run("rmi", "sub:1")
    g.run("system", "prune", "-f")
    r = subprocess.run(["runuser", "-u", USER, "--", "find", str(g.base / "store"), "!",
                        "-user", USER], capture_output=True, text=True)
    assert r.stdout == "", r.stdout
