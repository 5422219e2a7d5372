"""Joining a pod's user namespace by path (issue 52), as rootless pods need: the sandbox
container makes a user namespace and the PID, IPC, UTS and network namespaces it owns; each
container of the pod joins them all by /proc/PID/ns/* (`{"type": "user", "path": ...}` first:
the others need its capabilities). runc 1.1.5 and gantry oci run the same pod in one test, as
nobody and as root (a user namespace whose root is host 100000, as `hostUsers: false`), and the
second container must see the sandbox's processes (its PID namespace), its hostname and the same
user namespace inode. The mappings containerd writes beside the path: the joined namespace's
(accepted, as runc), none (runc 1.2 accepts; 1.1.5 asks for them), or others (refused, as runc
1.2 refuses them)."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import gantry_copy, need_tool
from ocidiff import ROOT, bundle  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not ROOT, reason="makes users' pods and compares with runc as root")
NOBODY = pwd.getpwnam("nobody")
JOINED = ("user", "pid", "ipc", "uts", "network")
PROBE = ("ps -o pid,comm; readlink /proc/self/ns/user; hostname; "
         "cat /proc/self/uid_map /proc/self/setgroups; id -u")


@pytest.fixture
def pod_base(bundle):
    """A directory every user can enter: gantry-oci, the busybox bundle's rootfs (owned by
    nobody), state directories; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="goci-userns-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        gantry_copy(base / "gantry-oci")
        shutil.copytree(bundle / "rootfs", base / "rootfs", symlinks=True)
        shutil.copy(bundle / "config.json", base / "config.json")
        subprocess.run(["chown", "-R", f"{NOBODY.pw_uid}:{NOBODY.pw_gid}", base / "rootfs"],
                       check=True)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Pod:
    """One runtime's pod: a sandbox (`sleep`) and containers that join its namespaces, run as
    USER (None: root) with a state root of its own."""

    def __init__(self, name, binary, base, user, maps):
        self.name, self.binary, self.base, self.user, self.maps = name, binary, base, user, maps
        self.state = base / f"{name}-{user or 'root'}-state"
        self.state.mkdir()
        if user:
            os.chown(self.state, NOBODY.pw_uid, NOBODY.pw_gid)
        self.made = []

    def oci(self, *args, stdout=None):
        prefix = ["runuser", "-u", self.user, "--", "env", "XDG_RUNTIME_DIR="] if self.user else []
        kw = {"stdout": stdout, "stderr": subprocess.STDOUT} if stdout else {"capture_output": True}
        return subprocess.run(prefix + [str(self.binary), "--root", str(self.state),
                                        *map(str, args)], text=True, timeout=60,
                              stdin=subprocess.DEVNULL, **kw)

    def bundle(self, tag, args, namespaces, maps):
        d = self.base / f"{self.name}-{self.user or 'root'}-{tag}"
        d.mkdir()
        cfg = json.loads((self.base / "config.json").read_text())
        cfg["root"] = {"path": str(self.base / "rootfs")}
        cfg["process"].update(args=args, terminal=False)
        cfg["hostname"] = "pod-host"
        cfg["linux"]["namespaces"] = namespaces + [{"type": "mount"}]
        cfg["linux"].pop("resources", None)  # rootless runc 1.1.5 has no cgroups to set them in
        cfg["linux"].pop("uidMappings", None)
        cfg["linux"].pop("gidMappings", None)
        if maps is not None:
            cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"] = maps
        (d / "config.json").write_text(json.dumps(cfg))
        os.chmod(d, 0o755)
        return d

    def sandbox(self):
        """The pause container of the pod: its pid."""
        ns = [{"type": t} for t in JOINED]
        d = self.bundle("sandbox", ["sleep", "301"], ns, self.maps)
        with open(d / "out", "w") as out:
            assert self.oci("create", "--bundle", d, "sb", stdout=out).returncode == 0, \
                (self.name, (d / "out").read_text())
        self.made.append("sb")
        r = self.oci("start", "sb")
        assert r.returncode == 0, (self.name, r)
        return json.loads(self.oci("state", "sb").stdout)["pid"]

    def join(self, tag, pid, maps):
        """`run` of a container that joins the sandbox's namespaces by path."""
        files = {"network": "net"}
        ns = [{"type": t, "path": f"/proc/{pid}/ns/{files.get(t, t)}"} for t in JOINED]
        d = self.bundle(tag, ["sh", "-c", PROBE], ns, maps)
        return self.oci("run", "--bundle", d, tag)

    def cleanup(self):
        for cid in reversed(self.made):  # the pod's containers, then its sandbox (as kubelet)
            self.oci("delete", "-f", cid)


def run_pods(pod_base, user, maps, cases, exec_too=False):
    """Each runtime's pod (runc's first): CASES {tag: mappings of the joining container, or
    "pod" for the sandbox's} run against its sandbox; EXEC_TOO: also "exec", the probe exec'ed
    in the sandbox (a container that joined holds the same namespaces; one still running when
    the sandbox is deleted would be an orphan of `sleep`, which reaps nothing, where kubelet's
    pause reaps). {runtime: ((sandbox pid, its user namespace's link),
    {tag: result})}."""
    need_tool("runc")
    out = {}
    for name, binary in (("runc", shutil.which("runc")), ("gantry", pod_base / "gantry-oci")):
        pod = Pod(name, binary, pod_base, user, maps)
        try:
            pid = pod.sandbox()
            out[name] = ((pid, os.readlink(f"/proc/{pid}/ns/user")),
                         {tag: pod.join(tag, pid, maps if m == "pod" else m)
                          for tag, m in cases.items()})
            if exec_too:  # kubelet's ExecSync: into the pod's user namespace and the rest
                out[name][1]["exec"] = pod.oci("exec", "sb", "sh", "-c", PROBE)
        finally:
            pod.cleanup()
    return out


def assert_in_the_pod(name, r, sandbox, root_map, setgroups):
    """The container's probe: the sandbox's `sleep` is PID 1 of its PID namespace (beside the
    probe's sh and ps), the user namespace is the sandbox's, the hostname the pod's, the map
    and setgroups the namespace's, and the probe runs as its root."""
    assert r.returncode == 0, (name, r)
    lines = [" ".join(ln.split()) for ln in r.stdout.splitlines()]
    assert lines[1:4] == ["1 sleep", f"{lines[2].split()[0]} sh", f"{lines[3].split()[0]} ps"], \
        (name, r.stdout)
    assert lines[4:] == [sandbox[1], "pod-host", root_map, setgroups, "0"], (name, r.stdout)


def test_rootless_pod_joins_the_sandboxs_user_namespace_as_runc(pod_base):
    """As nobody: the pod's containers join the sandbox's user namespace (made with nobody's
    own ids, setgroups denied) and, with its capabilities, its PID, IPC, UTS and network
    namespaces: under runc and gantry oci each sees the sandbox's `sleep` as PID 1 and the
    sandbox's user namespace, also in a process `exec`ed into the pod (kubelet's ExecSync).
    Without mappings gantry joins as runc 1.2 does (runc 1.1.5 asks for them); with mappings
    that are not the namespace's, both refuse."""
    maps = ([{"containerID": 0, "hostID": NOBODY.pw_uid, "size": 1}],
            [{"containerID": 0, "hostID": NOBODY.pw_gid, "size": 1}])
    other = ([{"containerID": 0, "hostID": NOBODY.pw_uid, "size": 1}],
             [{"containerID": 0, "hostID": 1000, "size": 1}])
    runs = run_pods(pod_base, "nobody", maps, {"same": "pod", "none": None, "other": other},
                    exec_too=True)
    for name, (pid, r) in runs.items():
        assert_in_the_pod(name, r["same"], pid, f"0 {NOBODY.pw_uid} 1", "deny")
        assert_in_the_pod(name, r["exec"], pid, f"0 {NOBODY.pw_uid} 1", "deny")
        assert r["other"].returncode != 0, (name, r["other"])
    assert_in_the_pod("gantry", runs["gantry"][1]["none"], runs["gantry"][0],
                      f"0 {NOBODY.pw_uid} 1", "deny")
    assert "no uid mappings found" in runs["runc"][1]["none"].stderr, runs["runc"][1]["none"]
    g = runs["gantry"][1]["other"]
    assert g.returncode == 1 and "differ from those of the user namespace" in g.stderr, g
    assert f"/proc/{runs['gantry'][0][0]}/ns/user" in g.stderr and "hint:" in g.stderr, g


def test_pod_in_a_user_namespace_as_root_as_runc(pod_base):
    """As root, a pod in a user namespace whose root is host 100000 (Kubernetes'
    `hostUsers: false`): the container joins it with the mappings containerd writes beside the
    path (the namespace's own), runs as its root, and sees the sandbox's processes, as under
    runc; the user namespace allows setgroups."""
    maps = ([{"containerID": 0, "hostID": 100000, "size": 65536}],
            [{"containerID": 0, "hostID": 100000, "size": 65536}])
    subprocess.run(["chown", "-R", "100000:100000", pod_base / "rootfs"], check=True)
    runs = run_pods(pod_base, None, maps, {"same": "pod"})
    for name, (pid, r) in runs.items():
        assert_in_the_pod(name, r["same"], pid, "0 100000 65536", "allow")


def test_new_user_namespace_joins_a_host_owned_network_namespace_as_runc(pod_base):
    """As root, a container that makes a user namespace (root host 100000) and joins a network
    namespace the host's user namespace owns (containerd makes a pod's network namespace so for
    `hostUsers: false`): joined before the user namespace is made, which has no capabilities
    over it, as runc joins it; the container is in it under both runtimes. (Its /sys cannot be
    mounted there, under runc as under gantry: left out.)"""
    need_tool("runc")
    subprocess.run(["chown", "-R", "100000:100000", pod_base / "rootfs"], check=True)
    holder = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        netns = f"/proc/{holder.pid}/ns/net"
        deadline = time.time() + 10
        while os.readlink(netns) == os.readlink("/proc/self/ns/net"):  # unshare not done yet
            assert time.time() < deadline
            time.sleep(0.01)
        maps = ([{"containerID": 0, "hostID": 100000, "size": 65536}],) * 2
        seen = {}
        for name, binary in (("runc", shutil.which("runc")), ("gantry", pod_base / "gantry-oci")):
            pod = Pod(name, binary, pod_base, None, maps)
            d = pod.bundle("netns", ["sh", "-c", "readlink /proc/self/ns/net; id -u"],
                           [{"type": t} for t in ("user", "pid", "ipc", "uts")] +
                           [{"type": "network", "path": netns}], maps)
            cfg = json.loads((d / "config.json").read_text())
            cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys"]
            (d / "config.json").write_text(json.dumps(cfg))
            seen[name] = pod.oci("run", "--bundle", d, "netns")
        for name, r in seen.items():
            assert r.returncode == 0, (name, r)
            assert r.stdout.split() == [os.readlink(netns), "0"], (name, r.stdout)
    finally:
        holder.kill()
        holder.wait()
