"""A CDI device node is usable in the container: `gantry run --device` binds the host's node
(gantry's own runtime places no device cgroup, and says so when a spec asks for less than
"rwm"), and the spec gantry hands runc allows it (test_bundle_gpu.py runs that under runc).
The node is a real character node of a driver that is not loaded: opening it reaches the
kernel's lookup of the driver (ENXIO), where a device cgroup's refusal would be EPERM."""
import os
import shutil
import subprocess

import pytest

from conftest import need_tool


def test_run_device_opens_a_cdi_node_and_says_what_it_does_not_apply(g, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a character node (mknod) needs root")
    need_tool("mksquashfs")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    image = tmp_path / "bb.sqsh"
    subprocess.run(["mksquashfs", root, image, "-all-root", "-quiet", "-noappend"], check=True,
                   capture_output=True)
    node = tmp_path / "node"
    os.mknod(node, 0o600 | 0o020000, os.makedev(195, 77))  # no driver has 195:77 here
    specs = tmp_path / "cdi"
    specs.mkdir()
    entry = f"    - path: /dev/probe\n      hostPath: {node}\n"
    (specs / "p.yaml").write_text(
        "cdiVersion: 0.5.0\nkind: fix36.example/probe\ndevices:\n"
        f"- name: full\n  containerEdits:\n    deviceNodes:\n{entry}"
        f"- name: ro\n  containerEdits:\n    deviceNodes:\n{entry}      permissions: r\n")
    probe = ["/bin/sh", "-c", "cat /dev/probe 2>&1 | head -n1"]
    r = g.run("run", "--rm", "--cdi-spec-dir", specs, "--device", "fix36.example/probe=full",
              image, *probe)
    assert "No such device or address" in r.out, r
    assert "not applied" not in r.err, r
    r = g.run("run", "--rm", "--cdi-spec-dir", specs, "--device", "fix36.example/probe=ro",
              image, *probe)
    assert "No such device or address" in r.out, r
    assert 'c 195:77: its permissions "r" are not applied by gantry run' in r.err, r
