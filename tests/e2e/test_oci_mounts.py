"""`gantry oci` makes a bundle's mounts and id maps as runc 1.1 does (issue 37): a user namespace
whose root is a host id other than 0 (rootful `podman --userns=auto`, Kubernetes
`hostUsers: false`), mount destinations that are symlinks in the root (resolved inside it, never
on the host), linux.maskedPaths and readonlyPaths, linux.rootfsPropagation (idmapped mounts:
test_oci_ground.py). Each
case runs one bundle under Debian's runc (as root) and under gantry oci and compares what the
container observed."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import load_busybox
from ocidiff import (ROOT, bundle, edit_config, oci_bin, run_both, runtimes,  # noqa: F401
                     same_as_runc)
from test_oci_runtime import podman  # noqa: F401 (fixture)

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
    for d in (tmp_path, *tmp_path.parents):  # up to /tmp (pytest-xdist adds a level)
        if d == Path(tempfile.gettempdir()) or d == d.parent:
            break
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


def test_mount_onto_symlinks_resolved_inside_the_root(oci_bin, bundle, tmp_path):
    """A destination through a link in the root is resolved inside it, never on the host: /hostile
    -> /etc (absolute) and /up -> ../../../../etc lead to the container's /etc; /var/run ->
    ../run to its /run."""
    rootfs = bundle / "rootfs"
    (rootfs / "hostile").symlink_to("/etc")
    (rootfs / "up").symlink_to("../../../../../../etc")
    (rootfs / "run").mkdir(exist_ok=True)
    if (rootfs / "var" / "run").is_symlink() or (rootfs / "var" / "run").exists():
        subprocess.run(["rm", "-rf", str(rootfs / "var" / "run")], check=True)
    (rootfs / "var").mkdir(exist_ok=True)
    (rootfs / "var" / "run").symlink_to("../run")
    name = f"gantry-escape-{os.getpid()}"

    def edit(cfg):
        for dest in (f"/hostile/{name}", f"/up/{name}-up", "/var/run"):
            cfg["mounts"].append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                                  "options": ["nosuid", "nodev"]})

    script = (f"ls -d /etc/{name} /etc/{name}-up; readlink /hostile; readlink /var/run; "
              "grep -c ' /run ' /proc/self/mountinfo; grep -c ' /etc/gantry-escape' "
              "/proc/self/mountinfo")
    try:
        runs = run_both(oci_bin, bundle, tmp_path, ["sh", "-c", script], edit=edit)
        same_as_runc(runs, 0, runs["runc"].stdout)
        assert f"/etc/{name}\n" in runs["gantry"].stdout
        assert "/etc\n../run\n1\n2\n" in runs["gantry"].stdout
    finally:
        for leak in (f"/etc/{name}", f"/etc/{name}-up"):
            assert not os.path.exists(leak), f"a mount escaped to the host: {leak}"


def test_masked_and_readonly_paths(oci_bin, bundle, tmp_path):
    """maskedPaths: a file becomes /dev/null (1,3), a directory an empty one; readonlyPaths: a
    read-only bind; a missing path in either is skipped, as runc skips it."""
    def edit(cfg):
        cfg["linux"]["maskedPaths"] = ["/proc/timer_list", "/sys/firmware", "/proc/no-such-file"]
        cfg["linux"]["readonlyPaths"] = ["/proc/sys", "/proc/no-such-dir"]

    script = ("stat -c '%t,%T' /proc/timer_list; ls -A /sys/firmware | wc -l; "
              "(echo 1 > /proc/sys/vm/overcommit_memory) 2>/dev/null; echo $?; "
              "grep -c ' /proc/sys ro,' /proc/self/mountinfo")
    runs = run_both(oci_bin, bundle, tmp_path, ["sh", "-c", script], edit=edit)
    same_as_runc(runs, 0, "1,3\n0\n1\n1\n")


def test_rootfs_propagation(oci_bin, bundle, tmp_path):
    """Each value is applied as runc applies it: the propagation tags of the container's root
    and its /proc are the same under both (none: a root that would come out shared is made
    private, as runc's is); an unbindable "/" fails the create under both (its root cannot be
    bound). A value that is no propagation fails the create under both, gantry's naming the
    field. HostToContainer and Bidirectional: test_oci_pod.py."""
    def prop(p):
        return lambda cfg: cfg["linux"].__setitem__("rootfsPropagation", p)

    script = ("for m in / /proc; do grep -E \"^[^ ]+ [^ ]+ [^ ]+ [^ ]+ $m \" "
              "/proc/self/mountinfo | grep -c -e shared: -e master:; done; true")
    runs = run_both(oci_bin, bundle, tmp_path, ["sh", "-c", script], edit=prop("rprivate"))
    same_as_runc(runs, 0, "0\n0\n")
    for p in ("rslave", "slave", "shared", "rshared", "private"):
        runs = run_both(oci_bin, bundle, tmp_path / p, ["sh", "-c", script], edit=prop(p))
        same_as_runc(runs, 0, runs["runc"].stdout)
    # every mount runbindable: the host's cannot be bound, under both (unbindable, which
    # gantry runs as crun does and runc 1.1.5 refuses: test_oci_ground.py)
    runs = run_both(oci_bin, bundle, tmp_path / "runbindable", ["true"], edit=prop("runbindable"))
    assert runs["runc"].returncode != 0 and "invalid argument" in runs["runc"].stderr
    assert runs["gantry"].returncode == 1 and "its mount is unbindable" in runs["gantry"].stderr, \
        runs["gantry"]
    runs = run_both(oci_bin, bundle, tmp_path / "bad", ["true"], edit=prop("rsharde"))
    assert runs["runc"].returncode != 0, runs["runc"]
    assert runs["gantry"].returncode == 1, runs["gantry"]
    assert 'linux.rootfsPropagation "rsharde"' in runs["gantry"].stderr


@pytest.mark.parametrize("field,value,named", [
    ("intelRdt", {"closID": "c1"}, "linux.intelRdt"),
    ("personality", {"domain": "LINUX32", "flags": ["X"]}, "linux.personality.flags"),
    ("timeOffsets", {"monotonic": {"secs": 1}}, "linux.timeOffsets"),
    ("mountLabel", "system_u:object_r:container_file_t:s0", "linux.mountLabel"),
    ("namespaces", [{"type": "pid"}, {"type": "mount", "path": "/proc/1/ns/mnt"}],
     "linux.namespaces[1].path"),
    ("noSuchField", 1, "linux.noSuchField"),
    ("rootfsPropagation", "rsharde", 'linux.rootfsPropagation "rsharde"'),
])
def test_fields_gantry_does_not_implement_are_refused(oci_bin, bundle, tmp_path, field, value,
                                                       named):
    """Each such field fails create with exit 1 and names it; nothing is left behind."""
    def edit(cfg):
        if field == "mounts":
            cfg["mounts"] = value
        else:
            cfg["linux"][field] = value

    runs = run_both(oci_bin, bundle, tmp_path, ["true"], edit=edit)
    assert runs["gantry"].returncode == 1, runs["gantry"]
    assert named in runs["gantry"].stderr, runs["gantry"]
    assert not list((tmp_path / "gantry-state").glob("*/config.json"))


def test_network_namespace_path_is_joined_as_runc_joins_it(oci_bin, bundle, tmp_path):
    """linux.namespaces[].path (podman's bridge network, a pod's sandbox): the container's
    process is in that network namespace and its UTS one, under runc and under gantry."""
    holder = subprocess.Popen(["unshare", "--net", "--uts", "sleep", "60"])
    try:
        net = f"/proc/{holder.pid}/ns/net"
        uts = f"/proc/{holder.pid}/ns/uts"
        import time
        deadline = time.monotonic() + 10
        while os.readlink(net) == os.readlink("/proc/self/ns/net"):  # unshare not done yet
            assert time.monotonic() < deadline
            time.sleep(0.01)
        want = f"{os.readlink(net)} {os.readlink(uts)}\n"

        def edit(cfg):
            cfg["linux"]["namespaces"] = [
                n for n in cfg["linux"]["namespaces"] if n["type"] not in ("network", "uts")
            ] + [{"type": "network", "path": net}, {"type": "uts", "path": uts}]
            cfg.pop("hostname", None)

        runs = run_both(oci_bin, bundle, tmp_path,
                        ["sh", "-c", "echo $(readlink /proc/self/ns/net) "
                                     "$(readlink /proc/self/ns/uts)"], edit=edit)
        for who in ("runc", "gantry"):
            assert (runs[who].returncode, runs[who].stdout) == (0, want), (who, runs[who])
    finally:
        holder.kill()
        holder.wait()


def test_apparmor_profile_is_applied_as_runc_applies_it(oci_bin, bundle, tmp_path):
    """process.apparmorProfile is written to attr/apparmor/exec before the exec, as runc does:
    a profile the host cannot apply (here: no AppArmor loaded, or no such profile) fails the
    start under both, naming AppArmor; an empty one is no profile."""
    enabled = Path("/sys/module/apparmor/parameters/enabled")
    if enabled.exists() and enabled.read_text().startswith("Y"):
        loaded = Path("/sys/kernel/security/apparmor/profiles")
        assert "gantry-no-such-profile" not in loaded.read_text()
    runs = run_both(oci_bin, bundle, tmp_path, ["true"],
                    edit=lambda c: c["process"].update(apparmorProfile="gantry-no-such-profile"))
    for who in ("runc", "gantry"):
        assert runs[who].returncode != 0, (who, runs[who])
    assert runs["gantry"].returncode == 1 and "AppArmor" in runs["gantry"].stderr, runs["gantry"]
    runs = run_both(oci_bin, bundle, tmp_path / "empty", ["true"],
                    edit=lambda c: c["process"].update(apparmorProfile=""))
    for who in ("runc", "gantry"):
        assert runs[who].returncode == 0, (who, runs[who])


def test_podman_uidmap_root_mapped_to_a_non_root_host_id(podman, g, mk, tmp_path):
    """Rootful podman --uidmap 0:100000:65536 (as --userns=auto picks) through gantry oci: the
    container's root is host 100000, a file it makes in a volume is owned by it."""
    load_busybox(g, mk, tmp_path)
    podman("load", "-i", tmp_path / "bb.tar")
    vol = tmp_path / "vol"
    vol.mkdir()
    os.chown(vol, MAPPED, MAPPED)
    reachable(tmp_path)
    r = podman("run", "--rm", "--uidmap", f"0:{MAPPED}:65536", "--gidmap", f"0:{MAPPED}:65536",
               "-v", f"{vol}:/vol", "sample:latest", "sh", "-c",
               "id -u; cat /proc/self/uid_map; touch /vol/made")
    lines = r.stdout.split("\n")
    assert lines[0] == "0" and lines[1].split() == ["0", str(MAPPED), "65536"], r.stdout
    made = (vol / "made").stat()
    assert (made.st_uid, made.st_gid) == (MAPPED, MAPPED)


def test_relative_bind_source_is_relative_to_the_runtimes_directory(oci_bin, bundle, tmp_path):
    """A bind mount's relative source names a path below the runtime's working directory (runc's
    specconv joins it), whatever directory the container's process starts in."""
    (bundle / "shared").mkdir()
    (bundle / "shared" / "marker").write_text("relative\n")

    def edit(cfg):
        cfg["process"]["args"] = ["cat", "/rel/marker"]
        cfg["process"]["terminal"] = False
        cfg["mounts"].append({"destination": "/rel", "type": "bind", "source": "shared",
                              "options": ["rbind", "ro"]})
    edit_config(bundle, edit)
    for name, binary in runtimes(oci_bin):
        r = subprocess.run([binary, "--root", str(tmp_path / f"{name}-state"), "run", "--bundle",
                            str(bundle), f"rel{os.getpid()}-{name}"], capture_output=True,
                           text=True, timeout=60, cwd=bundle, stdin=subprocess.DEVNULL)
        assert (r.returncode, r.stdout) == (0, "relative\n"), f"{name}: {r}"
