"""`gantry bundle --gpus`: the GPUs of a bundle are the chosen vendor's CDI edits (device nodes,
driver files, hooks that call gantry back), so runc runs a GPU container gantry prepared. The
NVIDIA driver is a simulated host (tests/fixtures/gpuhost)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, load_busybox, need_tool

GPUHOST = REPO / "tests" / "fixtures" / "gpuhost" / "gpuhost.py"


@pytest.fixture
def nv_host(tmp_path):
    out = tmp_path / "gpuhost"
    subprocess.run([sys.executable, str(GPUHOST), "build", "--gpus", "2", str(out)], check=True,
                   capture_output=True)
    return out


def bundle_config(g, *args):
    g.run("bundle", *args)
    return json.loads((Path(args[-1]) / "config.json").read_text())


def test_bundle_gpus_are_the_vendors_cdi_edits(g, mk, tmp_path, nv_host):
    if os.geteuid() != 0:
        pytest.skip("the simulated host's device nodes need root to be made")
    image = load_busybox(g, mk, tmp_path)
    roots = ["--driver-root", str(nv_host / "driver"), "--dev-root", str(nv_host / "dev")]
    b = tmp_path / "b1"
    cfg = bundle_config(g, "--gpus", "device=1", *roots, "--cmd", "/bin/sh", "--cmd", "-c",
                        "--cmd", "ls /dev/nvidia*; ls /usr/lib/x86_64-linux-gnu; cat /dev/nvidia1 2>&1 | head -n1",
                        image, b)
    devices = sorted(d["path"] for d in cfg["linux"]["devices"])
    # GPU 1 and the control nodes; never GPU 0
    assert "/dev/nvidia1" in devices and "/dev/nvidiactl" in devices, devices
    assert "/dev/nvidia0" not in devices, devices
    hooks = cfg["hooks"]["createContainer"]
    assert hooks and all(h["path"] == str(g.bin.resolve()) for h in hooks), hooks
    assert any("libcuda.so." in m["source"] for m in cfg["mounts"])
    assert "NVIDIA_VISIBLE_DEVICES=void" in cfg["process"]["env"]
    # runc denies a node the device cgroup does not allow: each injected node has its rule
    nodes = {(d["major"], d["minor"]) for d in cfg["linux"]["devices"]}
    rules = {(r["major"], r["minor"]) for r in cfg["linux"]["resources"]["devices"]
             if r["allow"] and r["access"] == "rwm"}
    assert nodes <= rules, (nodes, rules)

    # no GPU asked: no device, no hook, and nothing of the host read (a bogus root is fine)
    cfg = bundle_config(g, "--driver-root", "/nonexistent", image, tmp_path / "b0")
    assert not cfg["linux"].get("devices") and not cfg.get("hooks")

    # an unknown GPU is an error naming it, and leaves no bundle behind
    r = g.run("bundle", "--gpus", "device=7", *roots, image, tmp_path / "b7", check=False)
    assert r.code == 3 and '"7"' in r.err, r
    assert not (tmp_path / "b7").exists()

    need_tool("runc")
    r = subprocess.run(["runc", "--root", str(tmp_path / "state"), "run", "--bundle", str(b),
                        f"gtgpu{os.getpid()}"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    seen = r.stdout.split()
    assert "/dev/nvidia1" in seen and "/dev/nvidia0" not in seen, r.stdout
    # opening the node reaches the (absent) driver: ENXIO, not the device cgroup's EPERM
    assert "No such device or address" in r.stdout, r.stdout
    # the create-symlinks hook ran inside the container: the SONAME link is there
    assert "libcuda.so.1" in seen, r.stdout
