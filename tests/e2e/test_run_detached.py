"""Detached containers (run -d): exec, ps, stop and rm, logs (-f, --tail, a foreground
container's), --rm, a dead monitor, wait, and a detached start that fails."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import Gantry
from run_common import runner  # noqa: F401 (runner: a pytest fixture)


def test_detached_exec_ps_stop_rm(runner):
    name = f"svc{os.getpid()}"
    cid = runner.run("run", "-d", "--name", name, runner.image, "sh", "-c",
                     "echo started; trap 'echo bye; exit 5' TERM; while :; do sleep 0.05; done").out.strip()
    try:
        assert len(cid) == 12
        ps = runner.run("ps", "--json").json()
        mine = [c for c in ps if c["name"] == name]
        assert mine and mine[0]["status"] == "running" and mine[0]["id"] == cid
        # exec joins the container: same PID namespace (sees PID 1), env and cwd overrides
        out = runner.run("exec", "-e", "X=42", "-w", "/tmp", name, "sh", "-c",
                         "echo $X; pwd; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc/self/fd | wc -l").out.split("\n")
        assert out[0] == "42" and out[1] == "/tmp"
        assert out[2].startswith("sh -c echo started")
        assert out[3].strip() == "4"  # 0,1,2 and ls's own: no leaked fds
        assert runner.run("exec", name, "sh", "-c", "exit 9", check=False).code == 9
        # a working directory the container lacks fails the exec (docker's, runc's), made none
        r = runner.run("exec", "-w", "/no/such/dir", name, "true", check=False)
        assert r.code == 125 and "/no/such/dir" in r.err, r
        assert runner.run("exec", name, "test", "-e", "/no/such", check=False).code == 1
        # exec builds only the options its line names too: attached values and = reach them
        out = runner.run("exec", "-eX=1", "--env=Y=2", "-w/tmp", "--user=0", name, "sh", "-c",
                         "echo $X $Y; pwd; id -u").out.split()
        assert out == ["1", "2", "/tmp", "0"]
        r = runner.fail("exec", "--bogus", name, "true", code=2)
        assert "unknown flag `--bogus`" in r.err and "see `gantry exec --help`" in r.err, r
        assert runner.run("exec", "-e", "Z=3", "--", name, "sh", "-c", "echo $Z").out == "3\n"
        help_text = runner.run("exec", "--help").out
        assert "gantry exec [OPTIONS] CONTAINER COMMAND [ARG...]" in help_text
        assert all(n in help_text for n in ("-e,--env", "-w,--workdir", "-u,--user", "-t,--tty"))
        r = runner.run("run", "-d", "--name", name, runner.image, "true", check=False)
        assert r.code == 125 and "in use" in r.err  # docker: run fails with 125
        r = runner.run("rm", name, check=False)
        assert r.code == 5 and "running" in r.err
        # pause: its own cgroup's freezer (as root; rootless where a delegated cgroup v2 gives
        # it one), or refused naming why (rootless on a cgroup v1 host); stop then thaws it
        # after its signal, as docker's
        r = runner.run("pause", name, check=False)
        state = ["inspect", "--format", "{{.State.Status}} {{.State.Paused}}", name]
        if r.code == 0:
            assert runner.run(*state).out == "paused true\n"
            assert "is paused" in runner.fail("exec", name, "true", code=5).err
            runner.run("unpause", name)
            assert runner.run(*state).out == "running false\n"
            runner.run("pause", name)
        else:
            assert runner.user is not None, r  # root always has one
            assert r.code == 7 and "has no cgroup of its own" in r.err, r
        t0 = time.monotonic()
        runner.run("stop", "-t", "5", name)
        assert time.monotonic() - t0 < 4  # the trap made it exit on SIGTERM
        for _ in range(100):
            st = [c for c in runner.run("ps", "-a", "--json").json() if c["name"] == name][0]
            if st["status"] == "exited":
                break
            time.sleep(0.02)
        assert st["status"] == "exited" and st["exit_code"] == 5
        r = runner.run("exec", name, "true", check=False)
        assert r.code == 5 and "not running" in r.err
    finally:
        runner.run("rm", "-f", name, check=False)
    assert [c for c in runner.run("ps", "-a", "--json").json() if c["name"] == name] == []
    assert list((runner.root / "holds").iterdir()) == []
    assert list((runner.root / "containers").iterdir()) == []


def test_stop_kills_after_timeout(runner):
    name = f"stubborn{os.getpid()}"
    runner.run("run", "-d", "--name", name, runner.image, "sh", "-c", "trap '' TERM; sleep 60")
    try:
        t0 = time.monotonic()
        runner.run("stop", "-t", "0.5", name)
        assert 0.4 < time.monotonic() - t0 < 5
    finally:
        runner.run("rm", "-f", name, check=False)


def test_logs_of_a_detached_container(runner):
    name = f"talker{os.getpid()}"
    gate = runner.where / f"gate-{name}"
    gate.mkdir()
    os.chmod(gate, 0o777)
    # writes, waits for the test to open the gate, writes more (some without a newline), exits 3
    script = ("echo out-1; echo err-1 >&2; echo out-2; "
              "while [ ! -e /gate/open ]; do sleep 0.02; done; "
              "for i in 3 4 5; do echo out-$i; sleep 0.1; done; printf tail; exit 3")
    runner.run("run", "-d", "--name", name, "-v", f"{gate}:/gate", runner.image, "sh", "-c", script)
    try:
        for _ in range(250):
            if runner.run("logs", name).out == "out-1\nout-2\n":
                break
            time.sleep(0.02)
        # each stream to its own, as docker's logs
        r = runner.run("logs", name)
        assert (r.out, r.err) == ("out-1\nout-2\n", "err-1\n"), r
        # the last line of the two: out-2, or err-1 when the copier read it after out-2 (two
        # pipes written at once: each stream's order is kept, not their interleaving)
        r = runner.run("logs", "--tail", "1", name)
        assert (r.out, r.err) in (("out-2\n", ""), ("", "err-1\n")), r
        assert runner.run("logs", "-n", "0", name).out == ""
        # -f: what was there, then what comes, and it returns only once the container has exited
        follow = runner.popen("logs", "-f", "-n", "2", name, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        assert follow.poll() is None, follow.communicate()  # still following a live container
        (gate / "open").touch()
        out, err = follow.communicate(timeout=30)
        assert follow.returncode == 0, err
        # the last 2 lines of both streams: err-1 (to stderr) and out-2
        assert out == "out-2\nout-3\nout-4\nout-5\ntail" and err == "err-1\n", (out, err)
        st = [c for c in runner.run("ps", "-a", "--json").json() if c["name"] == name][0]
        assert st["status"] == "exited" and st["exit_code"] == 3
        assert runner.run("logs", "--tail", "all", name).out.endswith("out-5\ntail")
        assert runner.run("logs", "--tail", "2", name).out == "out-5\ntail"
        # each line stamped with its chunk's time (docker's RFC3339NanoFixed, UTC); all of it
        # was written in the last 10 minutes, none of it before then
        r = runner.run("logs", "-t", "--since", "10m", name)
        assert re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out-\d\n){5}\S+ tail",
                            r.out), r
        assert runner.run("logs", "--until", "10m", name).out == ""
        r = runner.fail("logs", "--tail", "-1", name, code=2)
        assert "not a number of lines" in r.err, r
    finally:
        runner.run("rm", "-f", name, check=False)
    r = runner.fail("logs", name, code=3)
    assert "no container named" in r.err, r


def test_logs_follow_ends_when_the_container_is_removed(runner):
    name = f"quiet{os.getpid()}"
    runner.run("run", "-d", "--name", name, runner.image, "sh", "-c", "echo up; sleep 60")
    follow = runner.popen("logs", "-f", name, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        time.sleep(0.3)
        assert follow.poll() is None
        runner.run("rm", "-f", name)
        out, err = follow.communicate(timeout=30)
        assert (follow.returncode, out) == (0, "up\n"), err
    finally:
        follow.kill()
        runner.run("rm", "-f", name, check=False)


def test_logs_of_a_foreground_container_says_nothing_was_kept(runner):
    name = f"fg{os.getpid()}"
    cid = runner.run("run", "-d", "--name", f"{name}-d", runner.image, "sleep", "60").out.strip()
    # a foreground container that is still running (exec into it would work)
    fg = runner.popen("run", "--name", name, runner.image, "sleep", "60",
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(250):
            if any(c["name"] == name for c in runner.run("ps", "--json").json()):
                break
            time.sleep(0.02)
        r = runner.fail("logs", name, code=3)
        assert "started in the foreground" in r.err and "gantry run -d" in r.err, r
        assert runner.run("logs", cid).out == ""  # by ID prefix too; nothing written yet
    finally:
        runner.run("rm", "-f", name, check=False)
        runner.run("rm", "-f", f"{name}-d", check=False)
        fg.wait(timeout=30)


def test_detached_rm_removes_the_container_when_it_exits(runner):
    name = f"gone{os.getpid()}"
    runner.run("run", "-d", "--rm", "--name", name, runner.image, "sh", "-c", "echo bye")
    for _ in range(250):
        if not any(c["name"] == name for c in runner.run("ps", "-a", "--json").json()):
            break
        time.sleep(0.02)
    assert not any(c["name"] == name for c in runner.run("ps", "-a", "--json").json())
    assert list((runner.root / "holds").iterdir()) == []
    assert list((runner.root / "containers").iterdir()) == []
    runner.fail("logs", name, code=3)


def proc_stat(pid):
    """(comm, state, ppid, session) of a process, from /proc/PID/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1]), int(fields[3])


def test_a_container_whose_monitor_died_is_exited_255(runner):
    """kill -9 of a detached container's monitor: the container dies with it, and is reported
    exited with status 255 (unknown, as docker), not 0; the name is free once removed."""
    name = f"orphan{os.getpid()}"
    runner.run("run", "-d", "--name", name, runner.image, "sleep", "60")
    try:
        [c] = [c for c in runner.run("ps", "--json").json() if c["name"] == name]
        monitor = c["pid"]
        own_cgroups = [Path("/sys/fs/cgroup", hierarchy, path.lstrip("/"))
                       for _, hierarchy, path in (line.split(":", 2) for line in
                                                  Path(f"/proc/{c['pid']}/cgroup").read_text()
                                                  .splitlines())
                       if "/gantry-" in path]
        assert own_cgroups or runner.user is not None  # root: one for pause, at least
        while True:  # up from the workload to the monitor: gantry, leading its own session
            monitor = proc_stat(monitor)[2]
            comm, _, _, session = proc_stat(monitor)
            assert monitor > 1, "no monitor found"
            if comm == "gantry" and session == monitor:
                break
        os.kill(monitor, signal.SIGKILL)
        for _ in range(500):
            [c] = [c for c in runner.run("ps", "-a", "--json").json() if c["name"] == name]
            if c["status"] == "exited":
                break
            time.sleep(0.02)
        assert (c["status"], c["exit_code"]) == ("exited", 255), c
        runner.run("rm", name)
        # the cgroup of its own its monitor would have removed (as root here: for pause) goes
        # with it
        assert not [d for d in own_cgroups if d.exists()], own_cgroups
        runner.run("run", "-d", "--name", name, runner.image, "true")
    finally:
        runner.run("rm", "-f", name, check=False)


def test_wait_prints_exit_codes_once_containers_end(runner):
    a, b, c = (f"{x}{os.getpid()}" for x in ("wa", "wb", "wc"))
    gate = runner.where / f"gate-{a}"
    gate.mkdir()
    os.chmod(gate, 0o777)
    runner.run("run", "-d", "--name", a, "-v", f"{gate}:/gate", runner.image, "sh", "-c",
               "while [ ! -e /gate/open ]; do sleep 0.02; done; exit 7")
    runner.run("run", "-d", "--name", b, runner.image, "sh", "-c", "exit 3")
    runner.run("run", "-d", "--name", c, runner.image, "sh", "-c", "trap '' TERM; sleep 60")
    try:
        waiter = runner.popen("wait", a, b, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        time.sleep(0.3)
        assert waiter.poll() is None  # a still runs
        (gate / "open").touch()
        out, err = waiter.communicate(timeout=30)
        assert (waiter.returncode, out) == (0, "7\n3\n"), err
        # ps in docker's words: "Up 2 seconds", "Exited (7) 1 second ago"
        rows = {line.split()[-1]: line for line in runner.run("ps", "-a").out.splitlines()[1:]}
        assert re.search(r"Exited \(7\) (Less than a second|\d+ seconds?) ago", rows[a]), rows
        assert re.search(r"  Up (Less than a second|\d+ seconds?)  ", rows[c]), rows
        # killed by stop's SIGKILL after the timeout: 128 + 9, recorded before stop returns
        runner.run("stop", "-t", "0.2", c)
        assert runner.run("wait", c).out == "137\n"
        r = runner.fail("wait", f"nosuch{os.getpid()}", code=3)
        assert "no container named" in r.err, r
    finally:
        runner.run("rm", "-f", a, b, c, check=False)


def test_wait_on_a_removed_container_says_its_status_is_gone(runner):
    name = f"brief{os.getpid()}"
    runner.run("run", "-d", "--rm", "--name", name, runner.image, "sh", "-c", "sleep 0.5; exit 4")
    r = runner.fail("wait", name, code=3)
    assert "was removed when it ended" in r.err and "without --rm" in r.err, r


def test_detached_start_failure_is_reported(runner):
    r = runner.run("run", "-d", "--name", f"bad{os.getpid()}", runner.image, "no-such-cmd",
                   check=False)
    assert r.code == 127 and "executable file not found" in r.err
    assert "hint: check the command and the image's PATH" in r.err  # the hint travels too
    assert runner.run("ps", "-a", "--json").json() == [] or all(
        c["name"] != f"bad{os.getpid()}" for c in runner.run("ps", "-a", "--json").json())
    assert list((runner.root / "containers").iterdir()) == []


def test_a_users_containers_are_one_set_across_stores(runner):
    """docs/docker-cli.md: a user's containers are one set, as one docker daemon's are, whichever
    store each one's image came from: gantry with another --root lists, stops and removes them,
    and the container's directory goes from the store it was made in."""
    other = Gantry(runner.where / "other-store", user=runner.user, binary=runner.bin)
    other.env = dict(runner.env)
    name = f"across{os.getpid()}"
    runner.run("run", "-d", "--name", name, "-l", f"across={name}", runner.image, "sleep", "60")
    try:
        rows = other.run("ps", "--filter", f"label=across={name}", "--json").json()
        assert [(r["name"], r["status"]) for r in rows] == [(name, "running")], rows
        assert list((runner.root / "containers").iterdir())
        other.run("stop", "-t", "0", name)
        rows = runner.run("ps", "-a", "--filter", f"label=across={name}", "--json").json()
        assert [(r["name"], r["status"]) for r in rows] == [(name, "exited")], rows
        other.run("rm", name)
        assert runner.run("ps", "-a", "--filter", f"label=across={name}", "-q").out == ""
        assert list((runner.root / "containers").iterdir()) == []
        assert list((other.root / "containers").glob("*")) == []
    finally:
        runner.run("rm", "-f", name, check=False)
