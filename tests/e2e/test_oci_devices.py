"""`gantry oci` against runc 1.1 (issue 37): devices listed only in the spec. As root a node is
made with mknod (its mode and owner runc's); in a user namespace, and as the unprivileged user
nobody, the host's node of that path is bound and one the host lacks fails the run naming it;
linux.resources.devices is the device cgroup, as runc gives it (a listed node has no rule of
its own). The same bundle under Debian's runc and under gantry oci (ocidiff.py)."""
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import gantry_copy
from ocidiff import ROOT, bundle, each_runtime, edit_config, gist, no_125, oci_bin  # noqa: F401

pytestmark = pytest.mark.skipif(not ROOT, reason="compares with runc, which runs as root here")


def device_edit(devices, userns=False):
    def edit(cfg, s):
        cfg["process"]["args"] = ["sh", "-c",
                                  "ls -ln /dev/myzero; head -c 4 /dev/myzero | od -An -tx1"]
        cfg["linux"]["devices"] = devices
        res = cfg["linux"].setdefault("resources", {})
        res["devices"] = [{"allow": True, "access": "rwm"}]
        ns = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
        cfg["linux"].pop("uidMappings", None)
        cfg["linux"].pop("gidMappings", None)
        if userns:
            ns.append({"type": "user"})
            cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
            cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        cfg["linux"]["namespaces"] = ns
    return edit


def run_in_each(oci_bin, bundle, tmp_path, edit, tag=""):
    def body(s):
        s.run = s("run", "--bundle", bundle, "ID")
    return each_runtime(oci_bin, bundle, tmp_path, edit, body, tag)


def test_a_device_only_in_the_spec_is_made_with_mknod_as_root(oci_bin, bundle, tmp_path):
    zero = os.stat("/dev/zero")
    dev = {"path": "/dev/myzero", "type": "c", "major": os.major(zero.st_rdev),
           "minor": os.minor(zero.st_rdev), "fileMode": 0o640, "uid": 1234, "gid": 5678}
    runs = run_in_each(oci_bin, bundle, tmp_path, device_edit([dev]))
    out = {}
    for name, s in runs.items():
        assert s.run.returncode == 0, (name, s.run)
        ls, data = s.run.stderr.splitlines()[:2]
        f = ls.split()
        out[name] = (f[0], f[2], f[3], f[4], f[5], data.split())
    assert out["gantry"] == ("crw-r-----", "1234", "5678", "1,", "5", ["00"] * 4), out
    if "runc" in out:
        assert out["gantry"] == out["runc"], out


def test_a_device_in_a_user_namespace_is_bound_from_the_host(oci_bin, bundle, tmp_path):
    """In a user namespace (as rootless) mknod is refused: the host's node of that path is
    bound; one the host lacks is a clear error, as in runc."""
    zero = os.stat("/dev/zero")
    dev = lambda path: {"path": path, "type": "c", "major": os.major(zero.st_rdev),
                        "minor": os.minor(zero.st_rdev), "fileMode": 0o666}
    edit = device_edit([dev("/dev/zero")], userns=True)

    def edit_zero(cfg, s):
        edit(cfg, s)
        cfg["process"]["args"] = ["sh", "-c", "head -c 4 /dev/zero | od -An -tx1"]
    runs = run_in_each(oci_bin, bundle, tmp_path, edit_zero)
    for name, s in runs.items():
        assert s.run.returncode == 0 and s.run.stderr.split() == ["00"] * 4, (name, s.run)
    missing = run_in_each(oci_bin, bundle, tmp_path,
                          device_edit([dev("/dev/gantry-no-such-node")], userns=True), tag="m-")
    for name, s in missing.items():
        assert s.run.returncode == 1, (name, s.run)
        gist(s.run, "gantry-no-such-node")
        no_125(s.run)


def test_rootless_a_device_is_bound_from_the_host(bundle, tmp_path):
    """gantry oci as an unprivileged user (nobody, its own id mapped): /dev/zero is bound from
    the host and reads as zeros; a node the host lacks fails the run with exit 1, naming it."""
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="goci-rootless-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        binary = gantry_copy(base / "gantry-oci")
        b = base / "bundle"
        shutil.copytree(bundle, b, symlinks=True)
        state = base / "state"
        state.mkdir()

        def run(path, cid):
            def edit(cfg):
                cfg["process"].update(terminal=False, args=[
                    "sh", "-c", f"head -c 4 {path} | od -An -tx1"])
                ns = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
                cfg["linux"]["namespaces"] = ns + [{"type": "user"}]
                cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": nobody.pw_uid,
                                                "size": 1}]
                cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": nobody.pw_gid,
                                                "size": 1}]
                cfg["linux"]["devices"] = [{"path": path, "type": "c", "major": 1, "minor": 5,
                                            "fileMode": 0o666}]
                cfg["linux"].pop("resources", None)
            edit_config(b, edit)
            subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", b, state],
                           check=True)
            return subprocess.run(
                ["runuser", "-u", "nobody", "--", "env", "XDG_RUNTIME_DIR=", str(binary),
                 "--root", str(state / "r"), "run", "--bundle", str(b), cid],
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        ok = run("/dev/zero", "z1")
        assert ok.returncode == 0 and ok.stdout.split() == ["00"] * 4, ok
        missing = run("/dev/gantry-no-such-node", "z2")
        assert missing.returncode == 1 and "/dev/gantry-no-such-node" in missing.stderr, missing
        assert "does not exist" in missing.stderr and "hint:" in missing.stderr, missing
        no_125(missing)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def open_nodes_edit(devices, rules, paths):
    """The container opens each of PATHS for reading and prints the gist: "opened", or the
    error (EPERM: the device cgroup refused it; ENXIO: it reached the kernel, no driver)."""
    def edit(cfg, s):
        probe = "; ".join(f"if (exec 3< {p}) 2>/dev/null; then echo {p} opened; else cat {p} "
                          f"2>&1 >/dev/null | sed 's/.*: //;s/^/{p.replace('/', '_')} /'; fi"
                          for p in paths)
        cfg["process"]["args"] = ["sh", "-c", probe]
        cfg["linux"]["devices"] = devices
        cfg["linux"].setdefault("resources", {})["devices"] = rules
    return edit


def test_device_cgroup_rules_are_runcs(oci_bin, bundle, tmp_path):
    """runc 1.1 gives a linux.devices node no device cgroup rule of its own: only the spec's
    linux.resources.devices and runc's default list (libcontainer/specconv AllowedDevices), less
    a default whose path a linux.devices entry takes. So a node listed without a matching rule
    is made but cannot be opened (EPERM), and with a rule it opens (here ENXIO: major 240 has no
    driver); /dev/zero listed in linux.devices loses its default rule. gantry oci the same."""
    node = {"path": "/dev/gnode", "type": "c", "major": 240, "minor": 7, "fileMode": 0o666}
    zero = {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}
    deny = [{"allow": False, "access": "rwm"}]
    allow = deny + [{"allow": True, "type": "c", "major": 240, "minor": 7, "access": "rwm"}]
    paths = ["/dev/gnode", "/dev/zero"]
    cases = {"no-rule": ([node], deny, paths), "rule": ([node], allow, paths),
             "zero-listed": ([node, zero], deny, ["/dev/zero", "/dev/null"])}
    seen = {}
    for tag, (devices, rules, probe) in cases.items():
        runs = run_in_each(oci_bin, bundle, tmp_path, open_nodes_edit(devices, rules, probe),
                           tag=tag + "-")
        for name, s in runs.items():
            assert s.run.returncode == 0, (tag, name, s.run)
            seen.setdefault(tag, {})[name] = s.run.stderr.strip().splitlines()
    g = {tag: out["gantry"] for tag, out in seen.items()}
    assert g["no-rule"] == ["_dev_gnode Operation not permitted", "/dev/zero opened"], g
    assert g["rule"] == ["_dev_gnode No such device or address", "/dev/zero opened"], g
    assert g["zero-listed"] == ["_dev_zero Operation not permitted", "/dev/null opened"], g
    for tag, out in seen.items():
        assert out.get("runc", out["gantry"]) == out["gantry"], (tag, out)
