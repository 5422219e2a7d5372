"""Owners in a rootless store (docs/storage.md): a user with a range in /etc/subuid and
/etc/subgid unpacks an image whose files belong to uid 1000 (a 0700 home among them); the
importer gives them those owners on disk, as the subordinate ids `--userns auto` maps 1000 to,
so the container sees the image's owners and its USER writes its home. Removal (rmi, prune,
system reset), cp out of a container, save and a build on the image work on those files; a
store whose owners were applied with other ids is refused by name; a tree unpacked before
owners were applied gets them at the next load."""
import json
import os
import subprocess
import tarfile

from conftest import SUBID_RANGE
from fixtures import mkimage as mk

SUB = int(SUBID_RANGE.split(":")[0])  # host id of the container's uid 1


def owned_image(where):
    """busybox plus a layer of files owned by 1000:1000 (a 0700 home, a 0755 data dir) and one
    of 2000:3000; loaded as owned:1."""
    E = mk.Entry
    layer = mk.Layer([
        E.dir("home", mode=0o755),
        E.dir("home/dev", mode=0o700, uid=1000, gid=1000),
        E.file("home/dev/.profile", b"export A=1\n", mode=0o644, uid=1000, gid=1000),
        E.dir("data", mode=0o755, uid=1000, gid=1000),
        E.file("opt-app", b"app\n", mode=0o640, uid=2000, gid=3000),
        E.file("far", b"far\n", mode=0o644, uid=70000, gid=70000),  # beyond the 65536 ids
    ])
    img = mk.busybox_image(extra_layers=[layer])
    archive = where / "owned.tar"
    mk.write_docker_archive(archive, [(img, ["owned:1"])])
    os.chmod(archive, 0o644)
    return archive, img


def leftovers(g):
    """Entries under the store's layers/, tmp/, trash/ and containers/ (what a removal left)."""
    r = subprocess.run(["find", str(g.root / "layers" / "sha256"), str(g.root / "tmp"),
                        str(g.root / "trash"), str(g.root / "containers"), "-mindepth", "1"],
                       capture_output=True, text=True)
    return r.stdout.split()


def test_the_container_sees_the_image_owners_and_its_user_writes_its_home(subid_user):
    g = subid_user
    archive, img = owned_image(g.base)
    r = g.run("load", archive)
    assert "1 file(s) belong to ids outside your subordinate range" in r.err, r
    # on disk: the subordinate ids uid 1000 and 2000 map to
    [diff] = [l.diff_id for l in img.layers[1:]]
    rootfs = g.root / "layers" / diff.replace(":", "/") / "rootfs"
    st = os.lstat(rootfs / "home" / "dev")
    assert (st.st_uid, st.st_gid) == (SUB + 999, SUB + 999), st
    st = os.lstat(rootfs / "opt-app")
    assert (st.st_uid, st.st_gid) == (SUB + 1999, SUB + 2999), st
    meta = json.loads((rootfs.parent / "meta.json").read_text())
    assert meta["owners"]["applied"] == 4 and meta["owners"]["unmapped"] == 1, meta
    # an owner outside the range stays the user's, its record kept
    st = os.lstat(rootfs / "far")
    assert (st.st_uid, st.st_gid) == (g.user.pw_uid, g.user.pw_gid), st
    assert os.getxattr(rootfs / "far", "user.gantry.owner") == b"70000:70000"
    assert meta["owners"]["uid_map"][1] == [1, SUB, 65536], meta
    # the image's USER writes its home; the container sees the image's owners
    r = g.run("run", "--rm", "--user", "1000:1000", "owned:1", "sh", "-c",
              "echo hi > /home/dev/new && cat /home/dev/new && touch /data/x && "
              "ls -lnd /home/dev /data /opt-app /home/dev/.profile /far")
    lines = r.out.splitlines()
    assert lines[0] == "hi", r
    owners = {l.split()[-1]: (l.split()[0], l.split()[2], l.split()[3]) for l in lines[1:]}
    assert owners["/home/dev"] == ("drwx------", "1000", "1000"), r
    assert owners["/data"] == ("drwxr-xr-x", "1000", "1000"), r
    assert owners["/opt-app"] == ("-rw-r-----", "2000", "3000"), r
    assert owners["/home/dev/.profile"][1:] == ("1000", "1000"), r
    assert owners["/far"][1:] == ("0", "0"), r
    # with the caller's id alone, the subordinate ids are nobody's (podman shows the same)
    r = g.run("run", "--rm", "--userns", "single", "owned:1", "ls", "-lnd", "/data")
    assert r.out.split()[2:4] == ["65534", "65534"], r
    # the tree digest means the image's owners: fsck --deep walks it where they are
    r = g.run("system", "fsck", "--deep", "--json")
    assert r.json()["problems"] == [] and r.json()["trees_checked"] == 2, r
    # save re-reads the blobs: the owners the image had
    g.run("save", "-o", g.base / "out.tar", "owned:1")
    found = {}
    with tarfile.open(g.base / "out.tar") as t:
        for m in t.getmembers():
            if m.isfile() and m.size > 0:
                try:
                    with tarfile.open(fileobj=t.extractfile(m)) as lt:
                        for e in lt.getmembers():
                            found[e.name.rstrip("/")] = (e.uid, e.gid, e.mode & 0o777)
                except tarfile.TarError:
                    continue
    assert found["home/dev"] == (1000, 1000, 0o700), found
    # cp out of a stopped container: files under the 0700 home
    name = f"owners-{os.getpid()}"
    g.run("create", "--name", name, "--user", "1000", "owned:1", "sh", "-c",
          "echo mine > /home/dev/made")
    try:
        g.run("start", "-a", name)
        g.run("cp", f"{name}:/home/dev/made", g.base / "made")
        g.run("cp", f"{name}:/home/dev/.profile", g.base / "profile")
        assert (g.base / "made").read_text() == "mine\n"
        assert (g.base / "profile").read_text() == "export A=1\n"
        # its writable layer holds what uid 1000 wrote in its home: rm removes it
        g.run("rm", name)
    finally:
        g.run("rm", "-f", name, check=False)
    # rmi + prune: nothing left in the store, not even what subordinate ids own
    g.run("rmi", "owned:1")
    g.run("system", "prune", "-f")
    assert leftovers(g) == []


def test_system_reset_removes_a_store_of_applied_owners(subid_user):
    g = subid_user
    archive, _ = owned_image(g.base)
    g.run("load", archive)
    g.run("system", "reset", "-f")
    assert not g.root.exists()


def test_a_store_whose_owners_were_applied_with_other_ids_is_refused(subid_user):
    g = subid_user
    archive, _ = owned_image(g.base)
    g.run("load", archive)
    rec = g.root / "owners.json"
    maps = json.loads(rec.read_text())
    maps["uid_map"][1][1] = 500000  # as if /etc/subuid had given another range
    rec.write_text(json.dumps(maps))
    r = g.fail("run", "--rm", "owned:1", "true", code=125)
    assert "changed" in r.err and "500000" in r.err and "/etc/subuid" in r.err, r
    # with the caller's id alone no subordinate id is used: it runs
    g.run("run", "--rm", "--userns", "single", "owned:1", "true")
    # a layer recorded with other ids: a load that would reuse it and fsck --deep refuse
    [meta_path] = [p for p in (g.root / "layers" / "sha256").glob("*/meta.json")
                   if "owners" in json.loads(p.read_text())]
    meta = json.loads(meta_path.read_text())
    meta["owners"]["uid_map"][1][1] = 500000
    meta_path.write_text(json.dumps(meta))
    r = g.fail("load", archive, code=5)
    assert "500000" in r.err and "/etc/subuid" in r.err, r
    r = g.fail("system", "fsck", "--deep", "--json")
    [p] = [p for p in json.loads(r.out)["problems"] if p["kind"] == "owners-changed"]
    assert "500000" in p["detail"], p


def test_build_on_an_image_of_applied_owners(subid_user):
    """COPY into the 0700 home of uid 1000 (looked up where the user is root), COPY --from it
    (the stage flattened there), and a RUN's chown of a file of the image: each layer keeps
    the image's owners."""
    g = subid_user
    archive, _ = owned_image(g.base)
    g.run("load", archive)
    ctx = g.base / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("copied\n")
    (ctx / "Dockerfile").write_text(
        "FROM owned:1\n"
        "COPY f /home/dev/f\n"
        "COPY --from=owned:1 /home/dev/.profile /profile\n"
        "RUN chown 0:0 /opt-app && chown 1000:1000 /home/dev/f\n")
    for p in (ctx, ctx / "f", ctx / "Dockerfile"):
        os.chown(p, g.user.pw_uid, g.user.pw_gid)
    g.run("build", "-t", "owned:2", ctx)
    r = g.run("run", "--rm", "--user", "1000", "owned:2", "sh", "-c",
              "cat /home/dev/f && ls -lnd /home/dev /home/dev/f /profile /opt-app")
    lines = r.out.splitlines()
    assert lines[0] == "copied", r
    owners = {l.split()[-1]: (l.split()[0], l.split()[2], l.split()[3]) for l in lines[1:]}
    assert owners["/home/dev"] == ("drwx------", "1000", "1000"), r
    assert owners["/home/dev/f"][1:] == ("1000", "1000"), r
    assert owners["/profile"][1:] == ("1000", "1000"), r
    assert owners["/opt-app"][1:] == ("0", "0"), r


def test_a_tree_unpacked_before_owners_were_applied_gets_them_at_the_next_load(subid_user):
    """A layer tree as gantry unpacked it before owners were applied (every file the user's,
    the owners in user.gantry.owner, the digest walked as the user) is given its owners when a
    load reuses it, after its recorded digest is checked."""
    import re
    g = subid_user
    archive, img = owned_image(g.base)
    g.run("load", archive)
    layer = g.root / "layers" / img.layers[1].diff_id.replace(":", "/")
    uid, gid = g.user.pw_uid, g.user.pw_gid
    # undo what the importer applied: the tree an older gantry left
    for d, dirs, files in os.walk(layer / "rootfs"):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            if (st.st_uid, st.st_gid) == (uid, gid):
                continue
            cu = 0 if st.st_uid == uid else st.st_uid - SUB + 1
            cg = 0 if st.st_gid == gid else st.st_gid - SUB + 1
            os.setxattr(p, "user.gantry.owner", f"{cu}:{cg}".encode(), follow_symlinks=False)
            os.lchown(p, uid, gid)
    meta = json.loads((layer / "meta.json").read_text())
    del meta["owners"], meta["owners_recorded"]
    (layer / "meta.json").write_text(json.dumps(meta))
    # its digest as the user walks it (fsck names what it finds)
    r = g.fail("system", "fsck", "--deep", "--json")
    [p] = [p for p in json.loads(r.out)["problems"] if p["kind"] == "damaged-layer"]
    meta["tree"]["digest"] = re.search(r"hashes to (sha256:[0-9a-f]+)", p["detail"]).group(1)
    (layer / "meta.json").write_text(json.dumps(meta))
    assert g.run("system", "fsck", "--deep", "--json").json()["problems"] == []
    r = g.run("run", "--rm", "owned:1", "ls", "-lnd", "/home/dev")
    assert r.out.split()[2:4] == ["0", "0"], r  # as before owners were applied
    # the next load applies them
    r = g.run("load", archive)
    assert "are applied now" in r.err, r
    r = g.run("run", "--rm", "owned:1", "ls", "-lnd", "/home/dev")
    assert r.out.split()[2:4] == ["1000", "1000"], r
    assert g.run("system", "fsck", "--deep", "--json").json()["problems"] == []
    assert json.loads((layer / "meta.json").read_text())["owners"]["applied"] == 4


def test_a_one_copy_tree_from_before_the_user_had_subids_keeps_its_owners_and_still_saves(
        subid_user, tmp_path):
    """A layer loaded while the user had no subordinate ids is kept as one copy: its tree with
    the owners recorded, not applied, and the tar-split, no blob. Once the user has ids, applying
    them would make home/dev (0700) a subordinate id's, which gantry could not read back to
    rebuild the tar: the next load leaves the tree as it is and says how to apply them, and
    `save` still gives the layer back."""
    from conftest import Gantry
    g = subid_user

    class WithoutSubids(Gantry):  # /etc/subuid empty, in a mount namespace of its own
        def cmd(self, *args):
            return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount --bind /dev/null /etc/subuid && exec "$@"', "sh", *super().cmd(*args)]

    before = WithoutSubids(g.root, user=g.user, env=g.env, binary=g.bin)
    archive, img = owned_image(g.base)
    before.run("load", archive)
    layer = g.root / "layers" / img.layers[1].diff_id.replace(":", "/")
    meta = json.loads((layer / "meta.json").read_text())
    assert meta["blob_kept"] is False and "owners" not in meta, meta
    assert meta["owners_recorded"] > 0 and meta["tree"]["scheme"] == "gantry-tree-v4", meta
    r = g.run("load", archive)  # now with the user's ranges
    assert "kept as one copy before you had subordinate ids" in r.err, r
    assert "gantry rmi" in r.err, r
    assert "owners" not in json.loads((layer / "meta.json").read_text())
    out = g.base / "saved.tar"
    g.run("save", "-o", out, "owned:1")
    with tarfile.open(out) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        config = json.load(t.extractfile(manifest[0]["Config"]))
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in img.layers]
    assert g.run("system", "fsck", "--deep", "--json").json()["problems"] == []
