"""`gantry system service` runs containers for docker's clients (issue 54, section 2, the
container half): docker's CLI (Debian's docker.io 20.10; its daemon never started) and docker-py
create, attach (the connection hijack: 101 Switching Protocols, docker's multiplexed frames without
a terminal, raw bytes with one), start, wait, exec and resize through the socket, with nothing
mocked. ONE service serves the module. As root every test's containers share /run/gantry: names
carry this module's token."""
import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage
from test_engine_api import DOCKERS, UnixHTTP, start_service

TOKEN = f"apirun{os.getpid()}"
pytestmark = pytest.mark.skipif(not DOCKERS, reason="needs docker's CLI: apt-get install "
                                "docker.io (scripts/install-deps.sh; its daemon is never started)")


@pytest.fixture(scope="module")
def svc(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("engine-api-run")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    try:
        yield g, sock, env
        for c in g.run("ps", "-a", "-q", "--filter", f"name={TOKEN}", check=False).out.split():
            g.run("rm", "-f", c, check=False)
    finally:
        p.terminate()
        p.wait(timeout=10)


def docker(svc, *args, check=True, input=None):
    _, _, env = svc
    r = subprocess.run([DOCKERS[0], *args], capture_output=True, text=True, env=env,
                       input=input, timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def gone(svc, name):
    return docker(svc, "ps", "-a", "-q", "--filter", f"name=^{name}$").stdout.strip() == ""


def test_docker_run_rm_attaches_and_exits_with_the_containers_status(svc):
    r = docker(svc, "run", "--rm", "--name", f"{TOKEN}-hi", "sample:latest", "echo", "hi")
    assert r.stdout == "hi\n" and r.stderr == ""
    assert gone(svc, f"{TOKEN}-hi")
    # stdout and stderr as their own streams (the multiplexed frames), the status propagated
    r = docker(svc, "run", "--rm", "sample:latest", "sh", "-c", "echo o; echo e >&2; exit 3",
               check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, "o\n", "e\n")
    # stdin reaches it, and the client's half-close at its end closes the container's stdin
    r = docker(svc, "run", "-i", "--rm", "sample:latest", "sh", "-c", "cat; echo end",
               input="in-line\n")
    assert r.stdout == "in-line\nend\n"
    # kept without --rm: docker ps -a shows it exited, with its status
    name = f"{TOKEN}-kept"
    r = docker(svc, "run", "--name", name, "sample:latest", "sh", "-c", "exit 7", check=False)
    assert r.returncode == 7
    assert "Exited (7)" in docker(svc, "ps", "-a", "--filter", f"name={name}").stdout
    # start -a attaches (before the start) to it again
    r = docker(svc, "start", "-a", name, check=False)
    assert r.returncode == 7
    docker(svc, "rm", name)
    # -d --rm, then wait: removed at its end, its status from its die event
    docker(svc, "run", "-d", "--rm", "--name", f"{TOKEN}-rmd", "sample:latest", "sh", "-c",
           "sleep 0.5; exit 9")
    assert docker(svc, "wait", f"{TOKEN}-rmd").stdout == "9\n"


def test_start_runs_what_create_prepared_and_a_failed_rm_start_leaves_nothing(svc, tmp_path):
    g = svc[0]
    # create prepared the container once: start runs what it kept, even after the image's name
    # went (docker's start too starts a container whose image was removed since)
    alias = f"{TOKEN}/kept:1"
    docker(svc, "tag", "sample:latest", alias)
    name = f"{TOKEN}-kept-spec"
    docker(svc, "create", "--name", name, "-e", "K=kept", alias, "sh", "-c", "echo $K")
    docker(svc, "rmi", "-f", alias)
    assert docker(svc, "start", "-a", name).stdout == "kept\n"
    docker(svc, "rm", name)
    # AutoRemove (docker run --rm): a start that fails removes the container, through the API
    # and gantry start alike (one left behind blocked the next rmi of its image)
    for door in ("api", "cli"):
        src = tmp_path / door
        src.mkdir()
        name = f"{TOKEN}-rm-fails-{door}"
        docker(svc, "create", "--rm", "--name", name, "-v", f"{src}:/m", "sample:latest", "true")
        src.rmdir()  # the bind's source gone: the start fails before the workload
        if door == "api":
            r = docker(svc, "start", "-a", name, check=False)
            code, err = r.returncode, r.stderr
        else:
            r = g.run("start", "-a", name, check=False)
            code, err = r.code, r.err
        assert code != 0 and str(src) in err, r
        assert gone(svc, name)


def test_a_field_gantry_does_not_honour_is_refused_naming_it(svc):
    # created, then its attached start refused (left as docker leaves a failed start's
    # container: the module's teardown removes it by its name)
    r = docker(svc, "run", "--name", f"{TOKEN}-attached-restart", "--restart", "always",
               "sample:latest", "true", check=False)
    assert r.returncode == 125 and "detached" in r.stderr, r.stderr
    r = docker(svc, "run", "--rm", "--privileged", "sample:latest", "true", check=False)
    assert r.returncode == 125 and "HostConfig.Privileged" in r.stderr, r.stderr


def test_docker_run_d_logs_exec_stop_restart_rename(svc):
    name = f"{TOKEN}-d"
    docker(svc, "run", "-d", "--name", name, "sample:latest", "sh", "-c",
           "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done")
    _, _, env = svc
    follow = subprocess.Popen([DOCKERS[0], "logs", "-f", name], stdout=subprocess.PIPE, env=env)
    try:
        assert follow.stdout.readline() == b"started\n"
        # exec without a terminal: both streams and the status; stdin with its half-close
        r = docker(svc, "exec", name, "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
        assert (r.returncode, r.stdout, r.stderr) == (4, "out\n", "err\n")
        assert docker(svc, "exec", "-i", name, "cat", input="piped\n").stdout == "piped\n"
        # more than the pipes hold both ways: stdin is written as cat takes it
        big = "0123456789abcdef" * (1 << 16) + "\n"
        assert docker(svc, "exec", "-i", name, "cat", input=big).stdout == big
        assert docker(svc, "exec", "-e", "V=x", "-w", "/tmp", name, "sh", "-c",
                      "echo $V $PWD").stdout == "x /tmp\n"
        docker(svc, "stop", "-t", "5", name)
        assert follow.wait(timeout=10) == 0  # the stop ends the follow
    finally:
        follow.kill()
    docker(svc, "rename", name, f"{name}2")
    docker(svc, "start", f"{name}2")  # again, detached, from its kept request
    assert docker(svc, "inspect", "-f", "{{.State.Running}}", f"{name}2").stdout == "true\n"
    docker(svc, "restart", "-t", "1", f"{name}2")
    assert docker(svc, "logs", f"{name}2").stdout.count("started") >= 2
    docker(svc, "rm", "-f", f"{name}2")


def pty_run(svc, args, script):
    """ARGS under a new pty (30 rows, 100 columns): each (expect, send) of SCRIPT in turn; the
    exit status and everything read."""
    _, _, env = svc
    pid, fd = pty.fork()
    if pid == 0:
        import fcntl
        import struct
        import termios
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        os.execve(DOCKERS[0], [DOCKERS[0], *args], env)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        for expect, send in script:
            while expect.encode() not in seen:
                ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
                assert ready, (expect, seen)
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, (expect, seen)
                seen += chunk
            if send:
                os.write(fd, send.encode())
        while True:  # to its end
            ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            assert ready, seen
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_docker_run_it_and_exec_it_under_a_terminal(svc):
    # the terminal's size reaches the container (resize), keys go through raw, the exit status
    # comes back
    status, out = pty_run(svc, ["run", "-it", "--rm", "sample:latest", "sh"],
                          [("# ", "stty size; echo $((6*7))\r"), ("42", "exit 5\r")])
    assert status == 5, out
    assert "30 100" in out
    name = f"{TOKEN}-it"
    docker(svc, "run", "-d", "--name", name, "sample:latest", "sleep", "60")
    status, out = pty_run(svc, ["exec", "-it", name, "sh"],
                          [("# ", "tty; stty size\r"), ("30 100", "exit 6\r")])
    assert status == 6 and "/dev/pts/" in out, out
    docker(svc, "rm", "-f", name)


def test_docker_py_runs_waits_and_execs(svc):
    docker_py = pytest.importorskip("docker")
    _, sock, _ = svc
    client = docker_py.DockerClient(base_url=f"unix://{sock}", version="auto")
    try:
        # docker-py's run reads the output with logs: its default, stdout alone, then both
        # streams, then stderr alone (each chunk is recorded with its stream)
        both = ["sh", "-c", "echo py; echo err >&2"]
        assert client.containers.run("sample:latest", both, remove=True) == b"py\n"
        assert client.containers.run("sample:latest", both, remove=True,
                                     stderr=True) == b"py\nerr\n"
        assert client.containers.run("sample:latest", both, remove=True, stdout=False,
                                     stderr=True) == b"err\n"
        c = client.containers.run("sample:latest", ["sh", "-c", "echo bg; sleep 30"],
                                  detach=True, name=f"{TOKEN}-py")
        code, out = c.exec_run(["sh", "-c", "echo ex; exit 2"])
        assert (code, out) == (2, b"ex\n")
        c.kill()
        assert c.wait()["StatusCode"] == 137
        assert c.logs() == b"bg\n"
        c.remove()
        with pytest.raises(docker_py.errors.APIError) as e:
            client.containers.run("sample:latest", "true", blkio_weight=300, remove=True)
        assert e.value.status_code == 400 and "BlkioWeight" in e.value.explanation
    finally:
        client.close()


def test_attach_needs_the_upgrade_and_create_names_the_refused_field(svc):
    _, sock, _ = svc
    name = f"{TOKEN}-raw"
    docker(svc, "create", "--name", name, "sample:latest", "true")

    def call(method, path, body=None, headers=None):
        c = UnixHTTP(str(sock))
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    status, data = call("POST", f"/v1.41/containers/{name}/attach?stream=1&stdout=1")
    assert status == 400 and b"Upgrade: tcp" in data
    status, data = call("POST", "/v1.41/containers/create",
                        json.dumps({"Image": "sample:latest", "HostConfig": {"Dns": ["1.1.1.1"]}}),
                        {"Content-Type": "application/json"})
    assert status == 400 and b"HostConfig.Dns" in data
    docker(svc, "rm", name)


def test_logs_select_a_stream_and_frame_each_with_its_own(svc):
    _, sock, _ = svc
    name = f"{TOKEN}-streams"
    docker(svc, "run", "-d", "--name", name, "sample:latest", "sh", "-c",
           "echo o1; echo e1 >&2; echo o2; echo e2 >&2")
    assert docker(svc, "wait", name).stdout == "0\n"
    # docker's CLI: stdout to stdout, stderr to stderr; --tail counts both
    r = docker(svc, "logs", name)
    assert (r.stdout, r.stderr) == ("o1\no2\n", "e1\ne2\n")
    r = docker(svc, "logs", "--tail", "1", name)
    assert (r.stdout, r.stderr) == ("", "e2\n")
    # gantry's CLI the same
    g = svc[0]
    res = g.run("logs", name)
    assert (res.out, res.err) == ("o1\no2\n", "e1\ne2\n")

    def frames(query):
        c = UnixHTTP(str(sock))
        c.request("GET", f"/v1.41/containers/{name}/logs?{query}")
        body = c.getresponse().read()
        c.close()
        out = []
        while body:
            n = int.from_bytes(body[4:8], "big")
            out.append((body[0], body[8:8 + n]))
            body = body[8 + n:]
        return out

    # each frame with its chunk's stream (chunks of the two written at once come in the
    # copier's order: each stream's own order is kept)
    both = frames("stdout=1&stderr=1")
    assert b"".join(d for s, d in both if s == 1) == b"o1\no2\n", both
    assert b"".join(d for s, d in both if s == 2) == b"e1\ne2\n", both
    assert {s for s, _ in frames("stderr=1")} == {2}
    assert frames("stdout=1&tail=1") == [(1, b"o2\n")]
    docker(svc, "rm", name)


def test_attach_to_a_running_container_follows_its_output_from_then_on(svc):
    name = f"{TOKEN}-att"
    docker(svc, "run", "-d", "--name", name, "sample:latest", "sh", "-c",
           "echo first; i=0; while [ ! -e /tmp/stop ]; do echo tick$i; i=$((i+1)); "
           "sleep 0.05; done; echo bye >&2; exit 3")
    _, _, env = svc
    att = subprocess.Popen([DOCKERS[0], "attach", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    try:
        line = att.stdout.readline()
        assert line.startswith(b"tick"), line
        docker(svc, "exec", name, "touch", "/tmp/stop")
        out, err = att.communicate(timeout=20)
        assert att.returncode == 3, (out, err)
        assert b"first" not in out and err == b"bye\n", (out, err)
    finally:
        att.kill()
    docker(svc, "rm", "-f", name)


def attach_raw(sock_path, name, query):
    """The hijacked connection of POST /containers/NAME/attach?QUERY, its 101 read: a socket."""
    c = UnixHTTP(str(sock_path))
    c.request("POST", f"/v1.41/containers/{name}/attach?{query}",
              headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    r = c.getresponse()
    assert r.status == 101, (r.status, r.read())
    return c.sock


def read_until(sock, want, within=10):
    got, deadline = b"", time.monotonic() + within
    while want not in got:
        ready, _, _ = select.select([sock], [], [], max(0, deadline - time.monotonic()))
        assert ready, got
        chunk = sock.recv(4096)
        assert chunk, got
        got += chunk
    return got


def closed_by_peer(sock, within=5):
    """True once the service ended the connection (EOF, or a reset), within WITHIN seconds."""
    ready, _, _ = select.select([sock], [], [], within)
    if not ready:
        return False
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def test_attach_stdin_to_a_running_container_and_detach_keys(svc):
    """docker's attach with stdin to a running detached -i container: the client's bytes reach
    its stdin (the pipe its monitor holds); on a terminal the detach keys (default ctrl-p,ctrl-q,
    or ?detachKeys=) end the attach and leave it running; without one every byte is data, as
    docker's daemon passes it. The same for an exec's DetachKeys."""
    g, sock, _ = svc
    name = f"{TOKEN}-det"
    docker(svc, "run", "-dit", "--name", name, "sample:latest", "cat")
    state = json.loads(docker(svc, "inspect", name).stdout)[0]
    assert state["Config"]["OpenStdin"] is True and state["Config"]["Tty"] is True
    s = attach_raw(sock, name, "stream=1&stdin=1&stdout=1")
    s.sendall(b"hello\n")
    read_until(s, b"hello")  # cat's output, through the terminal
    s.sendall(b"\x10")
    time.sleep(0.2)  # the first key alone: held, the attach goes on
    assert not closed_by_peer(s, 0.3)
    s.sendall(b"\x11")
    assert closed_by_peer(s)
    s.close()
    assert g.run("inspect", "--format", "{{.State.Running}}", name).out == "true\n"
    # ?detachKeys=ctrl-x: a ctrl-p goes on to cat; ctrl-x detaches
    s = attach_raw(sock, name, "stream=1&stdin=1&stdout=1&detachKeys=ctrl-x")
    s.sendall(b"again\x10\n")
    read_until(s, b"again")
    s.sendall(b"\x18")
    assert closed_by_peer(s)
    s.close()
    assert g.run("inspect", "--format", "{{.State.Running}}", name).out == "true\n"
    c = UnixHTTP(str(sock))
    c.request("POST", f"/v1.41/containers/{name}/attach?stream=1&stdin=1&detachKeys=ctrl-1",
              headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    r = c.getresponse()
    assert r.status == 400 and b"ctrl-1" in r.read()
    c.close()
    # an exec with DetachKeys (docker-py's exec_start(socket=True)), on a terminal
    c = UnixHTTP(str(sock))
    c.request("POST", f"/v1.41/containers/{name}/exec", json.dumps(
        {"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True, "Tty": True,
         "DetachKeys": "ctrl-p"}), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 201
    exec_id = json.loads(r.read())["Id"]
    c.close()
    c = UnixHTTP(str(sock))
    c.request("POST", f"/v1.41/exec/{exec_id}/start", json.dumps({"Tty": True}),
              headers={"Content-Type": "application/json", "Connection": "Upgrade",
                       "Upgrade": "tcp"})
    r = c.getresponse()
    assert r.status == 101
    c.sock.sendall(b"in-exec\n")
    read_until(c.sock, b"in-exec")
    c.sock.sendall(b"\x10")
    assert closed_by_peer(c.sock)
    c.close()
    c = UnixHTTP(str(sock))
    c.request("GET", f"/v1.41/exec/{exec_id}/json")
    assert json.loads(c.getresponse().read())["Running"] is True  # detached, not ended
    c.close()
    # without a terminal the keys are data: cat gives them back, framed
    docker(svc, "run", "-di", "--name", f"{name}n", "sample:latest", "cat")
    s = attach_raw(sock, f"{name}n", "stream=1&stdin=1&stdout=1")
    s.sendall(b"a\x10\x11b\n")
    assert read_until(s, b"b\n") == b"\x01\x00\x00\x00\x00\x00\x00\x05a\x10\x11b\n"
    s.close()
    docker(svc, "rm", "-f", name, f"{name}n")


def test_stats_one_shot_streamed_and_docker_stats_no_stream(svc):
    _, sock, _ = svc
    name = f"{TOKEN}-stats"
    # -m: a cgroup of its own, whose memory limit stats reports (v2's memory.max, or v1's
    # memory controller on a hybrid host)
    # docker's further limits (MemorySwap, CpuShares, CpusetCpus, MemoryReservation) are applied
    # and inspect shows them back as docker's daemon does
    cpu = str(min(os.sched_getaffinity(0)))
    # docker's --cpu-rt-runtime where the host has cgroup v1's realtime budget (CpuRealtime*)
    rt = ["--cpu-rt-runtime", "10000"] if Path("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() \
        else []
    docker(svc, "run", "-d", "-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m",
           "--cpu-shares", "512", "--cpuset-cpus", cpu, *rt, "--name", name, "sample:latest",
           "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 30")
    try:
        shown = docker(svc, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} "
                       "{{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} "
                       "{{.HostConfig.CpusetCpus}} {{.HostConfig.CpuRealtimeRuntime}}",
                       name).stdout.split()
        assert shown == [str(64 << 20), "-1", str(32 << 20), "512", cpu,
                         "10000" if rt else "0"], shown
        r = docker(svc, "stats", "--no-stream", name)
        head, row = r.stdout.splitlines()[:2]
        assert head.startswith("CONTAINER ID") and "MEM USAGE / LIMIT" in head, r.stdout
        assert name in row and row.count("%") == 2, r.stdout
        # gantry's own `stats` prints what docker's CLI computes from the same JSON: the same
        # header, and the same figures where they do not move between two reads
        g, _, _ = svc
        mine = g.run("stats", "--no-stream", name).out.splitlines()
        assert mine[0].split() == head.split(), (mine, head)
        # (NetIO moves: a bridge container's interface sends its own IPv6 neighbour traffic)
        steady = "{{.Container}} {{.Name}} {{.ID}} {{.PIDs}} {{.MemUsage}} {{.NetIO}}"
        theirs = docker(svc, "stats", "--no-stream", "--format", steady, name).stdout.split()
        ours = g.run("stats", "--no-stream", "--format", steady, name).out.split()
        assert ours[:4] == theirs[:4] and ours[6] == theirs[6] == "64MiB", (ours, theirs)
        assert ours[8] == theirs[8] == "/" and ours[7].endswith("B") and theirs[9].endswith("B")
        c = UnixHTTP(str(sock))
        c.request("GET", f"/v1.41/containers/{name}/stats?stream=false")
        s = json.loads(c.getresponse().read())
        c.close()
        assert s["name"] == f"/{name}" and s["pids_stats"]["current"] >= 1, s
        assert s["memory_stats"]["usage"] > 0 and s["memory_stats"]["limit"] == 64 << 20, s
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0, s
        assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"] > 0
        assert s["cpu_stats"]["online_cpus"] >= 1 and s["preread"] < s["read"], s
        # stream=true: a JSON line at once (then one a second); the client leaves after one
        c = UnixHTTP(str(sock))
        c.request("GET", f"/v1.41/containers/{name}/stats?stream=true")
        first = json.loads(c.getresponse().readline())
        c.close()
        assert first["id"] == docker(svc, "inspect", "-f", "{{.Id}}", name).stdout.strip()
    finally:
        docker(svc, "rm", "-f", name)


def test_named_volumes_made_on_first_use_and_refused_removal_while_mounted(svc):
    vol = f"{TOKEN}-vol"
    docker(svc, "run", "--rm", "-v", f"{vol}:/data", "sample:latest", "sh", "-c",
           "echo in-volume > /data/f")
    assert vol in docker(svc, "volume", "ls", "-q").stdout.split()
    r = docker(svc, "run", "--rm", "--mount", f"type=volume,source={vol},target=/d,readonly",
               "sample:latest", "sh", "-c", "cat /d/f; touch /d/x 2>/dev/null || echo ro")
    assert r.stdout == "in-volume\nro\n"
    # a container (even not running) mounts it: in use
    keeper = f"{TOKEN}-volkeeper"
    docker(svc, "create", "--name", keeper, "-v", f"{vol}:/data", "sample:latest", "true")
    r = docker(svc, "volume", "rm", vol, check=False)
    assert r.returncode != 0 and "volume is in use" in r.stderr and keeper in r.stderr, r.stderr
    assert vol not in docker(svc, "volume", "ls", "-q", "--filter", "dangling=true").stdout
    assert docker(svc, "volume", "prune", "-f").returncode == 0
    assert vol in docker(svc, "volume", "ls", "-q").stdout.split()  # prune left it
    docker(svc, "rm", keeper)
    docker(svc, "volume", "rm", vol)


def test_restart_policies_kept_by_the_monitor(svc):
    """docker's restart policies without a daemon (issue 76): on-failure:N restarts a failing
    container N times, with docker's backoff (100 ms doubled), its RestartCount and policy in
    inspect; always restarts until `docker stop`, which ends it for good."""
    name = f"{TOKEN}-restart"
    docker(svc, "run", "-d", "--name", name, "--restart", "on-failure:2", "sample:latest",
           "sh", "-c", "echo ran; exit 3")
    fmt = "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = docker(svc, "inspect", "-f", fmt, name).stdout.split()
        # (its exit status once the monitor recorded it: the process may be gone a moment before)
        if state == ["2", "exited", "3", "on-failure"]:
            break
        time.sleep(0.1)
    assert state == ["2", "exited", "3", "on-failure"], state
    assert docker(svc, "logs", name).stdout == "ran\n" * 3
    docker(svc, "rm", name)
    docker(svc, "run", "-d", "--name", name, "--restart", "always", "sample:latest", "true")
    while int(docker(svc, "inspect", "-f", "{{.RestartCount}}", name).stdout) < 2:
        time.sleep(0.05)
    docker(svc, "stop", name)
    after = docker(svc, "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", name).stdout
    time.sleep(1)  # longer than the backoff's next wait: no start follows the stop
    assert docker(svc, "inspect", "-f", "{{.RestartCount}} {{.State.Status}}",
                  name).stdout == after and after.split()[1] == "exited", after
    docker(svc, "rm", name)


def test_docker_diff_lists_the_containers_changes(svc):
    """GET /containers/{id}/changes (docker diff, docker-py's container.diff()): a created
    container keeps its writable layer on disk, read as docker reads it (issue 76)."""
    name = f"{TOKEN}-diff"
    docker(svc, "create", "--name", name, "sample:latest", "sh", "-c",
           "echo x > /etc/newfile; rm /etc/group; mkdir /opt")
    docker(svc, "start", "-a", name)
    out = docker(svc, "diff", name).stdout.splitlines()
    assert sorted(out) == ["A /etc/newfile", "A /opt", "C /etc", "D /etc/group"], out
    docker(svc, "rm", name)
def test_the_kernel_cache_label_of_docker_run_gives_a_kernel_cache(svc):
    """docker's CLI and compose set labels, not gantry's flags: `-l io.gantry.kernel-cache=auto`
    gives the container a kernel cache (docs/kernel-caches.md): the second start finds what the
    first wrote in $CCACHE_DIR."""
    g, _, _ = svc
    work = 'f="$CCACHE_DIR/obj"; if [ -f "$f" ]; then echo hit; else echo miss; echo x > "$f"; fi'
    args = ("run", "--rm", "-l", "io.gantry.kernel-cache=auto", "sample:latest", "sh", "-c", work)
    assert docker(svc, *args).stdout == "miss\n"
    assert docker(svc, *args).stdout == "hit\n"
    assert len(g.run("kernel-cache", "ls", "-q").out.split()) == 1
