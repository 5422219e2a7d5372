"""`gantry oci` where Kubernetes drives it (issue 52): the PID namespace of a pod (containerd's
CRI hands every container of a pod that shares its process namespace the pause container's,
`{"type": "pid", "path": "/proc/PID/ns/pid"}`), the host's PID namespace (a spec without a pid
entry: hostPID pods), and mount propagation (critest's HostToContainer = `rslave`,
Bidirectional = `rshared` with `rootfsPropagation: rshared`). Each case runs under Debian's runc
and under gantry oci in the same test and compares what the containers and the host observed;
rootless (gantry alone, as nobody) shows what the kernel allows a user namespace's mounts."""
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import gantry_copy, proc_cmdlines
from ocidiff import ROOT, bundle, oci_bin, run_both, runtimes  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not ROOT, reason="compares with runc, which runs as root here")


class Rt:
    """One runtime (runc or gantry oci) with a state root of its own; containers it made are
    deleted with -f by cleanup()."""

    def __init__(self, name, binary, tmp_path, root=None):
        self.name, self.binary, self.tmp = name, binary, tmp_path
        self.root = root or tmp_path / f"{name}-state"
        self.tag = f"p{os.getpid()}-{tmp_path.name[-8:]}-{name}"
        self.made = []

    def __call__(self, *args, check=True, timeout=60):
        p = subprocess.run([self.binary, "--root", str(self.root), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, f"{self.name} {args}: {p}"
        return p

    def start(self, name, bundle_dir):
        """create (its stdio a file: the container keeps it, as runc's does) and start."""
        cid = f"{self.tag}-{name}"
        out = self.tmp / f"{cid}.out"
        with open(out, "w") as f:
            p = subprocess.run([self.binary, "--root", str(self.root), "create", "--bundle",
                                str(bundle_dir), cid], stdin=subprocess.DEVNULL, stdout=f,
                               stderr=f, timeout=60)
        assert p.returncode == 0, f"{self.name} create {name}: {out.read_text()}"
        self.made.append(cid)
        self("start", cid)
        return cid

    def state(self, cid):
        return json.loads(self("state", cid).stdout)

    def wait_status(self, cid, want, within=15):
        deadline = time.time() + within
        while (st := self.state(cid)["status"]) != want:
            assert time.time() < deadline, f"{self.name} {cid}: {st}, not {want}"
            time.sleep(0.05)

    def cleanup(self):
        for cid in self.made:
            self("delete", "-f", cid, check=False)


def config_dir(bundle, where, args, *edits):
    """A bundle directory WHERE whose config.json is BUNDLE's with its rootfs (shared by the
    containers of a test), ARGS, no terminal, and EDITS applied."""
    where.mkdir()
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"]["path"] = str(bundle / "rootfs")
    cfg["process"].update(args=args, terminal=False)
    for e in edits:
        e(cfg)
    (where / "config.json").write_text(json.dumps(cfg))
    return where


def obs_bind(obs):
    return lambda cfg: cfg["mounts"].append(
        {"destination": "/obs", "type": "bind", "source": str(obs), "options": ["rbind", "rw"]})


def pid_ns(path=None):
    """The spec's pid entry: a new namespace (None), joined (a path), or none ("host")."""
    def edit(cfg):
        ns = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
        if path != "host":
            ns.append({"type": "pid", "path": path} if path else {"type": "pid"})
        cfg["linux"]["namespaces"] = ns
    return edit


def wait_file(f, within=15):
    deadline = time.time() + within
    while not (f.exists() and f.read_text().endswith("\n")):
        assert time.time() < deadline, f"{f} never written"
        time.sleep(0.02)
    return f.read_text()


def sleeping(arg):
    """Pids of processes `sleep ARG` (a number no other test uses)."""
    want = f"sleep\0{arg}\0".encode()
    return [pid for pid, cmdline in proc_cmdlines() if cmdline == want]


def ps_commands(text):
    """busybox ps's lines as (is PID 1, command), sorted."""
    lines = text.splitlines()
    at = lines[0].index("COMMAND")
    return sorted((line.split()[0] == "1", line[at:].strip()) for line in lines[1:] if line.strip())


# ---- a pod's PID namespace ----


def test_pod_containers_join_the_pause_containers_pid_namespace_as_runc(oci_bin, bundle,
                                                                       tmp_path):
    """A pause container with a PID namespace of its own, a member joining it by path: the
    member's process is in it (not PID 1 there: `ps` inside shows the pause as PID 1), `state`
    gives its host pid, `exec` joins the same namespace, `ps` lists the member's processes
    only, `kill --all` of the member leaves the pause running, and killing the pause (the
    namespace's init) ends the members with it. The same under runc and gantry oci."""
    seen = {}
    for name, binary in runtimes(oci_bin):
        rt = Rt(name, binary, tmp_path)
        obs = tmp_path / f"obs-{name}"
        obs.mkdir()
        try:
            pause = rt.start("pause", config_dir(bundle, tmp_path / f"{name}-pause",
                                                 ["sleep", "1000"], pid_ns(), obs_bind(obs)))
            ppid = rt.state(pause)["pid"]
            ns = os.readlink(f"/proc/{ppid}/ns/pid")
            assert ns != os.readlink("/proc/self/ns/pid")
            join = pid_ns(f"/proc/{ppid}/ns/pid")
            script = ("readlink /proc/self/ns/pid > /obs/ns; echo $$ > /obs/self; "
                      "ps > /obs/ps.tmp; mv /obs/ps.tmp /obs/ps; echo >> /obs/ps; "
                      "exec sleep 1001")
            member = rt.start("member", config_dir(bundle, tmp_path / f"{name}-member",
                                                   ["sh", "-c", script], join, obs_bind(obs)))
            ps_inside = wait_file(obs / "ps")
            mpid = rt.state(member)["pid"]
            assert os.readlink(f"/proc/{mpid}/ns/pid") == ns, name
            assert (obs / "ns").read_text().strip() == ns, name
            inside = int((obs / "self").read_text())
            assert inside != 1, name
            # exec joins the member's PID namespace, the pod's
            ex = rt("exec", member, "sh", "-c", "readlink /proc/self/ns/pid; echo $$")
            ex_ns, ex_pid = ex.stdout.split()
            assert ex_ns == ns and int(ex_pid) not in (1, inside), (name, ex.stdout)
            # the runtime's ps: the member's processes, never the pause's
            listed = json.loads(rt("ps", "--format", "json", member).stdout)
            assert mpid in listed and ppid not in listed, (name, listed, mpid, ppid)
            rt("kill", "--all", member, "KILL")
            rt.wait_status(member, "stopped")
            assert rt.state(pause)["status"] == "running", name
            rt("delete", member)
            # a foreground run in the pod: its status, and not PID 1
            fg = subprocess.run(
                [binary, "--root", str(rt.root), "run", "--bundle",
                 str(config_dir(bundle, tmp_path / f"{name}-fg",
                                ["sh", "-c", "[ $$ != 1 ] && readlink /proc/self/ns/pid; exit 3"],
                                join)), f"{rt.tag}-fg"],
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            assert (fg.returncode, fg.stdout) == (3, ns + "\n"), (name, fg)
            # the pause's death ends the members: the kernel kills a PID namespace's processes
            # with its init
            member2 = rt.start("member2", config_dir(bundle, tmp_path / f"{name}-member2",
                                                     ["sleep", "1002"], join))
            rt("kill", pause, "KILL")
            rt.wait_status(pause, "stopped")
            rt.wait_status(member2, "stopped")
            rt("delete", member2)
            rt("delete", pause)
            seen[name] = ps_commands(ps_inside)
        finally:
            rt.cleanup()
    for name, rows in seen.items():
        assert (True, "sleep 1000") in rows, (name, rows)  # the pause is PID 1 there
        assert [r for r in rows if r[0]] == [(True, "sleep 1000")], (name, rows)
    if "runc" in seen:
        assert seen["gantry"] == seen["runc"]


def test_a_pid_path_that_is_no_pid_namespace_fails_the_create(oci_bin, bundle, tmp_path):
    """A pid path naming a network namespace, or nothing: create fails (exit 1 for gantry, the
    path named) and leaves no container, under both."""
    for path in ("/proc/self/ns/net", "/proc/0/ns/pid"):
        runs = run_both(oci_bin, bundle, tmp_path / path.split("/")[2], ["true"],
                        edit=pid_ns(path))
        for who, r in runs.items():
            assert r.returncode != 0, (who, r)
        assert runs["gantry"].returncode == 1 and path in runs["gantry"].stderr, runs["gantry"]
        assert "hint:" in runs["gantry"].stderr


# ---- the host's PID namespace ----


def test_host_pid_namespace_without_a_pid_entry_as_runc(oci_bin, bundle, tmp_path):
    """No pid entry in linux.namespaces: the container's processes are in the host's PID
    namespace (hostPID pods). `run` deletes the container once its first process exits and
    kills what it left behind; detached, `kill` signals the first process only and `delete`
    kills the rest, as runc's destroy does."""
    host = os.readlink("/proc/self/ns/pid")
    left, bg, fg = (40000 + os.getpid() % 20000 + i * 20000 for i in range(3))
    for name, binary in runtimes(oci_bin):
        r = subprocess.run(
            [binary, "--root", str(tmp_path / f"{name}-state"), "run", "--bundle",
             str(config_dir(bundle, tmp_path / f"{name}-run",
                            ["sh", "-c", "readlink /proc/self/ns/pid; [ $$ != 1 ] && echo not-1; "
                                         f"sleep {left} & exit 0"], pid_ns("host"))),
             f"h{os.getpid()}-{name}"], capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL)
        assert (r.returncode, r.stdout) == (0, f"{host}\nnot-1\n"), (name, r)
        assert sleeping(left) == [], f"{name}: run left `sleep {left}` running"
        rt = Rt(name, binary, tmp_path)
        try:
            c = rt.start("bg", config_dir(bundle, tmp_path / f"{name}-bg",
                                          ["sh", "-c", f"sleep {bg} & exec sleep {fg}"],
                                          pid_ns("host")))
            deadline = time.time() + 10
            while not (sleeping(bg) and sleeping(fg)):
                assert time.time() < deadline, name
                time.sleep(0.02)
            assert rt.state(c)["pid"] == sleeping(fg)[0], name
            listed = json.loads(rt("ps", "--format", "json", c).stdout)
            assert sorted(listed) == sorted(sleeping(bg) + sleeping(fg)), (name, listed)
            ex = rt("exec", c, "sh", "-c", "readlink /proc/self/ns/pid")
            assert ex.stdout == host + "\n", (name, ex)
            rt("kill", c, "KILL")
            rt.wait_status(c, "stopped")
            assert sleeping(bg), f"{name}: kill without --all reached the second process"
            rt("delete", c)
            deadline = time.time() + 5
            while sleeping(bg):
                assert time.time() < deadline, f"{name}: delete left `sleep {bg}` running"
                time.sleep(0.02)
        finally:
            rt.cleanup()
            for p in sleeping(bg) + sleeping(fg) + sleeping(left):
                os.kill(p, 9)


@pytest.mark.parametrize("pid", ["host", "/proc/1/ns/pid"])
def test_new_user_namespace_outside_its_pid_namespace_refused(oci_bin, bundle, tmp_path, pid):
    """A user namespace of the container's own with the host's PID namespace or one joined by
    path cannot mount its /proc (procfs needs CAP_SYS_ADMIN over the PID namespace's owner):
    runc fails at the mount (or before it), gantry refuses it at create, saying why."""
    def edit(cfg):
        pid_ns(pid)(cfg)
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "user"] + [{"type": "user"}]
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    runs = run_both(oci_bin, bundle, tmp_path, ["true"], edit=edit)
    for who, r in runs.items():
        assert r.returncode != 0, (who, r)
    g = runs["gantry"]
    assert g.returncode == 1 and "procfs needs CAP_SYS_ADMIN" in g.stderr, g
    assert "linux.namespaces" in g.stderr and "hint:" in g.stderr, g
    assert not list((tmp_path / "gantry-state").glob("*/state.json"))


# ---- mount propagation ----


@contextlib.contextmanager
def shared_tmpfs(s):
    """A tmpfs on the host at S made shared (as kubelet makes /var/lib/kubelet rshared), with
    sub/ to mount on; unmounted (with whatever propagated to it) afterwards."""
    s.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=755", "gantry-prop", str(s)],
                   check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(s)], check=True)
        (s / "sub").mkdir()
        yield s
    finally:
        subprocess.run(["umount", "-R", "-l", str(s)], capture_output=True)


@pytest.fixture
def shared_mount(tmp_path):
    with shared_tmpfs(tmp_path / "shared") as s:
        yield s


def umount_all(path):
    while os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], check=True)


WAIT_MARKER = ("echo > /obs/ready; i=0; while [ ! -e /vol/sub/marker ] && [ $i -lt 100 ]; "
               "do sleep 0.1; i=$((i+1)); done; ")


def test_host_to_container_rslave_as_runc(oci_bin, bundle, tmp_path, shared_mount):
    """Kubernetes' HostToContainer: a bind of a shared host mount with `rslave` (runc's default
    rootfsPropagation, rslave, left as is): a mount the host makes under it after the start
    appears in the container; the same source bound `rprivate` does not show it."""
    for name, binary in runtimes(oci_bin):
        rt = Rt(name, binary, tmp_path)
        obs = tmp_path / f"obs-{name}"
        obs.mkdir()

        def binds(cfg):
            cfg["linux"].pop("rootfsPropagation", None)  # runc's default: rslave
            cfg["mounts"] += [{"destination": "/vol", "type": "bind", "source": str(shared_mount),
                               "options": ["rbind", "rslave"]},
                              {"destination": "/priv", "type": "bind",
                               "source": str(shared_mount), "options": ["rbind", "rprivate"]}]
        script = (WAIT_MARKER + "cat /vol/sub/marker; ls /priv/sub | wc -l; "
                  "grep ' /vol ' /proc/self/mountinfo | grep -c master:; "
                  "grep ' /priv ' /proc/self/mountinfo | grep -c -e master: -e shared:; "
                  "echo end) > /obs/seen.tmp 2>&1; mv /obs/seen.tmp /obs/seen")
        try:
            rt.start("h2c", config_dir(bundle, tmp_path / f"{name}-h2c",
                                       ["sh", "-c", "(" + script], obs_bind(obs), binds))
            wait_file(obs / "ready")
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "from-host",
                            str(shared_mount / "sub")], check=True)
            (shared_mount / "sub" / "marker").write_text(f"host {name}\n")
            assert wait_file(obs / "seen") == f"host {name}\n0\n1\n0\nend\n", name
        finally:
            rt.cleanup()
            umount_all(shared_mount / "sub")


def test_bidirectional_rshared_as_runc(oci_bin, bundle, tmp_path, shared_mount):
    """Kubernetes' Bidirectional: `rootfsPropagation: rshared` and a bind with `rshared` (what
    containerd writes): a mount the container makes under it appears on the host. The
    container's other mounts do not reach the host: its root and /proc (the bundle here lies in
    another shared mount, as containerd's rootfs under a shared /run), nor gantry's tmpfs in
    its state directory (also there)."""
    with shared_tmpfs(tmp_path / "outer") as outer:
        bidirectional(oci_bin, bundle, tmp_path, shared_mount, outer)


def bidirectional(oci_bin, bundle, tmp_path, shared_mount, outer):
    b = outer / "bundle"
    shutil.copytree(bundle, b, symlinks=True)
    for name, binary in runtimes(oci_bin):
        rt = Rt(name, binary, tmp_path, root=outer / f"{name}-state")
        obs = tmp_path / f"obs-{name}"
        obs.mkdir()

        def edit(cfg):
            cfg["linux"]["rootfsPropagation"] = "rshared"
            cfg["linux"].pop("seccomp", None)
            for k in ("bounding", "effective", "permitted"):
                cfg["process"]["capabilities"][k].append("CAP_SYS_ADMIN")
            cfg["mounts"].append({"destination": "/vol", "type": "bind",
                                  "source": str(shared_mount), "options": ["rbind", "rshared"]})
        script = ("mount -t tmpfs -o size=1m from-container /vol/sub && "
                  f"echo 'container {name}' > /vol/sub/marker && echo > /obs/done; "
                  "exec sleep 1000")
        try:
            rt.start("bidi", config_dir(b, tmp_path / f"{name}-bidi", ["sh", "-c", script],
                                        obs_bind(obs), edit))
            wait_file(obs / "done")
            assert os.path.ismount(shared_mount / "sub"), name
            assert (shared_mount / "sub" / "marker").read_text() == f"container {name}\n"
            assert not os.path.ismount(b / "rootfs" / "proc"), name
            assert not os.path.ismount(b / "rootfs"), name
            assert not any(os.path.ismount(d) for d in (outer / f"{name}-state").rglob("*")
                           if d.is_dir()), name
        finally:
            rt.cleanup()
            umount_all(shared_mount / "sub")


# ---- rootless ----


def test_rootless_propagation_host_to_container_only(bundle):
    """gantry oci as nobody (a user namespace with its own id mapped): the kernel copies the
    host's mounts into the user namespace's mount namespace as slaves, so HostToContainer
    works (a host mount under an `rslave`/`rshared` bind appears in the container) and
    Bidirectional cannot: the container's mount under an `rshared` bind, with
    `rootfsPropagation: rshared`, stays in the container (no error)."""
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="goci-prop-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        with shared_tmpfs(base / "shared") as shared_mount:
            rootless_propagation(bundle, base, nobody, shared_mount)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def rootless_propagation(bundle, base, nobody, shared_mount):
    binary = gantry_copy(base / "gantry-oci")
    b = base / "bundle"
    shutil.copytree(bundle, b, symlinks=True)
    obs, state = base / "obs", base / "state"
    obs.mkdir()
    state.mkdir()
    os.chmod(shared_mount / "sub", 0o777)
    (shared_mount / "sub2").mkdir(mode=0o777)
    os.chmod(shared_mount / "sub2", 0o777)
    script = (WAIT_MARKER + "cat /vol/sub/marker; "
              "mount -t tmpfs -o size=1m in-userns /vol/sub2 && echo mounted; "
              "echo end) > /obs/seen.tmp 2>&1; mv /obs/seen.tmp /obs/seen; exec sleep 1000")

    def edit(cfg):
        cfg["process"].update(terminal=False, args=["sh", "-c", "(" + script])
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "user"] + [{"type": "user"}]
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": nobody.pw_uid,
                                        "size": 1}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": nobody.pw_gid,
                                        "size": 1}]
        cfg["linux"].pop("resources", None)
        cfg["linux"].pop("seccomp", None)
        cfg["linux"]["rootfsPropagation"] = "rshared"
        for k in ("bounding", "effective", "permitted"):
            cfg["process"]["capabilities"][k].append("CAP_SYS_ADMIN")
        cfg["mounts"] += [{"destination": "/vol", "type": "bind", "source": str(shared_mount),
                           "options": ["rbind", "rshared"]},
                          {"destination": "/obs", "type": "bind", "source": str(obs),
                           "options": ["rbind", "rw"]}]
    cfg = json.loads((b / "config.json").read_text())
    edit(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", b, state, obs],
                   check=True)

    def as_nobody(*args, **kw):
        return subprocess.run(["runuser", "-u", "nobody", "--", "env", "XDG_RUNTIME_DIR=",
                               str(binary), "--root", str(state / "r"), *args],
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, **kw)
    with open(base / "out", "w") as out:
        p = subprocess.run(["runuser", "-u", "nobody", "--", "env", "XDG_RUNTIME_DIR=",
                            str(binary), "--root", str(state / "r"), "create", "--bundle",
                            str(b), "rl"], stdin=subprocess.DEVNULL, stdout=out,
                           stderr=out, timeout=60)
    assert p.returncode == 0, (base / "out").read_text()
    try:
        assert as_nobody("start", "rl").returncode == 0
        wait_file(obs / "ready")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "from-host",
                        str(shared_mount / "sub")], check=True)
        (shared_mount / "sub" / "marker").write_text("host\n")
        assert wait_file(obs / "seen") == "host\nmounted\nend\n"
        assert not os.path.ismount(shared_mount / "sub2")  # Bidirectional cannot
    finally:
        as_nobody("delete", "-f", "rl")
        umount_all(shared_mount / "sub")



def test_rootless_cannot_join_a_pid_namespace(bundle):
    """As nobody, joining a PID namespace needs CAP_SYS_ADMIN in the caller's own user namespace
    too (the kernel's pidns_install), even one nobody's own user namespace owns: a container
    that makes a user namespace of its own cannot join it; create fails naming the path, why,
    and the fix (join the pod's user namespace too: test_oci_userns_join.py); with a proc mount
    it is refused before that (procfs)."""
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="goci-pidrl-", dir="/tmp"))
    os.chmod(base, 0o755)
    holder = subprocess.Popen(["runuser", "-u", "nobody", "--", "unshare", "--user",
                               "--map-root-user", "--pid", "--fork", "sleep", "60"])
    try:
        binary = gantry_copy(base / "gantry-oci")
        b = base / "bundle"
        shutil.copytree(bundle, b, symlinks=True)
        (base / "state").mkdir()
        os.chown(base / "state", nobody.pw_uid, nobody.pw_gid)
        deadline = time.time() + 10
        while True:  # the forked sleep, in the new PID namespace nobody's user namespace owns
            kids = [int(c) for t in Path(f"/proc/{holder.pid}/task").iterdir()
                    for c in (t / "children").read_text().split()]
            inner = [k for k in kids if Path(f"/proc/{k}/cmdline").read_bytes().startswith(
                b"unshare")]
            leaf = inner and (Path(f"/proc/{inner[0]}/task/{inner[0]}/children").read_text()
                              .split())
            if leaf:
                path = f"/proc/{leaf[0]}/ns/pid"
                break
            assert time.time() < deadline
            time.sleep(0.02)
        results = {}
        for proc in (False, True):
            cfg = json.loads((bundle / "config.json").read_text())
            cfg["process"].update(terminal=False, args=["true"])
            cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                          if n["type"] not in ("user", "pid")] + [
                {"type": "user"}, {"type": "pid", "path": path}]
            cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": nobody.pw_uid,
                                            "size": 1}]
            cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": nobody.pw_gid,
                                            "size": 1}]
            cfg["linux"].pop("resources", None)
            if not proc:
                cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] != "proc"]
            (b / "config.json").write_text(json.dumps(cfg))
            subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", b], check=True)
            results[proc] = subprocess.run(
                ["runuser", "-u", "nobody", "--", "env", "XDG_RUNTIME_DIR=", str(binary),
                 "--root", str(base / "state" / "r"), "run", "--bundle", str(b),
                 f"j{int(proc)}"],
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        plain, with_proc = results[False], results[True]
        assert plain.returncode == 1, plain
        assert f"cannot join the pid namespace {path}: Operation not permitted" in plain.stderr
        assert "rootless" in plain.stderr and '"type": "user", "path"' in plain.stderr, plain
        assert with_proc.returncode == 1 and "procfs needs CAP_SYS_ADMIN" in with_proc.stderr
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["pkill", "-KILL", "-P", str(holder.pid)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

# ---- features ----


PROPAGATION = ["shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable",
               "runbindable"]


def test_features_list_propagation_and_namespaces_as_runc(oci_bin, tmp_path):
    """`features` lists every propagation option and the seven namespaces gantry makes, as
    runc's does (runc's list of mount options is longer: gantry lists only those it honours)."""
    feats = json.loads(subprocess.run([str(oci_bin), "--root", str(tmp_path / "s"), "features"],
                                      capture_output=True, text=True, check=True).stdout)
    assert set(PROPAGATION) <= set(feats["mountOptions"])
    assert sorted(feats["linux"]["namespaces"]) == ["cgroup", "ipc", "mount", "network", "pid",
                                                   "user", "uts"]
    for name, binary in runtimes(oci_bin):
        if name == "runc":
            theirs = json.loads(subprocess.run([binary, "features"], capture_output=True,
                                               text=True, check=True).stdout)
            assert set(PROPAGATION) <= set(theirs["mountOptions"])
            assert sorted(theirs["linux"]["namespaces"]) == sorted(feats["linux"]["namespaces"])
