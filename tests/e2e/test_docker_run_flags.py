"""The run and exec flags the Dev Containers CLI and docker scripts pass (issue 54):
`run -a STDOUT -a STDERR --sig-proxy=false --mount type=bind,...,consistency=cached`, docker's
--mount grammar (bind, tmpfs, named and anonymous volumes), --cidfile, --stop-signal/--stop-timeout,
--health-* (a checker per container), anonymous volumes, --volumes-from, --image-volume, --restart, and `exec -i CONTAINER /bin/sh` kept open with commands
written into it, as the Dev Containers CLI does."""
import os
import signal
import subprocess
import time

from run_common import runner  # noqa: F401 (a pytest fixture)


def ps_entry(gan, name):
    mine = [c for c in gan.run("ps", "-a", "--json").json() if c["name"] == name]
    return mine[0] if mine else None


def wait_status(gan, name, status, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = ps_entry(gan, name)
        if st and st["status"] == status:
            return st
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {status}: {ps_entry(gan, name)}")


def test_attach_names_the_streams_the_container_gets(runner):
    script = "cat; echo out; echo err >&2"
    r = runner.run("run", "--rm", runner.image, "sh", "-c", script, input="typed\n")
    assert r.out == "typed\nout\n" and r.err.endswith("err\n")
    # the Dev Containers CLI's: stdin left out (the container reads /dev/null), in any case
    r = runner.run("run", "--rm", "-a", "STDOUT", "--attach=stderr", runner.image, "sh", "-c",
                   script, input="typed\n")
    assert r.out == "out\n" and r.err.endswith("err\n"), r
    r = runner.run("run", "--rm", "-a", "STDIN", "-a", "STDERR", runner.image, "sh", "-c", script,
                   input="typed\n")
    assert r.out == "" and r.err.endswith("err\n"), r
    r = runner.fail("run", "--rm", "-a", "STDOUT", runner.image, "true", code=125)
    assert "STDERR" in r.err and "2>/dev/null" in r.err, r
    r = runner.fail("run", "-d", "-a", "STDERR", runner.image, "true", code=2)
    assert "-a/--attach and -d/--detach" in r.err, r
    r = runner.fail("run", "-a", "STDIO", runner.image, "true", code=2)
    assert '"STDIO"' in r.err, r


def test_mount_grammar(runner):
    d = runner.where / "ws"
    d.mkdir()
    (d / "f").write_text("hello\n")
    os.chmod(d, 0o777)
    bind = f"type=bind,source={d},target=/workspaces/ws,consistency=cached"
    r = runner.run("run", "--rm", "--mount", bind, "--mount",
                   "type=tmpfs,target=/scratch,tmpfs-mode=1770,tmpfs-size=1m", runner.image,
                   "sh", "-c", "cat /workspaces/ws/f; touch /workspaces/ws/new; "
                   "stat -c %a /scratch; df -k /scratch | tail -1")
    lines = r.out.splitlines()
    assert lines[0] == "hello" and lines[1] == "1770" and lines[2].split()[1] == "1024", r
    assert (d / "new").exists()
    r = runner.run("run", "--rm", "--mount", bind + ",readonly", runner.image, "sh", "-c",
                   "touch /workspaces/ws/x 2>/dev/null && echo wrote || echo refused")
    assert r.out == "refused\n"
    # docker's default type, volume: a named volume made on first use, kept between runs
    vol = f"flagsvol{os.getpid()}"
    try:
        runner.run("run", "--rm", "--mount", f"source={vol},target=/cache", runner.image, "sh",
                   "-c", "echo kept > /cache/f")
        r = runner.run("run", "--rm", "-v", f"{vol}:/c:ro", runner.image, "sh", "-c",
                       "cat /c/f; touch /c/x 2>/dev/null || echo read-only")
        assert r.out == "kept\nread-only\n", r
    finally:
        runner.run("volume", "rm", vol, check=False)
    # no source: an anonymous volume, there for the run and gone with --rm (docker's)
    before = runner.run("volume", "ls", "-q").out.split()
    r = runner.run("run", "--rm", "--mount", "type=volume,target=/cache", runner.image, "sh",
                   "-c", "touch /cache/f && grep -c ' /cache ' /proc/mounts")
    assert r.out == "1\n", r
    assert runner.run("volume", "ls", "-q").out.split() == before
    r = runner.fail("run", "--rm", "--mount", bind + ",colour=blue", runner.image, "true",
                    code=2)
    assert '"colour"' in r.err, r


def test_cidfile_and_stop_signal_and_timeout(runner):
    name = f"flags{os.getpid()}"
    cid = runner.where / "cid"
    try:
        out = runner.run("run", "-d", "--name", name, "--cidfile", cid, "--stop-signal",
                         "SIGUSR1", "--stop-timeout", "1", runner.image, "sh", "-c",
                         "trap 'exit 7' USR1; echo trapped; while :; do sleep 0.05; done").out.strip()
        assert cid.read_text() == out
        r = runner.run("inspect", "--format", "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
                       name)
        assert r.out == "SIGUSR1 1\n", r
        r = runner.fail("run", "--rm", "--cidfile", cid, runner.image, "true", code=125)
        assert "exists" in r.err and str(cid) in r.err, r
        runner.wait_logged(name, "trapped")
        t0 = time.monotonic()
        runner.run("stop", name)
        assert time.monotonic() - t0 < 3
        st = wait_status(runner, name, "exited")
        assert st["exit_code"] == 7  # USR1, not TERM, reached its trap
        r = runner.fail("run", "--rm", "--stop-signal", "SIGNOPE", runner.image, "true", code=2)
        assert "SIGNOPE" in r.err
    finally:
        runner.run("rm", "-f", name, check=False)


def test_health_checks_run_by_a_checker_of_the_container(runner, mk):
    """docker's health checks without a daemon (issue 76): the image's HEALTHCHECK with
    --health-* over it, run through `gantry exec` at the interval; starting, healthy, then
    unhealthy after `retries` failures in a row, shown by ps and inspect, journalled as
    health_status events; the checker ends with the container."""
    img = mk.busybox_image(config_extra={"Healthcheck": {
        "Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 30_000_000_000, "Retries": 2}})
    archive = runner.where / "health.tar"
    mk.write_docker_archive(archive, [(img, ["healthimg:1"])])
    os.chmod(archive, 0o644)
    runner.run("load", archive)
    name = f"health{os.getpid()}"

    def health():
        return runner.run("inspect", name, "--format", "{{json .State.Health}}").json()

    def wait_for(status):
        end = time.monotonic() + 20
        while time.monotonic() < end:
            h = health()
            if h["Status"] == status:
                return h
            time.sleep(0.05)
        raise AssertionError(f"never {status}: {h}")
    try:
        # the image's test, its interval made short by the flag; ok after 0.5 s, gone at 1.5 s
        # (failures in the start period do not count before a test passed: no unhealthy first)
        runner.run("run", "-d", "--name", name, "--health-interval", "100ms",
                   "--health-start-period", "30s", "healthimg:1",
                   "sh", "-c", "sleep 0.5; echo fine > /tmp/ok; sleep 1; rm /tmp/ok; sleep 60")
        h = wait_for("healthy")
        assert h["FailingStreak"] == 0 and h["Log"][-1]["Output"] == "fine\n", h
        status = runner.run("ps", "--filter", f"name={name}", "--format", "{{.Status}}").out
        assert status.endswith("(healthy)\n"), status
        h = wait_for("unhealthy")
        assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1, h
        config = runner.run("inspect", name, "--format", "{{json .Config.Healthcheck}}").json()
        assert config["Test"] == ["CMD-SHELL", "cat /tmp/ok"] and config["Retries"] == 2
        events = runner.run("events", "--since", "1m", "--until", "0s", "--filter",
                            f"container={name}", "--format", "{{.Action}}").out.split("\n")
        assert [e for e in events if e.startswith("health_status")] == [
            "health_status: healthy", "health_status: unhealthy"], events
        cid = runner.run("inspect", name, "--format", "{{.Id}}").out.strip()
        runner.run("rm", "-f", name)
        # its checker ends with it (woken by the container's end, not at its next interval)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            left = subprocess.run(["pgrep", "-f", f"__health {cid}"], capture_output=True,
                                  text=True).stdout
            if not left:
                break
            time.sleep(0.05)
        assert left == "", left
    finally:
        runner.run("rm", "-f", name, check=False)
    runner.run("run", "--rm", "--no-healthcheck", "healthimg:1", "true")
    r = runner.fail("run", "--rm", "--health-cmd", "true", runner.image, "true", code=2)
    assert "--name" in r.err, r
    r = runner.fail("run", "--rm", "--health-interval", "often", runner.image, "true", code=2)
    assert "often" in r.err, r


def test_sig_proxy(runner):
    name = f"sigp{os.getpid()}"
    # (PID 1 of its namespace: a signal without a handler does not end sh)
    script = ("trap 'echo got-int; exit 3' INT; trap 'exit 4' TERM; echo up; "
              "while :; do sleep 0.05; done")
    # default: SIGINT to gantry reaches the container
    for ignored in ([], [signal.SIGINT, signal.SIGQUIT, signal.SIGHUP]):
        # also when gantry's caller ignores it (a shell's `gantry run ... &` ignores SIGINT and
        # SIGQUIT, nohup SIGHUP), as docker's CLI forwards it then; and the workload starts with
        # no signal ignored, as a container docker starts does (it was SIGINT's loss under xdist)
        p = runner.popen("run", "--rm", runner.image, "sh", "-c",
                         "grep SigIgn /proc/self/status; " + script, stdout=subprocess.PIPE,
                         text=True, preexec_fn=lambda sigs=ignored: [signal.signal(s, signal.SIG_IGN)
                                                                     for s in sigs])
        try:
            assert p.stdout.readline().split() == ["SigIgn:", "0" * 16], ignored
            assert p.stdout.readline() == "up\n"
            p.send_signal(signal.SIGINT)
            assert p.wait(timeout=10) == 3 and p.stdout.read() == "got-int\n"
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    # --sig-proxy=false: gantry keeps the signal; the container goes on until stopped
    p = runner.popen("run", "--name", name, "--sig-proxy=false", "-a", "STDOUT", "-a", "STDERR",
                     runner.image, "sh", "-c", script, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "up\n"
        p.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert p.poll() is None and ps_entry(runner, name)["status"] == "running"
        t0 = time.monotonic()
        runner.run("stop", "-t", "5", name)
        assert time.monotonic() - t0 < 3
        assert p.wait(timeout=10) == 4 and p.stdout.read() == ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        runner.run("rm", "-f", name, check=False)


def test_exec_i_keeps_a_shell_open(runner):
    name = f"exi{os.getpid()}"
    runner.run("run", "-d", "--name", name, runner.image, "sleep", "60")
    try:
        p = runner.popen("exec", "-i", "-e", "GREETING=hi", "-w", "/tmp", name, "/bin/sh",
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        p.stdin.write("echo $GREETING; pwd\n")
        p.stdin.flush()
        assert p.stdout.readline() == "hi\n" and p.stdout.readline() == "/tmp\n"
        p.stdin.write("x=41; echo $((x + 1))\n")  # the same shell: its state is kept
        p.stdin.flush()
        assert p.stdout.readline() == "42\n"
        p.stdin.write("echo last\n")
        p.stdin.close()  # end of input: the shell exits
        assert p.stdout.read() == "last\n"
        assert p.wait(timeout=10) == 0
    finally:
        runner.run("rm", "-f", name, check=False)


def test_the_dev_containers_cli_flow(runner):
    """A foreground run the Dev Containers CLI starts (no name, a label) is found by its label
    while it runs, and `exec -i` into it takes commands; --security-opt label=disable is what
    gantry does anyway."""
    label = f"devcontainer.local_folder=/src/p{os.getpid()}"
    p = runner.popen("run", "--sig-proxy=false", "-a", "STDOUT", "-a", "STDERR", "-l", label,
                     "--security-opt", "label=disable", "--entrypoint", "/bin/sh", runner.image,
                     "-c", "echo Container started; trap 'exit 0' TERM; "
                     "while sleep 0.05; do :; done", stdout=subprocess.PIPE, text=True)
    cid = None
    try:
        assert p.stdout.readline() == "Container started\n"
        cid = runner.run("ps", "-q", "-a", "--filter", f"label={label}").out.strip()
        assert len(cid) == 12, cid
        sh = runner.popen("exec", "-i", cid, "/bin/sh", stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
        out, _ = sh.communicate("echo $((6 * 7))\n", timeout=10)
        assert out == "42\n" and sh.returncode == 0
        # exec -u NAME (the Dev Containers CLI's remoteUser): from the container's /etc/passwd
        # (rootless, the container may map one ID: root's passwd entry is then the one to use)
        user, ids = ("nobody", ["65534", "/nonexistent"]) if runner.user is None else \
            ("root", ["0", "/root"])
        r = runner.run("exec", "-u", user, cid, "sh", "-c", "id -u; echo $HOME")
        assert r.out.split() == ids, r
        r = runner.fail("exec", "-u", "no-such-user", cid, "true", code=2)
        assert "no-such-user" in r.err and "/etc/passwd" in r.err, r
        runner.run("stop", cid)
        assert p.wait(timeout=10) == 0
        # ended, and not kept: a foreground run removes its container, as --rm
        assert runner.run("ps", "-q", "-a", "--filter", f"label={label}").out == ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if cid:
            runner.run("rm", "-f", cid, check=False)
    r = runner.fail("run", "--rm", "--security-opt", "label=type:spc_t", runner.image, "true",
                    code=125)
    assert "SELinux" in r.err, r


def test_anonymous_volumes_image_volumes_and_volumes_from(runner, mk):
    """docker's volumes beyond named ones (issue 76): -v DST and the image's VOLUME make an
    anonymous volume each (a VOLUME where the image has files is left to the image), kept with
    the container, shared by --volumes-from, and gone with `rm -v`; --image-volume tmpfs and
    ignore as podman's."""
    img = mk.busybox_image(config_extra={"Volumes": {"/data": {}, "/etc": {}}})
    archive = runner.where / "vol.tar"
    mk.write_docker_archive(archive, [(img, ["volimg:1"])])
    os.chmod(archive, 0o644)
    runner.run("load", archive)
    before = set(runner.run("volume", "ls", "-q").out.split())
    name = f"anon{os.getpid()}"
    try:
        r = runner.run("run", "-d", "--name", name, "-v", "/scratch", "volimg:1", "sh", "-c",
                       "echo a > /data/f; echo b > /scratch/f; grep -c ' /etc ' /proc/mounts")
        assert "VOLUME /etc has files in the image" in r.err, r
        runner.run("wait", name)
        assert runner.run("logs", name).out == "0\n"  # /etc: the image's own files
        made = set(runner.run("volume", "ls", "-q").out.split()) - before
        assert len(made) == 2, made
        mounts = runner.run("inspect", name, "--format", "{{json .Mounts}}").json()
        assert {(m["Type"], m["Destination"]) for m in mounts} == {
            ("volume", "/data"), ("volume", "/scratch")}, mounts
        assert {m["Name"] for m in mounts} == made
        r = runner.run("run", "--rm", "--volumes-from", f"{name}:ro", runner.image, "sh", "-c",
                       "cat /data/f /scratch/f; touch /data/x 2>/dev/null || echo ro")
        assert r.out == "a\nb\nro\n", r
        r = runner.run("run", "--rm", "--image-volume", "tmpfs", "volimg:1", "sh", "-c",
                       "grep ' /data ' /proc/mounts | cut -d' ' -f3")
        assert r.out == "tmpfs\n", r
        r = runner.run("run", "--rm", "--image-volume", "ignore", "volimg:1", "sh", "-c",
                       "grep -c ' /data ' /proc/mounts", check=False)
        assert r.out == "0\n", r
        # a removed container's anonymous volumes stay unless rm -v, as docker's
        runner.run("rm", "-v", name)
        assert set(runner.run("volume", "ls", "-q").out.split()) == before
    finally:
        runner.run("rm", "-f", name, check=False)


def test_restart_on_failure_by_the_monitor_and_its_refusals(runner):
    """--restart (issue 76): the detached container's monitor starts it again through
    `gantry start` (rootless too); a foreground run and --rm cannot have a policy."""
    name = f"restart{os.getpid()}"
    try:
        runner.run("run", "-d", "--name", name, "--restart", "on-failure:1", runner.image, "sh",
                   "-c", "echo ran; exit 2")
        end = time.monotonic() + 20
        while time.monotonic() < end:
            st = runner.run("inspect", name, "--format",
                            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}").out.split()
            if st == ["1", "exited", "2"]:  # its end recorded by the monitor (logs complete)
                break
            time.sleep(0.05)
        assert st == ["1", "exited", "2"], st
        assert runner.run("logs", name).out == "ran\nran\n"
    finally:
        runner.run("rm", "-f", name, check=False)
    r = runner.fail("run", "--restart", "always", runner.image, "true", code=2)
    assert "detached" in r.err and "-d" in r.err, r
    r = runner.fail("run", "-d", "--rm", "--restart", "always", runner.image, "true", code=2)
    assert "Conflicting options: --restart and --rm" in r.err, r
    r = runner.fail("run", "-d", "--restart", "always:3", runner.image, "true", code=2)
    assert "only on-failure takes a count" in r.err, r


def test_run_di_keeps_stdin_open_without_a_client(runner):
    """docker's `run -di IMG cat` (OpenStdin, nothing attached) keeps running: its stdin is a
    pipe the monitor holds open, where plain -d gives /dev/null (issue 76)."""
    name = f"stdin{os.getpid()}"
    try:
        runner.run("run", "-di", "--name", name, runner.image, "sh", "-c",
                   "read line; echo read-returned")
        assert runner.run("exec", name, "echo", "alive").out == "alive\n"
        # still reading: a read of /dev/null would have returned at once
        assert runner.run("inspect", name, "--format", "{{.State.Status}}").out == "running\n"
        assert runner.run("logs", name).out == ""
    finally:
        runner.run("rm", "-f", name, check=False)


def test_diff_of_a_container_on_disk(runner):
    """gantry diff (issue 76): A, C and D as docker's, the runtime's own files left out; a
    container whose layer was in memory is refused saying so."""
    name = f"diff{os.getpid()}"
    try:
        runner.run("run", "-d", "--writable-layer", "disk", "--name", name, runner.image, "sh",
                   "-c", "echo x > /etc/newfile; rm /etc/group; echo y >> /etc/passwd")
        runner.run("wait", name)
        lines = runner.run("diff", name).out.splitlines()
        assert lines == sorted(lines, key=lambda l: l[2:]), lines
        assert set(lines) == {"C /etc", "A /etc/newfile", "D /etc/group", "C /etc/passwd"}, lines
        runner.run("rm", name)
        runner.run("run", "-d", "--writable-layer", "memory", "--name", name, runner.image, "true")
        runner.run("wait", name)
        r = runner.fail("diff", name)
        assert "in memory" in r.err and "--writable-layer disk" in r.err, r
    finally:
        runner.run("rm", "-f", name, check=False)


def test_group_add_gives_supplementary_groups_or_is_refused_naming_why(runner):
    """--group-add GID (docker's): the process's supplementary groups, beside its own; rootless
    with the caller's id alone (no subordinate group ids) setgroups(2) is denied, so it is
    refused naming that; a name is looked up in the image's /etc/group (docker's), one it lacks
    refused naming it."""
    r = runner.run("run", "--rm", "--group-add", "1234", "--group-add", "4321", runner.image,
                   "id", "-G", check=False)
    granted = r.code == 0
    if granted:
        assert {"1234", "4321"} <= set(r.out.split()), r
    else:
        assert runner.user is not None, r  # root always can
        assert r.code == 125 and "needs subordinate group ids" in r.err, r
    r = runner.fail("run", "--rm", "--group-add", "wheel", runner.image, "true")
    if granted:  # else the ids' refusal above may come first
        assert r.code == 2 and "--group-add wheel" in r.err and "no group wheel" in r.err, r
        # the sample image's /etc/group: root:x:0: and nogroup:x:65534:
        r = runner.run("run", "--rm", "--group-add", "nogroup", "--group-add", "1234",
                       runner.image, "id", "-G")
        assert {"65534", "1234"} <= set(r.out.split()), r
