"""`gantry oci` against runc 1.1 (issue 37): the same bundle and the same command sequence under
Debian's runc and under gantry oci, comparing exit codes, the gist of stderr, and what the
container and its hooks observed. Errors (exit 1, one line, never docker's 125), delete and kill
of containers in each state, the six hook stages (where each runs, in which namespace, in which
order, with which state, args, env and timeout, and what a failing one does) and podman's
oci-hooks.d. Devices listed only in the spec: test_oci_devices.py."""
import json
import os
import subprocess
import time

import pytest

from conftest import load_busybox, proc_cmdlines
from ocidiff import ROOT, bundle, each_runtime, gist, no_125, oci_bin, runtimes  # noqa: F401
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


def processes_naming(word):
    """The pids whose command line contains WORD (gantry's container process keeps create's)."""
    return [pid for pid, cmdline in proc_cmdlines()
            if word in cmdline.decode(errors="replace")]


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
