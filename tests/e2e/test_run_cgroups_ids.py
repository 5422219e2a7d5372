"""gantry run's cgroups (limits, exec joining them, their removal), user namespaces and IDs
(subordinate IDs, the single-ID map, keep-id), and usage errors that name the flag and the fix."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import load_busybox
from run_common import runner  # noqa: F401 (runner: a pytest fixture)


def test_resource_limits_explain_what_is_missing(runner):
    r = runner.run("run", "--memory", "512m", "--pids-limit", "64", runner.image, "true",
                   check=False)
    if r.code == 0 and Path("/sys/fs/cgroup/cgroup.controllers").exists():
        # a host with a delegated cgroup v2: the limits must be in force
        out = runner.run("run", "--memory", "512m", "--pids-limit", "64", runner.image, "sh", "-c",
                         "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max").out.split()
        assert out == [str(512 * 1024 * 1024), "64"]
    elif r.code == 0:  # cgroup v1 (as root): a directory of its own in each hierarchy
        script = ("for c in memory:memory.limit_in_bytes pids:pids.max; do "
                  "p=$(grep \":${c%:*}:\" /proc/self/cgroup | cut -d: -f3); "
                  "echo $p; cat /sys/fs/cgroup/${c%:*}$p/${c#*:}; done")
        out = runner.run("run", "--memory", "512m", "--pids-limit", "64", runner.image, "sh", "-c",
                         script).out.split()
        assert out[0].endswith("/gantry-" + out[0].rsplit("-", 1)[1]) and out[0] != "/", out
        assert [out[1], out[3]] == [str(512 * 1024 * 1024), "64"], out
    else:
        assert r.code == 125
        assert "--memory" in r.err and "--pids-limit" in r.err and "hint:" in r.err
    r = runner.run("run", "--memory", "12zb", runner.image, "true", check=False)
    assert r.code == 2 and "--memory" in r.err


def test_dockers_further_limits_reach_the_cgroup_files(runner):
    """--memory-swap, --memory-reservation, --memory-swappiness, --cpu-shares, --cpuset-cpus and
    --cpuset-mems are written as runc writes them (v1: one directory per hierarchy; v2: the
    unified files, swappiness refused there); where the host cannot give a cgroup the refusal
    names every flag; docker's rules between them are usage errors."""
    cpu = os.sched_getaffinity(0)
    first = str(min(cpu))
    limits = ["--memory", "256m", "--memory-swap", "-1", "--memory-reservation", "64m",
              "--cpu-shares", "512", "--cpuset-cpus", first, "--cpuset-mems", "0"]
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    if not v2:
        limits += ["--memory-swappiness", "10"]
    r = runner.run("run", *limits, runner.image, "true", check=False)
    if r.code == 0 and v2:
        out = runner.run("run", *limits, runner.image, "sh", "-c",
                         "cd /sys/fs/cgroup && cat cpu.weight cpuset.cpus memory.low "
                         "memory.max").out.split()
        # runc's formula: 1 + (512 - 2) * 9999 / 262142
        assert out == ["20", first, str(64 << 20), str(256 << 20)], out
    elif r.code == 0:
        files = ["cpu:cpu.shares", "cpuset:cpuset.cpus", "cpuset:cpuset.mems",
                 "memory:memory.soft_limit_in_bytes", "memory:memory.swappiness",
                 "memory:memory.limit_in_bytes"]
        script = ("for c in " + " ".join(files) + "; do "
                  "p=$(grep -E \":${c%:*}(,[a-z]+)*:\" /proc/self/cgroup | cut -d: -f3); "
                  "cat /sys/fs/cgroup/${c%:*}$p/${c#*:}; done")
        out = runner.run("run", *limits, runner.image, "sh", "-c", script).out.split()
        assert out == ["512", first, "0", str(64 << 20), "10", str(256 << 20)], out
    else:
        assert r.code == 125, r.err
        for flag in ("--memory-swap", "--cpu-shares", "--cpuset-cpus", "--cpuset-mems"):
            assert flag in r.err, r.err
    for bad, flag in ((["--memory-swap", "1g"], "--memory-swap needs --memory"),
                      (["--memory", "1g", "--memory-swap", "512m"], "--memory-swap"),
                      (["--cpu-shares", "1"], "--cpu-shares"),
                      (["--cpuset-cpus", str(max(cpu) + 64)], "--cpuset-cpus"),
                      (["--memory-swappiness", "101"], "--memory-swappiness")):
        r = runner.run("run", *bad, runner.image, "true", check=False)
        assert r.code == 2 and flag in r.err, (bad, r.err)


def test_exec_joins_the_containers_cgroups_before_it_runs(runner):
    """`gantry exec`'s process is in the container's cgroups before it runs the program (gantry
    writes it into each hierarchy's cgroup.procs while it waits, as runc): cat, exec'ed
    directly, reads its own /proc/self/cgroup first, and it is the container's PID 1's."""
    name = f"cg{os.getpid()}"
    limits = ["--memory", "512m", "--pids-limit", "64"]
    if runner.run("run", *limits, runner.image, "true", check=False).code != 0:
        limits = []  # rootless without a delegated cgroup: the container stays in gantry's
    runner.run("run", "-d", "--name", name, *limits, runner.image, "sleep", "60")
    try:
        for _ in range(3):
            out = runner.run("exec", name, "cat", "/proc/self/cgroup", "/proc/1/cgroup").out
            lines = out.splitlines()
            half = len(lines) // 2
            assert half > 0 and lines[:half] == lines[half:], out
            if limits:
                assert all("/gantry-" in line for line in lines if ":memory:" in line), out
    finally:
        runner.run("rm", "-f", name, check=False)


def cgroup_dirs_named(name):
    """The directories called NAME in this host's cgroup hierarchies (4 levels deep at most)."""
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if top.count("/") > 7:
            dirs[:] = []
        found += [os.path.join(top, d) for d in dirs if d == name]
    return found


def test_detached_containers_cgroup_removed_when_it_ends(g, mk, tmp_path):
    """`run -d` with limits: the cgroup is the monitor's, which removes it once the container is
    gone (it ends with _exit: no destructor would), in every hierarchy; `run -d` itself leaves it
    in place while the container runs."""
    if os.geteuid() != 0:
        pytest.skip("needs root: gantry makes cgroups on this host as root")
    img = load_busybox(g, mk, tmp_path)
    name = f"cgrm{os.getpid()}"
    cid = g.run("run", "-d", "--name", name, "--memory", "512m", "--pids-limit", "64", img,
                "sleep", "60").out.strip()
    try:
        made = cgroup_dirs_named(f"gantry-{cid}")
        assert any("/memory/" in d for d in made) and any("/pids/" in d for d in made), made
    finally:
        g.run("rm", "-f", name)
    assert cgroup_dirs_named(f"gantry-{cid}") == []


RT_TOP = Path("/sys/fs/cgroup/cpu")


def test_realtime_budget_applied_given_by_the_parents_or_refused(g, mk, tmp_path):
    """--cpu-rt-period and --cpu-rt-runtime are the container's cpu.rt_period_us and
    cpu.rt_runtime_us (cgroup v1), and the kernel then lets its process become a realtime one
    (chrt from the host: a cgroup without a budget refuses SCHED_FIFO even to root, as the run
    started from a cgroup of no budget shows first). Run from that cgroup, gantry gives it the
    budget the container needs (docker's daemon does so with its --cpu-rt-runtime); more than
    the host's budget is refused naming it; on cgroup v2 the flags are refused."""
    if os.geteuid() != 0:
        pytest.skip("needs root: gantry makes cgroups on this host as root")
    img = load_busybox(g, mk, tmp_path)
    if not (RT_TOP / "cpu.rt_runtime_us").exists():
        r = g.run("run", "--rm", "--cpu-rt-runtime", "10000", img, "true", check=False)
        assert r.code == 2 and "--cpu-rt-runtime cannot be applied" in r.err, r.err
        return
    parent = RT_TOP / f"gantry-rt-{os.getpid()}"
    parent.mkdir()
    name = f"rt{os.getpid()}"
    join = lambda: (parent / "cgroup.procs").write_text(str(os.getpid()))  # noqa: E731
    try:
        # a process in a cgroup without a budget may not become realtime, root's neither
        sleeper = subprocess.Popen(["sleep", "60"], preexec_fn=join)
        try:
            r = subprocess.run(["chrt", "-f", "-p", "1", str(sleeper.pid)], capture_output=True,
                               text=True)
            assert r.returncode != 0 and "Operation not permitted" in r.stderr, r
        finally:
            sleeper.kill()
            sleeper.wait()
        assert (parent / "cpu.rt_runtime_us").read_text().strip() == "0"
        # gantry run -d from that cgroup: its budget is raised to what the container needs
        subprocess.run(g.cmd("run", "-d", "--name", name, "--cpu-rt-period", "100000",
                             "--cpu-rt-runtime", "5000", img, "sleep", "60"),
                       env=g.environ(), preexec_fn=join, capture_output=True, check=True)
        pid = g.run("inspect", "-f", "{{.State.Pid}}", name).out.strip()
        mine = cgroup_of(pid, "cpu")
        assert mine.parent == parent, mine
        assert (mine / "cpu.rt_period_us").read_text().strip() == "100000"
        assert (mine / "cpu.rt_runtime_us").read_text().strip() == "5000"
        assert int((parent / "cpu.rt_runtime_us").read_text()) >= 50000  # a twentieth
        shown = g.run("inspect", "-f", "{{.HostConfig.CpuRealtimePeriod}} "
                      "{{.HostConfig.CpuRealtimeRuntime}}", name).out.split()
        assert shown == ["100000", "5000"], shown
        subprocess.run(["chrt", "-f", "-p", "1", pid], check=True)
        assert "SCHED_FIFO" in subprocess.run(["chrt", "-p", pid], capture_output=True,
                                              text=True, check=True).stdout
    finally:
        g.run("rm", "-f", name, check=False)
        # the container's monitor leaves the cgroup as it ends (no event on cgroup v1)
        deadline = time.monotonic() + 30
        while (parent / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        parent.rmdir()
    # more than the host gives (kernel.sched_rt_runtime_us) is refused, naming the budget
    host = int((RT_TOP / "cpu.rt_runtime_us").read_text())
    r = g.run("run", "--rm", "--cpu-rt-runtime", str(host + 1), img, "true", check=False)
    assert r.code == 125 and f"the realtime CPU budget of {RT_TOP} ({host} us" in r.err, r.err
    r = g.run("run", "--rm", "--cpu-rt-period", "1000", "--cpu-rt-runtime", "2000", img, "true",
              check=False)
    assert r.code == 2 and "--cpu-rt-runtime (2000) is above --cpu-rt-period" in r.err, r.err


def cgroup_of(pid, controller):
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctls, path = line.split(":", 2)
        if controller in ctls.split(","):
            return Path(f"/sys/fs/cgroup/{controller}{path}")
    raise AssertionError(f"{pid} has no {controller} cgroup")


def test_rootless_subordinate_id_mapping(subid_user, mk):
    """A user with a range in /etc/subuid and /etc/subgid (conftest's subid_user, made for the
    whole run: 'nobody', whom the other rootless tests run as, never gets one)."""
    uid = str(subid_user.user.pw_uid)
    img = load_busybox(subid_user, mk, subid_user.base)
    maps = subid_user.run("run", img, "cat", "/proc/self/uid_map").out.split()
    assert maps == ["0", uid, "1", "1", "300000", "65536"]
    out = subid_user.run("run", "-u", "1000:1000", img, "sh", "-c",
                         "id -u; id -g; touch /tmp/f; stat -c %u /tmp/f").out.split()
    assert out == ["1000", "1000", "1000"]
    single = subid_user.run("run", "--userns", "single", img, "cat",
                            "/proc/self/uid_map").out.split()
    assert single == ["0", uid, "1"]
    r = subid_user.run("run", "--userns", "single", "-u", "1000", img, "id", check=False)
    assert r.code == 125 and "not mapped" in r.err


def has_subids(user):
    for f in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(f).read_text().splitlines()
        except OSError:
            return False
        if not any(l.split(":")[0] in (user.pw_name, str(user.pw_uid)) for l in lines if ":" in l):
            return False
    return True


def test_rootless_single_id_when_no_subids(rootless, mk):
    import pwd
    user = rootless.user or pwd.getpwuid(os.getuid())
    if has_subids(user):
        pytest.skip(f"{user.pw_name} has subordinate ids here; test_rootless_subordinate_id_mapping covers it")
    img = load_busybox(rootless, mk, rootless.base)
    r = rootless.run("run", "--userns", "subid", img, "true", check=False)
    assert r.code == 125 and "subordinate" in r.err and "hint:" in r.err
    # auto falls back to the single-ID map
    assert rootless.run("run", img, "cat", "/proc/self/uid_map").out.split()[2] == "1"


@pytest.mark.parametrize("args,code,needle", [
    (["run", "--userns", "bogus", "sample:latest", "true"], 2, "--userns"),
    (["run", "--network", "mynet", "sample:latest", "true"], 125, "network mynet not found"),
    (["run", "--security-opt", "apparmor=x", "sample:latest", "true"], 2, "--security-opt"),
    (["run", "-v", "no volume!:/x", "sample:latest", "true"], 2, "volume name"),
    (["run", "-v", "/no/such/dir:/x", "sample:latest", "true"], 125, "does not exist"),
    (["run", "-w", "rel", "sample:latest", "true"], 2, "absolute"),
    # checked before the launch: the workload would print "ran"
    (["run", "--write-warn", "lots", "sample:latest", "echo", "ran"], 2, "--write-warn"),
    (["run", "--write-warn", "-1G", "sample:latest", "echo", "ran"], 2, "not a size"),
    (["exec", "no-such-container", "true"], 3, "no container named"),
    (["stop", "no-such-container"], 3, "no container named"),
    (["hook", "create-symlinks", "--link", "missing-separator"], 2, "--link"),
    (["run", "--gpus", "all", "--driver-root", "/nonexistent", "sample:latest", "true"], 125,
     "no NVIDIA driver"),
])
def test_user_errors_name_the_flag_and_the_fix(g, mk, tmp_path, args, code, needle):
    load_busybox(g, mk, tmp_path)
    r = g.run(*args, check=False, input="")
    assert r.code == code, r
    assert needle in r.err and "gantry: error:" in r.err and "hint:" in r.err, r
    assert "ran" not in r.out, r


def test_userns_keep_id(rootless, mk):
    """--userns keep-id: the caller's own uid and gid inside, mapped to themselves (no root)."""
    load_busybox(rootless, mk, rootless.base)
    me = rootless.run("run", "--rm", "sample:latest", "id", "-u").out.strip()
    assert me == "0"  # the default single-id map: root inside
    r = rootless.run("run", "--rm", "--userns", "keep-id", "sample:latest", "sh", "-c",
                     "id -u; id -g; cat /proc/self/uid_map; touch /tmp/x && echo wrote")
    uid = str(os.getuid() if rootless.user is None else rootless.user.pw_uid)
    gid = str(os.getgid() if rootless.user is None else rootless.user.pw_gid)
    assert r.out.split() == [uid, gid, uid, uid, "1", "wrote"], r
    rootless.fail("run", "--userns", "nope", "sample:latest", "true", code=2)
