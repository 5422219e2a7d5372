"""Idmapped mounts in `gantry oci` (runtime-spec 1.2's mounts[].uidMappings and gidMappings, and
its idmap and ridmap options, read as runc 1.2 reads them): the source's ids shown through the
mount's own maps, or with idmap/ridmap alone through the container's user namespace's; idmap
(or maps with neither option) idmaps the top mount only, ridmap every mount under the source
too. Each case runs the same bundle under Debian's crun 1.8.1 (runc 1.1.5 ignores idmapped
mounts) where crun 1.8.1 has the same semantics; ridmap, which 1.8.1 predates, against the
outcomes of runc 1.2's tests/integration/idmap.bats. As root (the kernel wants CAP_SYS_ADMIN
over the source's filesystem)."""
import os
import subprocess

import pytest

from ocidiff import ROOT, bundle, edit_config, oci_bin  # noqa: F401
from test_oci_ground import run_with_crun
from test_oci_mounts import MAPPED, reachable, userns

pytestmark = pytest.mark.skipif(not ROOT, reason="idmapped mounts need root")


def idmapped(dest, source, container_id, host_id, size=1, options=("bind",)):
    maps = [{"containerID": container_id, "hostID": host_id, "size": size}]
    return {"destination": dest, "type": "bind", "source": str(source), "options": list(options),
            "uidMappings": maps, "gidMappings": maps}


def run_gantry(oci_bin, bundle, tmp_path, name):  # noqa: F811
    return subprocess.run([str(oci_bin), "--root", str(tmp_path / "st"), "run", "--bundle",
                           str(bundle), f"{name}{os.getpid()}"], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def root_owns_both_ways(oci_bin, bundle, tmp_path, vol, edit):
    """Under gantry and crun alike: the container's root sees /vol/f (the host's root's) as its
    own, and what it makes in /vol is the host's root's: each runtime made one file there."""
    runs = run_with_crun(oci_bin, bundle, tmp_path,
                         ["sh", "-c", "f=$(mktemp /vol/m.XXXXXX) && stat -c '%u:%g' /vol/f $f"],
                         edit)
    for name, r in runs.items():
        assert (r.returncode, r.stdout) == (0, "0:0\n0:0\n"), (name, r)
    made = list(vol.glob("m.*"))
    assert len(made) == 2 and all((m.stat().st_uid, m.stat().st_gid) == (0, 0) for m in made)


def test_idmapped_mounts_as_crun(oci_bin, bundle, tmp_path):
    """mounts[].uidMappings/gidMappings {0 -> 1000}: the source's root-owned files are 1000's at
    the destination, directly and through a link in the root (/lnk -> /data), as crun shows
    them; the source on the host keeps its owner."""
    src = tmp_path / "idsrc"
    src.mkdir()
    (src / "f").write_text("x")
    (bundle / "rootfs" / "data").mkdir()
    (bundle / "rootfs" / "lnk").symlink_to("/data")

    def edit(cfg):
        cfg["mounts"] += [idmapped("/idm", src, 0, 1000),
                          idmapped("/lnk/x", src, 0, 1000, options=("rbind", "ro"))]

    runs = run_with_crun(oci_bin, bundle, tmp_path,
                         ["stat", "-c", "%n %u:%g", "/idm/f", "/data/x/f", "/idm"], edit)
    assert runs["gantry"].stdout == "/idm/f 1000:1000\n/data/x/f 1000:1000\n/idm 1000:1000\n", \
        runs["gantry"]
    assert runs["gantry"].stdout == runs["crun"].stdout, runs
    assert (src / "f").stat().st_uid == 0


def test_idmapped_mount_in_a_user_namespace_as_crun(oci_bin, bundle, tmp_path):
    """The container's root is host 100000 and the volume is idmapped {0 -> 100000}: the
    volume's root-owned files are root's inside, and a file the container's root makes there is
    owned by the host's root (Kubernetes' hostUsers: false with an idmapped volume)."""
    reachable(tmp_path)
    subprocess.run(["chown", "-hR", f"{MAPPED}:{MAPPED}", str(bundle / "rootfs")], check=True)
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("x")

    def edit(cfg):
        userns(cfg)
        cfg["mounts"].append(idmapped("/vol", vol, 0, MAPPED, 65536))

    root_owns_both_ways(oci_bin, bundle, tmp_path, vol, edit)


def test_idmapped_mount_refusals_name_the_mount(oci_bin, bundle, tmp_path):
    """Only gidMappings, an idmapped tmpfs, the idmap option with no maps in a container with no
    user namespace (runtime-spec: an error), crun's idmap=uids=... form: exit 1 naming the
    mount, nothing left."""
    def only_gids(cfg):
        m = idmapped("/idm", tmp_path, 0, 1000)
        del m["uidMappings"]
        cfg["mounts"].append(m)

    def on_tmpfs(cfg):
        m = idmapped("/idm", "tmpfs", 0, 1000, options=("nosuid",))
        m["type"] = "tmpfs"
        cfg["mounts"].append(m)

    def no_maps_to_take(cfg):
        cfg["mounts"].append({"destination": "/idm", "type": "bind", "source": str(tmp_path),
                              "options": ["bind", "idmap"]})

    def crun_form(cfg):
        cfg["mounts"].append({"destination": "/idm", "type": "bind", "source": str(tmp_path),
                              "options": ["bind", "idmap=uids=0-1-100;gids=0-1-100"]})

    for edit, named in ((only_gids, "uidMappings is missing"), (on_tmpfs, "only a bind mount"),
                        (no_maps_to_take, '.options "idmap": the mount has no uidMappings'),
                        (crun_form, "crun's idmap=uids=...;gids=... form")):
        edit_config(bundle, lambda c: c.__setitem__("mounts", [
            m for m in c["mounts"] if m["destination"] != "/idm"]))
        edit_config(bundle, edit)
        r = run_gantry(oci_bin, bundle, tmp_path, "idr")
        assert r.returncode == 1 and named in r.stderr and "mounts[" in r.stderr, (named, r)
        assert not list((tmp_path / "st").glob("*/config.json"))




def test_idmap_option_with_the_mounts_own_maps_as_crun(oci_bin, bundle, tmp_path):
    """crun's suite's case (test_mounts.py idmapped-mounts, test_linux_features.py
    idmapped-mount-mappings): the container's user namespace maps 0 -> 1 (65536) and the mount
    carries the option idmap with its own maps: {0 -> 1} shows the source's root-owned file as
    the container root's (0:0), {0 -> 2} as its uid 1 (1:1); ridmap alike. Under gantry as
    under crun."""
    reachable(tmp_path)
    subprocess.run(["chown", "-hR", "1:1", str(bundle / "rootfs")], check=True)
    src = tmp_path / "src"
    src.mkdir()
    (src / "file").write_text("")
    for host, option, want in ((1, "idmap", "0:0\n"), (2, "idmap", "1:1\n"),
                               (2, "ridmap", "1:1\n")):
        def edit(cfg, host=host, option=option):
            userns(cfg)
            for m in ("uidMappings", "gidMappings"):
                cfg["linux"][m][0]["hostID"] = 1
            cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/foo"]
            cfg["mounts"].append(idmapped("/foo", src, 0, host, 10, ("bind", "ro", option)))

        runs = run_with_crun(oci_bin, bundle, tmp_path, ["stat", "-c", "%u:%g", "/foo/file"],
                             edit)
        if option == "ridmap":  # crun 1.8.1 predates ridmap (runc 1.2, crun 1.9)
            del runs["crun"]
        for name, r in runs.items():
            assert (r.returncode, r.stdout) == (0, want), (name, host, option, r)


def test_idmap_option_alone_takes_the_containers_user_namespace_as_crun(oci_bin, bundle,
                                                                       tmp_path):
    """The option idmap with no maps of its own (runc 1.2, crun): the mount is shown through
    the container's user namespace (0 -> 100000, 65536): the volume's root-owned file is the
    container root's, and a file the container's root makes there is the host root's."""
    reachable(tmp_path)
    subprocess.run(["chown", "-hR", f"{MAPPED}:{MAPPED}", str(bundle / "rootfs")], check=True)
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("x")

    def edit(cfg):
        userns(cfg)
        cfg["mounts"].append({"destination": "/vol", "type": "bind", "source": str(vol),
                              "options": ["bind", "idmap"]})

    root_owns_both_ways(oci_bin, bundle, tmp_path, vol, edit)


def test_ridmap_idmaps_the_mounts_under_the_source_idmap_only_the_top(oci_bin, bundle, tmp_path):
    """An rbind whose source has a mount under it (another directory bound onto src/sub on the
    host), maps {0 -> 1000}, no user namespace: with ridmap src/f and src/sub/g are both
    1000's; with idmap, or with the maps and neither option, src/sub/g keeps its owner (0), as
    runc 1.2's idmap.bats "non-recursive idmap" cases show (crun 1.8.1 copies no submount of an
    idmapped bind at all)."""
    src, other = tmp_path / "src", tmp_path / "other"
    (src / "sub").mkdir(parents=True)
    other.mkdir()
    (src / "f").write_text("")
    (other / "g").write_text("")
    subprocess.run(["mount", "--bind", str(other), str(src / "sub")], check=True)
    try:
        for options, want in ((("rbind", "ridmap"), "1000:1000 1000:1000"),
                              (("rbind", "idmap"), "1000:1000 0:0"),
                              (("rbind",), "1000:1000 0:0")):
            def edit(cfg, options=options):
                cfg["process"]["args"] = ["stat", "-c", "%u:%g", "/t/f", "/t/sub/g"]
                cfg["process"]["terminal"] = False
                cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/t"]
                cfg["mounts"].append(idmapped("/t", src, 0, 1000, 1, options))

            edit_config(bundle, edit)
            r = run_gantry(oci_bin, bundle, tmp_path, "ridm")
            assert (r.returncode, r.stdout.split()) == (0, want.split()), (options, r)
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
