"""`gantry oci` makes a bundle's mounts and id maps as runc 1.1 does (issue 37): a user namespace
whose root is a host id other than 0 (rootful `podman --userns=auto`, Kubernetes
`hostUsers: false`), mount destinations that are symlinks in the root (resolved inside it, never
on the host), linux.maskedPaths and readonlyPaths, linux.rootfsPropagation, idmapped mounts. Each
case runs one bundle under Debian's runc (as root) and under gantry oci and compares what the
container observed."""
import json
import os
import shutil
import subprocess

import pytest

from ocidiff import (ROOT, bundle, edit_config, oci_bin, run_both,  # noqa: F401 (fixtures)
                     same_as_runc)

pytestmark = pytest.mark.skipif(not ROOT, reason="runc's side needs root")

MAPPED = 100000


def userns(cfg, size=65536):
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": MAPPED, "size": size}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": MAPPED, "size": size}]


def reachable(tmp_path):
    """The bundle's directories searchable by a container root that is not the host's root (as
    podman's storage is): pytest's own are 0700."""
    for d in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        os.chmod(d, 0o755)


def test_userns_root_mapped_to_a_non_root_host_id(oci_bin, bundle, tmp_path):
    """Container root = host 100000 (rootful podman --userns=auto): the root owned by the mapped
    ids as podman's storage makes it; gantry's state directory stays 0700 root's."""
    reachable(tmp_path)
    subprocess.run(["chown", "-hR", f"{MAPPED}:{MAPPED}", str(bundle / "rootfs")], check=True)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, MAPPED, MAPPED)

    def edit(cfg):
        userns(cfg)
        cfg["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                              "options": ["rbind", "rw"]})
        cfg["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                              "options": ["nosuid", "nodev", "mode=755"]})

    script = ("id; cat /proc/self/uid_map /proc/self/gid_map; "
              "stat -c '%n %u:%g %a' /dev/null /dev /scratch /etc/passwd; "
              "f=$(mktemp /shared/f.XXXXXX) && stat -c '%u:%g' $f")
    runs = run_both(oci_bin, bundle, tmp_path, ["sh", "-c", script], edit=edit)
    assert "uid=0(root) gid=0(root)" in runs["runc"].stdout, runs["runc"]
    assert f"0 {MAPPED} 65536" in " ".join(runs["runc"].stdout.split()), runs["runc"]
    same_as_runc(runs, 0, runs["runc"].stdout)
    files = list(shared.iterdir())
    assert len(files) == 2
    for f in files:
        assert (f.stat().st_uid, f.stat().st_gid) == (MAPPED, MAPPED), f
