"""`gantry oci` against runc 1.1 (issue 37): the same bundle and the same command sequence under
Debian's runc and under gantry oci, comparing exit codes, the gist of stderr, and what the
container and its hooks observed. Errors (exit 1, one line, never docker's 125), delete and kill
of containers in each state, the six hook stages (where each runs, in which namespace, in which
order, with which state, args, env and timeout, and what a failing one does), podman's
oci-hooks.d, and devices listed only in the spec."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import gantry_copy, load_busybox, proc_cmdlines
from ocidiff import ROOT, bundle, edit_config, oci_bin, runtimes  # noqa: F401 (fixtures)
from test_oci_runtime import podman  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not ROOT, reason="compares with runc, which runs as root here")

# A host hook (python3 from the host): records its stage, the state on stdin, its argv and env,
# its mount namespace, then exits with the status it was given (or sleeps: "sleep").
HOOK_PY = r"""
import json, os, sys, time
out, stage, rc = sys.argv[1], sys.argv[2], sys.argv[3]
rec = {"stage": stage, "state": json.load(sys.stdin), "argv": sys.argv[4:],
       "env": {k: v for k, v in os.environ.items() if k != "LC_CTYPE"},  # python's own
       "mntns": os.readlink("/proc/self/ns/mnt")}
with open(os.path.join(out, "hooks.jsonl"), "a") as f:
    f.write(json.dumps(rec) + "\n")
with open(os.path.join(out, "order"), "a") as f:
    f.write(stage + "\n")
if rc == "sleep":
    time.sleep(30)
sys.exit(int(rc) if rc != "sleep" else 0)
"""
# startContainer runs in the container (busybox): the same record, written to /obs.
START_SH = ("cat > /obs/start.json; readlink /proc/self/ns/mnt > /obs/start.mntns; "
            "echo startContainer >> /obs/order; exit $0")


def host_hook(obs, stage, rc=0, timeout=None):
    h = {"path": "/usr/bin/python3",
         "args": ["python3", "-c", HOOK_PY, str(obs), stage, str(rc), "a1", "a 2"],
         "env": ["HOOK_STAGE=" + stage, "ONLY=this"]}
    if timeout:
        h["timeout"] = timeout
    return h


def start_hook(rc=0):
    return {"path": "/bin/sh", "args": ["sh", "-c", START_SH, str(rc)], "env": ["ONLY=start"]}


class Seq:
    """One runtime's run of a command sequence: its binary, state root, container id, and the
    directory its hooks and container write to (bound at /obs)."""

    def __init__(self, name, binary, tmp_path):
        self.name, self.binary = name, binary
        self.root = tmp_path / f"{name}-state"
        self.cid = f"l{os.getpid()}-{tmp_path.name[-10:]}-{name}"
        self.obs = tmp_path / f"obs-{name}"
        self.obs.mkdir()
        os.chmod(self.obs, 0o777)
        self.tmp = tmp_path
        self.results = []

    def __call__(self, *args, keep=True, timeout=60):
        """Runs `RUNTIME --root ROOT ARGS` ("ID": the container id); `create`/`run` write to
        files (the container keeps their stdio). Returns the CompletedProcess, also kept in
        .results unless KEEP is false."""
        args = [self.cid if a == "ID" else str(a) for a in args]
        cmd = [self.binary, "--root", str(self.root), *args]
        if args[0] in ("create", "run"):
            out = self.tmp / f"{self.name}-{len(self.results)}.out"
            with open(out, "w") as f:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                   timeout=timeout)
            p = subprocess.CompletedProcess(cmd, p.returncode, "", out.read_text())
        else:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        if keep:
            self.results.append(p)
        return p

    def status(self):
        p = self("state", "ID", keep=False)
        return json.loads(p.stdout)["status"] if p.returncode == 0 else None

    def wait_status(self, want, within=15):
        deadline = time.time() + within
        while (st := self.status()) != want:
            assert time.time() < deadline, f"{self.name}: {st}, not {want}"
            time.sleep(0.05)

    def hooks(self):
        f = self.obs / "hooks.jsonl"
        return [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []

    def order(self):
        f = self.obs / "order"
        return f.read_text().split() if f.exists() else []

    def pid(self):
        return json.loads(self("state", "ID", keep=False).stdout)["pid"]


def each_runtime(oci_bin, bundle, tmp_path, edit, body, tag=""):
    """For runc, then gantry oci: the bundle's config edited by EDIT(cfg, seq) (with /obs bound
    from seq.obs and no terminal), then BODY(seq). Returns {name: seq}; containers are deleted
    with -f after."""
    out = {}
    for name, binary in runtimes(oci_bin):
        seq = Seq(tag + name, binary, tmp_path)

        def apply(cfg):
            cfg["process"]["terminal"] = False
            cfg["mounts"].append({"destination": "/obs", "type": "bind",
                                  "source": str(seq.obs), "options": ["rbind", "rw"]})
            if edit:
                edit(cfg, seq)
        edit_config(bundle, apply)
        try:
            body(seq)
        finally:
            subprocess.run([binary, "--root", str(seq.root), "delete", "-f", seq.cid],
                           capture_output=True, timeout=60)
        out[name] = seq
    return out


def processes_naming(word):
    """The pids whose command line contains WORD (gantry's container process keeps create's)."""
    return [pid for pid, cmdline in proc_cmdlines()
            if word in cmdline.decode(errors="replace")]


def no_125(p):
    assert "125 " not in p.stderr and p.returncode != 125, p


def gist(p, *words):
    """P's stderr mentions one of WORDS (case-insensitive)."""
    low = p.stderr.lower()
    assert any(w.lower() in low for w in words), p


# ---- 1. errors ----

def test_errors_exit_1_with_one_line_as_runc(oci_bin, bundle, tmp_path):
    """Each error path exits as runc does (1), one message naming the problem, no "125 "."""
    bad = tmp_path / "bad-bundle"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")

    def body(s):
        s("state", "ID")
        s("start", "ID")
        s("kill", "ID", "KILL")
        s("delete", "ID")
        s("create", "--bundle", tmp_path / "no-such-bundle", "ID")
        s("create", "--bundle", bad, "ID")
        s("create", "--bundle", bundle, "ID")  # process.args: a program that is not there
        s("state", "ID")
    runs = each_runtime(oci_bin, bundle, tmp_path,
                        lambda cfg, s: cfg["process"].update(args=["no-such-program"]), body)
    words = [("does not exist",), ("does not exist",), ("does not exist",), ("does not exist",),
             ("no such file", "no-such-bundle"), ("json", "invalid character"),
             ("executable file not found",), ("does not exist",)]
    for name, s in runs.items():
        codes = [p.returncode for p in s.results]
        assert codes == [1] * len(words), (name, s.results)
        for p, w in zip(s.results, words):
            gist(p, *w)
            no_125(p)
            assert p.stderr.strip(), p


def test_start_of_a_running_container_and_a_usage_error(oci_bin, bundle, tmp_path):
    def body(s):
        assert s("create", "--bundle", bundle, "ID").returncode == 0
        assert s("start", "ID").returncode == 0
        s.wait_status("running")
        again = s("start", "ID")
        assert again.returncode == 1 and "already running" in again.stderr, again
        no_125(again)
    each_runtime(oci_bin, bundle, tmp_path,
                 lambda cfg, s: cfg["process"].update(args=["sleep", "60"]), body)
    # usage errors exit 1 too under runc 1.1 (its urfave/cli errors go through fatal())
    for name, binary in runtimes(oci_bin):
        for args, words in ((["delete"], ("argument", "required")),
                            (["create", "--bogus", "x"], ("bogus",)),
                            (["state", "a/b"], ("id format",))):
            p = subprocess.run([binary, "--root", str(tmp_path / "u"), *args],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 1, (name, args, p)
            gist(p, *words)
            no_125(p)


def test_exec_errors_exit_255_as_runc(oci_bin, bundle, tmp_path):
    """runc's exec is the exception: its failures exit 255 ("exec failed: ..."), a usage error
    1, and a process that ran its own status."""
    def body(s):
        s("exec", "ID", "true")                     # no such container: 255
        assert s("run", "-d", "--bundle", bundle, "ID").returncode == 0
        s("exec", "ID", "no-such-program")          # 255
        s("exec", "ID", "sh", "-c", "exit 3")       # 3
        s("exec")                                   # usage: 1
    runs = each_runtime(oci_bin, bundle, tmp_path,
                        lambda cfg, s: cfg["process"].update(args=["sleep", "60"]), body)
    for name, s in runs.items():
        r = s.results
        assert [r[0].returncode, r[2].returncode, r[3].returncode, r[4].returncode] == \
            [255, 255, 3, 1], (name, r)
        gist(r[0], "does not exist")
        gist(r[2], "executable file not found")
        assert "exec failed" in r[2].stderr, r[2]
        for p in r:
            no_125(p)


# ---- 2. delete and kill ----

def test_delete_and_kill_in_each_state_as_runc(oci_bin, bundle, tmp_path):
    def body(s):
        s("delete", "-f", "ID")                     # unknown, --force: 0
        s("delete", "ID")                           # unknown: 1
        s("create", "--bundle", bundle, "ID")
        s("delete", "ID")                           # created: killed and removed, 0
        s("state", "ID")                            # gone: 1
        s("create", "--bundle", bundle, "ID")
        s("start", "ID")
        s.wait_status("running")
        s("delete", "ID")                           # running: refused, 1
        s("kill", "ID", "KILL")
        s.wait_status("stopped")
        s("kill", "ID", "TERM")                     # stopped: 1, not running
        s("kill", "--all", "ID", "TERM")            # stopped, --all: as runc
        s("delete", "ID")                           # stopped: 0
        s("delete", "-f", "ID")                     # gone, --force: 0
    runs = each_runtime(oci_bin, bundle, tmp_path,
                        lambda cfg, s: cfg["process"].update(args=["sleep", "60"]), body)
    steps = {n: [(" ".join(a.replace(s.cid, "ID") for a in p.args[3:]), p.returncode)
                 for p in s.results] for n, s in runs.items()}
    g = runs["gantry"].results
    assert [p.returncode for p in g] == [0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0], steps
    assert "does not exist" in g[1].stderr and "does not exist" in g[4].stderr, g
    assert "not stopped" in g[7].stderr and "not running" in g[9].stderr, g
    for p in g:
        no_125(p)
    if "runc" in runs:
        assert steps["gantry"] == steps["runc"], steps


# ---- 3. hooks ----

def all_hooks(cfg, s):
    cfg["annotations"] = {"org.example.test": "yes"}
    cfg["process"]["args"] = ["sh", "-c", "echo program >> /obs/order"]
    cfg["hooks"] = {st: [host_hook(s.obs, st)] for st in
                    ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
    cfg["hooks"]["startContainer"] = [start_hook()]


def test_hooks_six_stages_order_namespace_and_state_as_runc(oci_bin, bundle, tmp_path):
    host_mnt = os.readlink("/proc/self/ns/mnt")

    def body(s):
        assert s("create", "--bundle", bundle, "ID").returncode == 0, s.results[-1]
        s.after_create = s.order()
        s.init_pid = s.pid()
        assert s("start", "ID").returncode == 0, s.results[-1]
        s.wait_status("stopped")
        s.after_start = s.order()
        assert s("delete", "ID").returncode == 0, s.results[-1]
    runs = each_runtime(oci_bin, bundle, tmp_path, all_hooks, body)

    def observed(s):
        recs = {r["stage"]: r for r in s.hooks()}
        start = json.loads((s.obs / "start.json").read_text())
        start_mnt = (s.obs / "start.mntns").read_text().strip()
        view = {}
        for stage, r in recs.items():
            st = r["state"]
            pid = st.get("pid", 0)
            view[stage] = {"id": st["id"] == s.cid, "status": st["status"],
                           "pid": "init" if pid == s.init_pid else pid,
                           "bundle": st["bundle"], "annotations": st.get("annotations"),
                           "argv": r["argv"], "env": r["env"],
                           "host mntns": r["mntns"] == host_mnt}
        view["startContainer"] = {"id": start["id"] == s.cid, "status": start["status"],
                                  "pid": start["pid"], "bundle": start["bundle"],
                                  "annotations": start.get("annotations"),
                                  "host mntns": start_mnt == host_mnt}
        return {"create": s.after_create, "start": s.after_start, "all": s.order(),
                "stages": view}
    seen = {n: observed(s) for n, s in runs.items()}
    g = seen["gantry"]
    assert g["create"] == ["prestart", "createRuntime", "createContainer", "poststart"], g
    assert g["all"][4:] == ["startContainer", "program", "poststop"], g
    assert g["stages"]["prestart"]["host mntns"] and not g["stages"]["createContainer"][
        "host mntns"] and not g["stages"]["startContainer"]["host mntns"], g
    assert g["stages"]["prestart"]["env"] == {"HOOK_STAGE": "prestart", "ONLY": "this"}, g
    assert g["stages"]["prestart"]["argv"] == ["a1", "a 2"], g
    if "runc" in seen:
        assert g == seen["runc"], json.dumps(seen, indent=1)


@pytest.mark.parametrize("stage", ["prestart", "createRuntime", "createContainer", "poststart"])
def test_a_failing_create_hook_fails_the_create_as_runc(oci_bin, bundle, tmp_path, stage):
    def edit(cfg, s):
        all_hooks(cfg, s)
        cfg["process"]["args"] = ["sleep", "60"]
        cfg["hooks"][stage] = [host_hook(s.obs, stage, rc=3)]

    def body(s):
        s.create = s("create", "--bundle", bundle, "ID")
        s.state = s("state", "ID")
    runs = each_runtime(oci_bin, bundle, tmp_path, edit, body)
    view = {n: (s.create.returncode, s.state.returncode, s.order()) for n, s in runs.items()}
    g = runs["gantry"]
    assert g.create.returncode == 1 and stage in g.create.stderr, g.create
    no_125(g.create)
    assert g.state.returncode == 1 and "does not exist" in g.state.stderr  # nothing left
    assert not processes_naming(g.cid), "a process of the container is still there"
    if "runc" in view:
        assert view["gantry"] == view["runc"], view


def test_a_failing_start_container_hook_as_runc(oci_bin, bundle, tmp_path):
    def edit(cfg, s):
        all_hooks(cfg, s)
        cfg["hooks"]["startContainer"] = [start_hook(rc=5)]

    def body(s):
        assert s("create", "--bundle", bundle, "ID").returncode == 0
        s.start = s("start", "ID")
        s.wait_status("stopped")
        s.delete = s("delete", "ID")
    runs = each_runtime(oci_bin, bundle, tmp_path, edit, body)
    view = {n: (s.start.returncode, s.delete.returncode, s.order()) for n, s in runs.items()}
    g = runs["gantry"]
    assert "program" not in g.order(), g.order()
    no_125(g.start)
    if "runc" in view:
        assert view["gantry"] == view["runc"], view


def test_a_failing_poststop_hook_is_a_warning_as_runc(oci_bin, bundle, tmp_path):
    def edit(cfg, s):
        all_hooks(cfg, s)
        cfg["hooks"]["poststop"] = [host_hook(s.obs, "poststop", rc=4)]

    def body(s):
        assert s("create", "--bundle", bundle, "ID").returncode == 0
        assert s("start", "ID").returncode == 0
        s.wait_status("stopped")
        s.delete = s("delete", "ID")
        s.state = s("state", "ID")
    runs = each_runtime(oci_bin, bundle, tmp_path, edit, body)
    for name, s in runs.items():
        assert s.delete.returncode == 0 and "hook" in s.delete.stderr, (name, s.delete)
        assert s.state.returncode == 1, (name, s.state)
        assert s.order()[-1] == "poststop", (name, s.order())


def test_a_hook_past_its_timeout_is_killed_and_fails_as_runc(oci_bin, bundle, tmp_path):
    def edit(cfg, s):
        cfg["process"]["args"] = ["true"]
        cfg["hooks"] = {"prestart": [host_hook(s.obs, "prestart", rc="sleep", timeout=1)]}

    def body(s):
        t0 = time.monotonic()
        s.create = s("create", "--bundle", bundle, "ID")
        s.took = time.monotonic() - t0
    runs = each_runtime(oci_bin, bundle, tmp_path, edit, body)
    for name, s in runs.items():
        assert s.create.returncode == 1 and s.took < 15, (name, s.create, s.took)
        gist(s.create, "timeout", "timed out")
        no_125(s.create)


def test_podman_runs_a_hook_from_its_hooks_dir(podman, g, mk, tmp_path):  # noqa: F811
    """podman --hooks-dir DIR with an oci-hooks.d file: gantry oci runs the hook it injects."""
    load_busybox(g, mk, tmp_path)
    podman("load", "-i", tmp_path / "bb.tar")
    hooks = tmp_path / "hooks.d"
    hooks.mkdir()
    marker = tmp_path / "marker"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\ncat > {marker}\n")
    script.chmod(0o755)
    (hooks / "marker.json").write_text(json.dumps({
        "version": "1.0.0", "hook": {"path": str(script)}, "when": {"always": True},
        "stages": ["prestart"]}))
    r = podman("--hooks-dir", hooks, "run", "--rm", "sample:latest", "echo", "ran")
    assert r.stdout == "ran\n"
    state = json.loads(marker.read_text())
    assert state["status"] == "creating" and state["pid"] > 0, state


# ---- 4. devices listed only in the spec ----

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
