"""docker's run options for limits and sharing: --ulimit, --ipc host, --shm-size, -p,
--cap-add/--cap-drop, --device, --runtime, -t and -i, and --pid host with --pidfile."""
import os
import re
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import load_busybox
from run_common import runner  # noqa: F401 (runner: a pytest fixture)


def has_cap_sys_resource():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 24 & 1)  # CAP_SYS_RESOURCE is bit 24
    return False


def test_ulimits_apply_to_the_workload_and_to_exec(runner):
    """docker's --ulimit: lowering, a soft limit up to the hard one, and both at once; exec'ed
    processes get them too (as in docker, where they are the container's)."""
    import resource
    memlock_hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
    memlock = 4 << 20 if memlock_hard == resource.RLIM_INFINITY else memlock_hard // 2
    name = f"limits{os.getpid()}"
    show = "echo $(ulimit -n) $(ulimit -Hn) $(ulimit -s) $(ulimit -l)"
    want = f"1024 2048 65536 {memlock // 1024}\n"
    limits = ["--ulimit", "nofile=1024:2048", "--ulimit", "stack=67108864",
              "--ulimit", f"memlock={memlock}"]
    assert runner.run("run", *limits, runner.image, "sh", "-c", show).out == want
    runner.run("run", "-d", "--name", name, *limits, runner.image, "sleep", "60")
    try:
        assert runner.run("exec", name, "sh", "-c", show).out == want
    finally:
        runner.run("rm", "-f", name, check=False)
    r = runner.fail("run", "--ulimit", "nofile=4096:1024", runner.image, "true", code=2)
    assert "soft limit is above the hard limit" in r.err, r
    r = runner.fail("run", "--ulimit", "files=1", runner.image, "true", code=2)
    assert "unknown --ulimit" in r.err and "nofile" in r.err, r


def test_ulimit_above_the_hard_limit_needs_cap_sys_resource(runner):
    """NGC's `--ulimit memlock=-1` raises the hard limit: root with CAP_SYS_RESOURCE gets it (from
    outside the user namespace, where only it may); anyone else gets the reason and the fix.
    gantry is started with a 1 MiB hard limit, so the request raises it on any host."""
    import resource

    def low_memlock():
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (1 << 20, 1 << 20))

    r = subprocess.run(runner.cmd("run", "--ulimit", "memlock=-1", runner.image, "sh", "-c",
                                  "ulimit -Hl"), capture_output=True, text=True,
                       env=runner.environ(), timeout=60, preexec_fn=low_memlock)
    if runner.user is None and has_cap_sys_resource():
        assert (r.returncode, r.stdout) == (0, "unlimited\n"), r.stderr
    else:
        assert r.returncode == 125, r
        assert "cannot set --ulimit memlock=unlimited:unlimited: the hard limit here is 1048576" \
            in r.stderr and "CAP_SYS_RESOURCE" in r.stderr and "limits.conf" in r.stderr, r.stderr


def test_ipc_host_shares_the_hosts_ipc_namespace_and_shm(runner):
    marker = Path("/dev/shm") / f"gantry-ipc-{os.getpid()}"
    marker.write_text("from the host\n")
    os.chmod(marker, 0o644)
    try:
        show = f"readlink /proc/self/ns/ipc; cat /dev/shm/{marker.name} 2>/dev/null || echo none"
        host_ns = os.readlink("/proc/self/ns/ipc")
        assert runner.run("run", "--ipc", "host", runner.image, "sh", "-c", show).out == \
            f"{host_ns}\nfrom the host\n"
        own = runner.run("run", runner.image, "sh", "-c", show).out.split("\n")
        assert own[0] != host_ns and own[1] == "none"  # private by default
    finally:
        marker.unlink()
    r = runner.fail("run", "--ipc", "host", "--shm-size", "1g", runner.image, "true", code=2)
    assert "--shm-size has no effect with --ipc host" in r.err, r
    r = runner.fail("run", "--ipc", "container:other", runner.image, "true", code=2)
    assert "cannot join another container's IPC namespace" in r.err, r


def test_uts_host_shares_the_hosts_hostname(runner):
    """--uts host (docker's, docker-py's uts_mode='host'): the host's UTS namespace, so its
    hostname, in /etc/hostname and $HOSTNAME too; --hostname with it is a usage error."""
    show = "readlink /proc/self/ns/uts; hostname; cat /etc/hostname; echo $HOSTNAME"
    host = [os.readlink("/proc/self/ns/uts")] + [socket.gethostname()] * 3
    assert runner.run("run", "--uts", "host", runner.image, "sh", "-c", show).out.split() == host
    own = runner.run("run", "--hostname", "box", runner.image, "sh", "-c", show).out.split()
    assert own[0] != host[0] and own[1:] == ["box"] * 3  # its own by default
    name = f"uts{os.getpid()}"  # inspect shows docker's UTSMode (a kept container's record)
    runner.run("run", "-d", "--uts", "host", "--name", name, runner.image, "true")
    try:
        assert runner.run("inspect", "-f", "{{.HostConfig.UTSMode}}", name).out == "host\n"
    finally:
        runner.run("rm", "-f", name, check=False)
    r = runner.fail("run", "--uts", "host", "--hostname", "box", runner.image, "true", code=2)
    assert "--hostname conflicts with --uts host" in r.err, r
    r = runner.fail("run", "--uts", "container:x", runner.image, "true", code=2)
    assert "unsupported --uts" in r.err, r


def test_shm_size_sizes_the_private_dev_shm(runner):
    df = "df -k /dev/shm | tail -1"
    assert runner.run("run", runner.image, "sh", "-c", df).out.split()[1] == "65536"  # docker's
    assert runner.run("run", "--shm-size", "256m", runner.image, "sh", "-c",
                      df).out.split()[1] == "262144"
    r = runner.fail("run", "--shm-size", "0", runner.image, "true", code=2)
    assert "--shm-size must be above zero" in r.err, r


def test_publish_is_accepted_only_as_the_hosts_own_port(runner):
    r = runner.run("run", "-p", "8888:8888", "-p", "127.0.0.1:6006:6006/tcp", runner.image, "true")
    assert "port 8888 is served on the host as it is" in r.err, r
    r = runner.fail("run", "-p", "8080:8888", runner.image, "true", code=2)
    assert "cannot publish container port 8888 as host port 8080" in r.err, r
    assert "-p 8888:8888" in r.err  # the fix
    r = runner.fail("run", "--network", "none", "-p", "80", runner.image, "true", code=2)
    assert "--network none has no network" in r.err, r
    r = runner.fail("run", "-p", "http", runner.image, "true", code=2)
    assert "invalid -p" in r.err, r


def cap_eff(out):
    return int(re.search(r"CapEff:\s+([0-9a-f]+)", out).group(1), 16)


def test_cap_add_and_cap_drop(runner):
    """docker's --cap-add/--cap-drop: the capability sets, and the seccomp profile that follows
    them (CAP_SYS_ADMIN unlocks unshare and mount, which the default profile refuses), for run
    and for exec."""
    img, caps = runner.image, "grep CapEff /proc/self/status"
    default = cap_eff(runner.run("run", img, "sh", "-c", caps).out)
    assert default == 0xa80425fb  # docker's default set
    assert cap_eff(runner.run("run", "--cap-add", "SYS_PTRACE", img, "sh", "-c", caps).out) \
        == default | 1 << 19
    assert cap_eff(runner.run("run", "--cap-drop", "ALL", img, "sh", "-c", caps).out) == 0
    locked = "echo x > /tmp/f; chmod 000 /tmp/f; cat /tmp/f >/dev/null 2>&1; echo $?"
    assert runner.run("run", img, "sh", "-c", locked).out == "0\n"  # root reads a mode-000 file
    assert runner.run("run", "--cap-drop", "dac_override", img, "sh", "-c", locked).out == "1\n"
    tries = "unshare -m true 2>/dev/null; echo $?; mkdir -p /mnt/t; mount -t tmpfs none /mnt/t " \
            "2>/dev/null; echo $?"
    assert runner.run("run", img, "sh", "-c", tries).out.split() == ["1", "1"]
    assert runner.run("run", "--cap-add", "sys_admin", img, "sh", "-c", tries).out.split() == \
        ["0", "0"]
    name = f"admin{os.getpid()}"
    runner.run("run", "-d", "--name", name, "--cap-add", "SYS_ADMIN", img, "sleep", "60")
    try:
        assert runner.run("exec", name, "sh", "-c", "unshare -m true; echo $?").out == "0\n"
    finally:
        runner.run("rm", "-f", name, check=False)
    r = runner.fail("run", "--cap-add", "SYS_WIZARD", img, "true", code=2)
    assert "unknown capability" in r.err and "SYS_PTRACE" in r.err, r


@pytest.fixture
def host_devices():
    """A directory of device nodes made for the test (root): mydev is the host's /dev/full
    (1,7), ib/uverbs0 /dev/zero (1,5), ib/sub/rdma_cm /dev/null (1,3); link -> mydev."""
    if os.geteuid() != 0:
        pytest.skip("making device nodes needs root")
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="gantry-dev-", dir="/tmp"))
    os.chmod(d, 0o755)
    (d / "ib" / "sub").mkdir(parents=True)
    for rel, minor in (("mydev", 7), ("ib/uverbs0", 5), ("ib/sub/rdma_cm", 3)):
        os.mknod(d / rel, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(d / rel, 0o666)
    (d / "link").symlink_to(d / "mydev")
    (d / "plain").write_text("not a device\n")
    (d / "empty").mkdir()
    yield d
    shutil.rmtree(d)


def test_device_binds_host_devices(runner, host_devices):
    """docker's --device HOST[:CONTAINER]: a node (a link to one followed), or every node under
    a directory such as /dev/infiniband, at the same places."""
    d = host_devices
    show = ("stat -c '%F %t,%T' /dev/full2 /dev/lnk; find /dev/ib | sort; "
            "echo x > /dev/full2 2>/dev/null; echo $?; head -c 4 /dev/ib/uverbs0 | wc -c")
    out = runner.run("run", "--device", f"{d}/mydev:/dev/full2", "--device", f"{d}/link:/dev/lnk",
                     "--device", f"{d}/ib:/dev/ib:rwm", runner.image, "sh", "-c", show).out
    lines = out.split("\n")
    assert lines[0:2] == ["character special file 1,7"] * 2, out
    assert lines[2:6] == ["/dev/ib", "/dev/ib/sub", "/dev/ib/sub/rdma_cm", "/dev/ib/uverbs0"], out
    assert lines[6] == "1" and lines[7].strip() == "4", out  # /dev/full: ENOSPC; /dev/zero reads
    r = runner.fail("run", "--device", f"{d}/plain", runner.image, "true", code=2)
    assert "is not a device" in r.err and "-v " in r.err, r
    r = runner.fail("run", "--device", f"{d}/empty:/dev/ib", runner.image, "true", code=2)
    assert "holds no device nodes" in r.err and "/dev/infiniband" in r.err, r
    r = runner.fail("run", "--device", f"{d}/absent", runner.image, "true", code=125)
    assert "does not exist on the host" in r.err, r
    r = runner.fail("run", "--device", f"{d}/mydev:/dev/x:r", runner.image, "true", code=2)
    assert "cannot make a device read-only" in r.err, r
    r = runner.fail("run", "--device", "nvidia", runner.image, "true", code=2)
    assert "not a CDI device name" in r.err and "host device path" in r.err, r


def test_runtime_flag_of_nvidia_docker(runner):
    assert runner.run("run", "--runtime=nvidia", runner.image, "echo", "ok").out == "ok\n"
    r = runner.fail("run", "--runtime", "runc", runner.image, "true", code=2)
    assert "gantry runs the container itself" in r.err and "gantry bundle" in r.err, r


def test_tty_is_a_real_terminal_with_window_size(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    cmd = " ".join(g.cmd("run", "-t", "sample:latest", "sh", "-c",
                         "'test -t 0 && test -t 1 && echo both-tty; stty size'"))
    env = g.environ()
    r = subprocess.run(["script", "-qec", f"stty rows 33 cols 97; {cmd}", "/dev/null"],
                       capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert "both-tty" in r.stdout, r
    assert "33 97" in r.stdout, r
    # exec -t: the same size, set before the process runs (the child sizes the terminal it
    # opens: a size set afterwards by gantry raced a workload's first `stty size`)
    name = f"tty{os.getpid()}"
    g.run("run", "-d", "--name", name, "sample:latest", "sleep", "60")
    try:
        cmd = " ".join(g.cmd("exec", "-t", name, "sh", "-c", "'stty size'"))
        r = subprocess.run(["script", "-qec", f"stty rows 41 cols 123; {cmd}", "/dev/null"],
                           capture_output=True, text=True, env=env, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert "41 123" in r.stdout, r
    finally:
        g.run("rm", "-f", name)


def test_interactive_stdin(runner):
    r = runner.run("run", "-i", runner.image, "sh", input="echo from-stdin\nexit 3\n", check=False)
    assert r.code == 3 and "from-stdin" in r.out


def test_pid_host_and_pidfile(rootless, mk):
    """--pid host: the host's PID namespace and /proc (what the Slurm plugin's tasks join from);
    -d --pidfile: the container process's host pid, written once it runs."""
    load_busybox(rootless, mk, rootless.base)
    host_pid_ns = os.readlink("/proc/self/ns/pid")
    r = rootless.run("run", "--rm", "--pid", "host", "sample:latest", "readlink",
                     "/proc/self/ns/pid")
    assert r.out.strip() == host_pid_ns, r
    r = rootless.run("run", "--rm", "sample:latest", "readlink", "/proc/self/ns/pid")
    assert r.out.strip() != host_pid_ns, r
    rootless.fail("run", "--pid", "container:x", "sample:latest", "true", code=2)
    pidfile = Path(rootless.base) / "c.pid"
    rootless.run("run", "-d", "--name", "pidf", "--pid", "host", "--pidfile", pidfile,
                 "sample:latest", "sleep", "60")
    try:
        pid = int(pidfile.read_text())
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"
        assert os.readlink(f"/proc/{pid}/ns/pid") == host_pid_ns
        assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    finally:
        rootless.run("rm", "-f", "pidf")
