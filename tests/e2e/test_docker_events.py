"""`gantry events` (issue 54, section 1): container lifecycle events that a script follows while
other gantry processes start and end containers, with no daemon (a journal in the runtime
directory, records/events.hpp). What the Dev Containers CLI does with it: it starts
`events --format {{json .}} --filter event=start` before `run -d -l ...` and waits for a line
whose Action is start and whose Actor.Attributes carry its labels; before `rm -f` it follows
`--filter container=ID --filter event=destroy`. As root every test's containers share
/run/gantry: every query here is narrowed by this file's names or label."""
import json
import os
import re
import select
import subprocess
import time

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage

TOKEN = f"ev{os.getpid()}"


@pytest.fixture(scope="module")
def g(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("docker-events")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    return g


def follow(g, *args):
    return subprocess.Popen(g.cmd("events", *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=g.environ(), text=True)


def read_lines(p, n, timeout=20):
    """N lines from P's output, or fails naming what came."""
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"got {lines}, expected {n} lines"
        ready, _, _ = select.select([p.stdout], [], [], left)
        if ready:
            line = p.stdout.readline()
            assert line, f"events ended: {lines} {p.stderr.read()}"
            lines.append(line)
    return lines


def since_now(g, name, start, *extra):
    return g.run("events", "--since", f"{start:.9f}", "--until", f"{time.time():.9f}",
                 "--filter", f"container={name}", *extra).out


def test_follow_sees_a_start_with_its_labels_as_the_dev_containers_cli_waits(g):
    name = f"{TOKEN}-follow"
    # --since: what happens from here on, however late the follower reads its first line (the
    # CLI starts it just before `run`, and wins that race by the run's own start time)
    p = follow(g, "--since", f"{time.time():.9f}", "--format", "{{json .}}", "--filter",
               "event=start", "--filter", f"label=devcontainer.local_folder={TOKEN}")
    try:
        g.run("run", "-d", "--name", name, "-l", f"devcontainer.local_folder={TOKEN}",
              "-l", "other=x", "sample:latest", "sleep", "60")
        [line] = read_lines(p, 1)
        ev = json.loads(line)
        assert (ev["status"], ev["Action"], ev["Type"], ev["scope"]) == (
            "start", "start", "container", "local")
        cid = g.run("inspect", "--format", "{{.Id}}", name).out.strip()
        assert ev["id"] == ev["Actor"]["ID"] == cid
        attrs = ev["Actor"]["Attributes"]
        assert attrs["name"] == name and attrs["image"] == "sample:latest" == ev["from"]
        assert attrs["devcontainer.local_folder"] == TOKEN and attrs["other"] == "x"
        assert abs(ev["timeNano"] / 1e9 - time.time()) < 60 and ev["time"] == ev["timeNano"] // 10**9
        # `rm -f` as the CLI does it, followed for the destroy
        d = follow(g, "--since", f"{time.time():.9f}", "--format", "{{json .}}", "--filter",
                   f"container={cid}", "--filter", "event=destroy")
        try:
            g.run("rm", "-f", name)
            [line] = read_lines(d, 1)
            assert json.loads(line)["Action"] == "destroy"
        finally:
            d.kill()
            d.wait()
    finally:
        p.kill()
        p.wait()
        g.run("rm", "-f", name, check=False)


def test_a_runs_life_in_order_with_since_and_until(g):
    name = f"{TOKEN}-life"
    start = time.time()
    g.run("run", "--rm", "--name", name, "sample:latest", "sh", "-c", "exit 3", check=False)
    out = since_now(g, name, start, "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}")
    assert out == "create <no value>\nstart <no value>\ndie 3\ndestroy <no value>\n", out
    # docker's line without --format: local time with nanoseconds, type, action, ID, attributes
    lines = since_now(g, name, start).splitlines()
    assert len(lines) == 4, lines
    pat = (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container die [0-9a-f]{12,64} "
           rf"\(exitCode=3, image=sample:latest, name={name}\)$")
    assert re.match(pat, lines[2]), lines
    # docker's Go field names work in templates as in docker
    cid = lines[0].split()[3]
    assert since_now(g, name, start, "--filter", "event=die", "--format",
                     "{{.Status}} {{.Type}} {{.From}} {{.ID}}") == \
        f"die container sample:latest {cid}\n"
    # an anonymous run is journalled too (found by image and event)
    t = time.time()
    g.run("run", "--rm", "sample:latest", "true")
    out = g.run("events", "--since", f"{t:.9f}", "--until", f"{time.time():.9f}", "--filter",
                "image=sample", "--filter", "event=create", "--filter", "event=destroy",
                "--format", "{{.Action}}").out.split()
    assert out.count("create") >= 1 and out.count("destroy") >= 1, out


def test_stop_and_rm_record_kill_die_stop_destroy_once(g):
    name = f"{TOKEN}-stop"
    start = time.time()
    what = ("{{.Action}}{{with .Actor.Attributes.signal}} signal={{.}}{{end}}"
            "{{with .Actor.Attributes.exitCode}} exit={{.}}{{end}}")
    # a workload that ends on SIGTERM (a shell as PID 1 ignores it unless it traps it)
    g.run("run", "-d", "--rm", "--name", name, "sample:latest", "sh", "-c",
          "trap 'exit 7' TERM; echo trapped; while :; do sleep 0.1; done")
    g.wait_logged(name, "trapped")
    g.run("stop", "-t", "20", name)
    out = since_now(g, name, start, "--format", what).splitlines()
    # the --rm monitor removes it once it died, before `stop` returns: one destroy
    assert out == ["create", "start", "kill signal=15", "die exit=7", "destroy", "stop"], out
    # a workload that ignores SIGTERM: SIGKILL after the timeout
    name2 = f"{TOKEN}-kill"
    start = time.time()
    g.run("run", "-d", "--name", name2, "sample:latest", "sleep", "60")
    g.run("stop", "-t", "0.2", name2)
    out = since_now(g, name2, start, "--format", what).splitlines()
    assert out == ["create", "start", "kill signal=15", "kill signal=9", "die exit=137",
                   "stop"], out
    start = time.time()
    g.run("rm", name2)
    assert since_now(g, name2, start, "--format", what).splitlines() == ["destroy"]
    # rm -f of a --rm container: its monitor and rm race to remove it; one destroy
    name3 = f"{TOKEN}-rm"
    start = time.time()
    g.run("run", "-d", "--rm", "--name", name3, "sample:latest", "sleep", "60")
    g.run("rm", "-f", name3)
    actions = since_now(g, name3, start, "--format", "{{.Action}}").split()
    assert actions.count("destroy") == 1 and actions[:2] == ["create", "start"], actions
    assert "kill" in actions and "die" in actions, actions


def test_exec_records_create_start_and_die_with_its_id_and_status(g):
    """docker's exec events: "exec_create: CMD", "exec_start: CMD", then exec_die with the
    exitCode, all three with one execID; --filter event=exec_start matches the actions it begins
    (docker's fuzzy match for exec_create, exec_start and health_status), exec_die exactly."""
    name = f"{TOKEN}-exec"
    g.run("run", "-d", "--name", name, "sample:latest", "sleep", "60")
    try:
        start = time.time()
        assert g.run("exec", name, "sh", "-c", "exit 3", check=False).code == 3
        assert g.run("exec", name, "no-such-program", check=False).code == 127
        fmt = "{{.Action}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}"
        rows = [r.split("|") for r in since_now(g, name, start, "--format", fmt).splitlines()]
        assert [r[0] for r in rows] == ["exec_create: sh -c exit 3", "exec_start: sh -c exit 3",
                                        "exec_die", "exec_create: no-such-program",
                                        "exec_start: no-such-program", "exec_die"], rows
        assert [r[2] for r in rows if r[0] == "exec_die"] == ["3", "127"], rows
        first, second = {r[1] for r in rows[:3]}, {r[1] for r in rows[3:]}
        assert len(first) == 1 and len(second) == 1 and first != second, rows
        assert re.fullmatch(r"[0-9a-f]{64}", first.pop()), rows
        only = since_now(g, name, start, "--filter", "event=exec_start", "--format",
                         "{{.Action}}").splitlines()
        assert only == ["exec_start: sh -c exit 3", "exec_start: no-such-program"], only
        dies = since_now(g, name, start, "--filter", "event=exec_die", "--format",
                         "{{.Action}}").splitlines()
        assert dies == ["exec_die", "exec_die"], dies
    finally:
        g.run("rm", "-f", name, check=False)


def test_a_bad_filter_or_time_is_refused_by_name(g):
    r = g.fail("events", "--filter", "colour=red", code=2)
    assert "invalid filter 'colour' for events" in r.err and "container" in r.err, r.err
    r = g.fail("events", "--since", "yesterday", code=2)
    assert "--since yesterday: failed to parse value as time or duration" in r.err, r.err
    r = g.fail("events", "--format", "{{.Nope}}", "--since", "1", "--until", "2", code=2)
    assert "no field .Nope in an event" in r.err, r.err
    # docker's other kinds of events are accepted: gantry records none of them (but network
    # events: test_networks_addresses.py)
    assert g.run("events", "--filter", "type=volume", "--since", "0",
                 "--until", f"{time.time():.3f}").out == ""
    assert g.run("system", "events", "--since", "0", "--until", "1").out == ""


def test_an_unnamed_run_journals_create_start_die_destroy_in_order(rootless):
    """A run nothing names (no --name, label or --cidfile) journals its create together with its
    start once its program runs, off the start's path, stamped when the container was created;
    one whose program cannot start journals create, then destroy, as before."""
    u = rootless
    load_busybox(u, mkimage, u.base)
    xdg = u.base / "xdg"  # a runtime directory of this test's own: only these runs' events
    xdg.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(xdg, u.user.pw_uid, u.user.pw_gid)
    u.env["XDG_RUNTIME_DIR"] = str(xdg)
    start = time.time()
    u.run("run", "sample:latest", "sh", "-c", "exit 3", check=False)
    u.fail("run", "sample:latest", "no-such-program", code=127)
    out = u.run("events", "--since", f"{start:.9f}", "--until", f"{time.time():.9f}",
                "--format", "{{.Action}} {{.ID}} {{.TimeNano}}").out.split("\n")
    rows = [line.split() for line in out if line]
    assert [r[0] for r in rows] == ["create", "start", "die", "destroy", "create", "destroy"], rows
    assert len({r[1] for r in rows[:4]}) == 1 and rows[4][1] == rows[5][1] != rows[0][1], rows
    times = [int(r[2]) for r in rows]
    assert times == sorted(times) and times[0] < times[1], rows


def test_rootless_events_are_the_users_own(g, rootless):
    """An unprivileged user's events are in their own runtime directory: root's journal does
    not have them (nor could that user read root's)."""
    u = rootless
    load_busybox(u, mkimage, u.base)
    name = f"{TOKEN}-user"
    start = time.time()
    u.run("run", "--rm", "--name", name, "sample:latest", "true")
    until = f"{time.time():.9f}"
    out = u.run("events", "--since", f"{start:.9f}", "--until", until, "--filter",
                f"container={name}", "--format", "{{.Action}}").out.split()
    assert out == ["create", "start", "die", "destroy"], out
    if os.geteuid() == 0:
        assert g.run("events", "--since", f"{start:.9f}", "--until", until, "--filter",
                     f"container={name}").out == ""
