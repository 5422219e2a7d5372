"""gantry's bundles under OCI runtimes (runc, crun) and OCI hooks: the six stages from a CDI
spec, and gantry's own disable-device-node-modification hook."""
import json
import os
import subprocess

import pytest

import host_setup
from conftest import load_busybox, need_tool
from run_common import runner  # noqa: F401 (runner: a pytest fixture)


def test_bundle_runs_under_runc(g, mk, tmp_path):
    need_tool("runc")
    load_busybox(g, mk, tmp_path)
    b = tmp_path / "bundle"
    g.run("bundle", "--cmd", "/bin/sh", "--cmd", "-c", "--cmd", "echo from-runc; exit 3",
          "sample:latest", b)
    assert (b / "config.json").exists() and (b / "rootfs/bin/busybox").exists()
    r = subprocess.run(["runc", "--root", str(tmp_path / "runc-state"), "run", "--bundle", str(b),
                        f"gantry-test-{os.getpid()}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert "from-runc" in r.stdout


def crun_hybrid_workaround():
    """crun 1.8 refuses cgroup "hybrid" hosts (tests/host_setup.py, made at the session's start)."""
    if not host_setup.crun_hybrid_workaround():
        pytest.skip("crun needs the hugetlb workaround, which needs root")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_bundle_runs_under_oci_runtimes(runner, runtime):
    need_tool(runtime)
    if runtime == "crun":
        crun_hybrid_workaround()
    b = runner.where / f"bundle-{runtime}"
    runner.run("bundle", "--ulimit", "nofile=512:1024", "--shm-size", "128m", "--cmd", "/bin/sh",
               "--cmd", "-c", "--cmd",
               f"echo from-{runtime}; id -u; ls /dev/null; ulimit -n; ulimit -Hn; "
               "df -k /dev/shm | tail -1; exit 3", runner.image, b)
    state = runner.where / f"state-{runtime}"
    argv = [runtime, "--root", str(state), "run", "--bundle", str(b), f"gt{os.getpid()}"]
    if runner.user is not None:
        argv = ["setpriv", f"--reuid={runner.user.pw_uid}", f"--regid={runner.user.pw_gid}",
                "--clear-groups", "--"] + argv
    env = {"PATH": os.environ["PATH"], "HOME": str(runner.where), "XDG_RUNTIME_DIR": ""}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 3, r.stderr
    assert f"from-{runtime}" in r.stdout and "/dev/null" in r.stdout
    out = r.stdout.split()
    assert out[1] == "0"
    assert out[3:5] == ["512", "1024"], r.stdout  # process.rlimits from --ulimit
    assert out[6] == "131072", r.stdout  # /dev/shm of --shm-size 128m, in KiB


HOOK_LOG_PY = r"""
import json, os, sys
state = json.loads(sys.stdin.read())
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"stage": sys.argv[2], "status": state["status"], "pid": state["pid"],
                        "id": state["id"], "alive": os.path.exists(f"/proc/{state['pid']}")}) + "\n")
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
"""


def test_oci_hook_lifecycle(runner):
    """All six OCI hook stages from a CDI spec, in order, with the state each must see:
    startContainer runs inside the container (its path resolved there) before the program;
    poststart after the program started (a failing one only warns); poststop at the end."""
    need_tool("python3")
    work = runner.where / "hooks"
    work.mkdir()
    os.chmod(work, 0o777)
    log = work / "log.jsonl"
    py = "/usr/bin/python3"
    host = lambda stage, *rc: {"hookName": stage, "path": py,
                               "args": ["python3", "-c", HOOK_LOG_PY, str(log), stage, *rc]}
    edits = {"mounts": [{"hostPath": str(work), "containerPath": "/hooklog",
                         "options": ["rbind", "rw"]}],
             "hooks": [host("prestart"), host("createRuntime"), host("createContainer"),
                       {"hookName": "startContainer", "path": "/bin/sh",
                        "args": ["sh", "-c", "cat > /hooklog/start.json; "
                                 "grep -E '^CapBnd|^NoNewPrivs' /proc/self/status "
                                 "> /hooklog/start.status; "
                                 "echo started-in-container > /hooklog/start.txt; "
                                 "test -e /hooklog/start.json"]},
                       host("poststart"), host("poststart", "3"), host("poststop")]}
    spec = {"cdiVersion": "0.5.0", "kind": "example.com/hooks",
            "devices": [{"name": "all", "containerEdits": edits}]}
    (work / "hooks.json").write_text(__import__("json").dumps(spec))
    os.chmod(work / "hooks.json", 0o644)
    r = runner.run("run", "--cdi-spec-dir", work, "--device", "example.com/hooks=all",
                   runner.image, "sh", "-c",
                   "cat /hooklog/start.txt; sleep 0.3; echo program >> /hooklog/order")
    assert r.out == "started-in-container\n", r
    assert "poststart hook" in r.err and "warning" in r.err, r  # the failing one, non-fatal
    import json
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    stages = [e["stage"] for e in entries]
    assert stages == ["prestart", "createRuntime", "createContainer", "poststart", "poststart",
                      "poststop"], entries
    by = {e["stage"]: e for e in entries}
    assert by["createContainer"]["status"] == "creating" and by["createContainer"]["pid"] > 0
    assert by["poststart"]["status"] == "running" and by["poststart"]["alive"], entries
    assert by["poststop"]["status"] == "stopped", entries
    # an image's file runs as the hook: no more privilege than the program (docker's set, nnp)
    status = dict(line.split(":\t") for line in (work / "start.status").read_text().splitlines())
    assert status["CapBnd"] == "00000000a80425fb" and status["NoNewPrivs"] == "1", status
    start = json.loads((work / "start.json").read_text())
    assert start["status"] == "created" and start["id"] == by["prestart"]["id"], start
    # a failing startContainer hook stops the launch before the program runs
    bad = dict(edits, hooks=[{"hookName": "startContainer", "path": "/bin/sh",
                              "args": ["sh", "-c", "exit 9"]}])
    spec["devices"][0]["containerEdits"] = bad
    (work / "hooks.json").write_text(json.dumps(spec))
    r = runner.run("run", "--cdi-spec-dir", work, "--device", "example.com/hooks=all",
                   runner.image, "sh", "-c", "echo ran > /hooklog/ran", check=False)
    assert r.code == 125 and "startContainer hook" in r.err, r
    assert not (work / "ran").exists()


def test_disable_device_node_modification_hook(g, tmp_path):
    """`gantry hook disable-device-node-modification` (in every CDI spec gantry writes) binds a
    read-only copy of the host's /proc/driver/nvidia/params with ModifyDeviceFiles: 0 over the
    container's; nothing when the host's is already 0, missing, or the container has no such
    file; a symlink planted there is not followed out of the root. Root: it mounts, in a
    private mount namespace here (unshare -m)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (the hook bind-mounts in the container's mount namespace)")
    need_tool("unshare")
    bundle = tmp_path / "bundle"
    target = bundle / "rootfs/proc/driver/nvidia/params"
    target.parent.mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({"root": {"path": "rootfs"}}))
    state = json.dumps({"ociVersion": "1.0.2", "id": "c", "status": "creating", "pid": 1,
                        "bundle": str(bundle)})
    host = tmp_path / "host-params"
    outside = tmp_path / "outside"

    def hook_then(*shell):
        """Runs the hook, then `shell` in the same private mount namespace."""
        script = (f"{g.bin} hook disable-device-node-modification --params {host} && "
                  + " ".join(shell))
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                              input=state, capture_output=True, text=True, timeout=60)

    target.write_text("ModifyDeviceFiles: 1\nDeviceFileMode: 438\n")
    host.write_text("ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileMode: 438\n")
    r = hook_then(f"cat {target}; (echo x > {target}) 2>/dev/null && echo writable; true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 0\n"), r.stdout
    assert "writable" not in r.stdout  # read-only
    assert target.read_text() == "ModifyDeviceFiles: 1\nDeviceFileMode: 438\n"  # only covered
    # nothing to turn off, no host file, no such file in the container: exit 0, no mount
    for host_text, present in (("ModifyDeviceFiles: 0\n", True), (None, True),
                               ("ModifyDeviceFiles: 1\n", False)):
        host.unlink(missing_ok=True)
        if host_text is not None:
            host.write_text(host_text)
        target.unlink(missing_ok=True)
        if present:
            target.write_text("original\n")
        r = hook_then(f"grep -c ' {target.parent}' /proc/self/mountinfo || true")
        assert r.returncode == 0 and r.stdout.strip() == "0", (host_text, present, r)
    # a symlink in its place (an image cannot plant one under a real /proc; a root the hook is
    # pointed at can): the file it names outside the root stays as it was
    host.write_text("ModifyDeviceFiles: 1\n")
    outside.write_text("outside\n")
    target.unlink(missing_ok=True)
    target.symlink_to(outside)
    r = hook_then(f"cat {outside}")
    assert r.stdout == "outside\n", r
