#!/usr/bin/python3
"""The Engine API's speed (issue 54), in one run, alternated rounds, medians and spread:

  activation  a `GET /_ping` sent as soon as `systemd-socket-activate -l SOCK gantry system
              service --time 1` accepts the connection, to its answer (gantry's start,
              libmicrohttpd loaded, the answer); target <= 50 ms
  ps          `docker ps -a` through gantry's socket with 100 containers (made by `gantry
              create`), against `gantry ps -a`; target <= 30 ms. Then `GET
              /containers/json?all=1` sent --direct times straight to the socket (no client):
              the service's own wall and CPU time per listing
  run         `docker run --rm --network host IMAGE true` through gantry's socket, against
              `gantry run --rm IMAGE true` (host, gantry's default; target <= 1.3x, issue 76:
              1.5x) and the same docker command through `podman system service` on podman's
              own store of the same image (target: gantry's faster); and each on bridge:
              `docker run --rm` (the Engine API's default) and `gantry run --rm --network
              bridge`; and docker run's requests (create, attach, wait, start) sent straight
              to gantry's socket without the client: the service's part of a docker run

and, in every run, the docker client's floors the docker rows are judged against: `docker
--version` (the client's start, no request) and `docker version` through gantry's socket (the
least a command does against a service: GET /_ping and GET /version, answered from memory;
not through podman's, whose /version takes seconds on this VM).
Ratios are taken per round (of the rows' medians in that round) and printed as their median
(min-max) over the rounds: each row against its floor, what a row costs above the floor, and
the issue's ratios.

Wall time and CPU time: the children's user+sys (the client; for `gantry run`, gantry and what
it forked) and, for the service rows, the service's CPU per request from its /proc stat before
and after, alone and with its helper processes (the children it reaped: create's, start's, and
what they reaped): "in all" is the client's plus that, per request. A row whose command fails
is reported as such (e.g. `run` before the API serves create/attach/start). A measurement, not
a test: exits 0 whatever the figures.

    bench/engine_api.py [--rounds 5] [--runs 10] [--gantry build/gantry] [--docker docker]
                        [--direct 300] [--only activation,ps,run]   (some of the three;
                        default all) [--no-podman]
"""
import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from fixtures import mkimage as mk  # noqa: E402


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv, env=None):
    """(wall s, children's CPU s, ok) of one run of ARGV (a callable: one call of it)."""
    c0, t0 = children_cpu(), time.monotonic()
    if callable(argv):
        try:
            argv()
        except (OSError, RuntimeError, ValueError) as e:
            return time.monotonic() - t0, 0, False, str(e)
        return time.monotonic() - t0, children_cpu() - c0, True, ""
    r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    return time.monotonic() - t0, children_cpu() - c0, r.returncode == 0, r.stderr.decode()


def proc_cpu(pid, children=False):
    """PID's own user+sys CPU seconds; with CHILDREN, those of its children it reaped too (the
    service's helper processes, and what they reaped: a foreground container's workload)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_for_socket(path, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                    return
            except OSError:
                pass
        if proc.poll() is not None:
            sys.exit(f"the service exited with {proc.returncode}: {proc.stderr.read()}")
        time.sleep(0.01)
    sys.exit(f"no socket at {path} after {timeout} s")


def ping_after_activation(gantry, root, work):
    sock = os.path.join(work, "act.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    act = subprocess.Popen(["systemd-socket-activate", "-l", sock, gantry, "--root", root,
                            "system", "service", "--time", "1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_socket(sock, act)  # systemd-socket-activate listens; gantry not started yet
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            t0 = time.monotonic()
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            dt = time.monotonic() - t0
        if not answer.startswith(b"HTTP/1.1 200"):
            sys.exit(f"/_ping after activation answered {answer[:80]!r}")
        return dt
    finally:
        act.terminate()
        act.wait()


def direct_requests(sock, path, n, server_pid):
    """N `GET PATH` sent straight to SOCK, a connection each as the docker client opens them:
    (each one's wall time, the service's CPU per request over all N). Without the client's
    start, and over enough requests that the CPU's clock ticks (10 ms) are resolved."""
    req = f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode()
    times = []
    c0 = proc_cpu(server_pid)
    for _ in range(n):
        t0 = time.monotonic()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(req)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        times.append(time.monotonic() - t0)
        if not answer.startswith(b"HTTP/1.1 200"):
            sys.exit(f"GET {path} answered {answer[:80]!r}")
    return times, (proc_cpu(server_pid) - c0) / n


def api_request(sock, method, path, body=None, upgrade=False):
    """A connection to SOCK with METHOD PATH sent (JSON BODY): the socket, for the caller to
    read the answer from (an upgraded one: the stream after the 101's headers)."""
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {len(data)}\r\n"
            + ("Content-Type: application/json\r\n" if body is not None else "")
            + ("Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade
               else "Connection: close\r\n") + "\r\n")
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(head.encode() + data)
    return s


def read_all(s):
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    return answer


def api_run(sock):
    """`docker run --rm --network host IMAGE true`'s requests, as docker's CLI sends them
    (create, attach, wait for the removal, start; the output to its end, the status), sent
    straight to SOCK: the Engine API's part of a docker run, without the client's start."""
    api = "/v1.41/containers"
    created = read_all(api_request(sock, "POST", f"{api}/create", {
        "Image": "bench/api:1", "Cmd": ["true"], "AttachStdout": True, "AttachStderr": True,
        "HostConfig": {"NetworkMode": "host", "AutoRemove": True}}))
    if not created.startswith(b"HTTP/1.1 201"):
        raise RuntimeError(f"create answered {created[:200]!r}")
    cid = json.loads(created.split(b"\r\n\r\n", 1)[1])["Id"]
    att = api_request(sock, "POST", f"{api}/{cid}/attach?stream=1&stdout=1&stderr=1",
                      upgrade=True)
    head = b""
    while b"\r\n\r\n" not in head:
        head += att.recv(1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"attach answered {head[:200]!r}")
    wait = api_request(sock, "POST", f"{api}/{cid}/wait?condition=removed")
    started = read_all(api_request(sock, "POST", f"{api}/{cid}/start"))
    if not started.startswith(b"HTTP/1.1 204"):
        raise RuntimeError(f"start answered {started[:200]!r}")
    read_all(att)
    waited = read_all(wait)
    if b'"StatusCode":0' not in waited.replace(b" ", b""):
        raise RuntimeError(f"wait answered {waited[-200:]!r}")


def spread(xs):
    return f"{statistics.median(xs) * 1000:.1f} ms ({min(xs) * 1000:.1f}-{max(xs) * 1000:.1f})"


def flat(rounds):
    return [x for r in rounds for x in r]


def client_version(docker):
    r = subprocess.run([docker, "--version"], capture_output=True, text=True)
    return r.stdout.strip() or r.stderr.strip()


def report(a, rows, wall, cpu, svc_cpu, failed, activation, load, direct):
    def total_cpu(name):
        """A request's CPU in all: the client's (its children's rusage: gantry's own rows count
        gantry and what it forked) plus, for a service row, the service's and its helpers'."""
        extra = statistics.mean(x[1] for x in svc_cpu[name]) if svc_cpu[name] else 0
        return statistics.median(cpu[name]) + extra

    print(f"\n{client_version(a.docker)}; load average {load[0]:.1f} before, {load[1]:.1f} "
          f"after; {a.rounds} rounds x {a.runs} runs, alternated; medians (min-max)")
    if activation:
        print(f"first request after socket activation: {spread(activation)} "
              "(target <= 50 ms)")
    for name in rows:
        if name in failed:
            print(f"{name:36} FAILED: {failed[name]}")
            continue
        # over all the row's runs: the service's CPU is counted in 10 ms clock ticks
        server = ""
        if svc_cpu[name]:
            own = statistics.mean(x[0] for x in svc_cpu[name])
            helpers = statistics.mean(x[1] for x in svc_cpu[name])
            server = (f"; the service's CPU {own * 1000:.2f} ms, {helpers * 1000:.2f} ms with "
                      f"its helpers; in all {total_cpu(name) * 1000:.1f} ms")
        print(f"{name:36} wall {spread(flat(wall[name]))}, client CPU "
              f"{statistics.median(cpu[name]) * 1000:.1f} ms{server}")
    if direct:
        print(f"{'GET /containers/json?all=1, direct':36} wall {spread(direct[0])}, the "
              f"service's CPU {direct[1] * 1000:.2f} ms ({len(direct[0])} requests, no client)")
    ok = {k for k in rows if k not in failed and flat(wall[k])}
    med = {k: statistics.median(flat(wall[k])) for k in ok}

    def per_round(f, *names):
        """F of the named rows' per-round medians, for each round: median (min-max)."""
        if not all(n in ok for n in names):
            return None
        xs = [f(*(statistics.median(wall[n][r]) for n in names)) for r in range(a.rounds)
              if all(wall[n][r] for n in names)]
        return (statistics.median(xs), min(xs), max(xs)) if xs else None

    def ratio(f, *names):
        v = per_round(f, *names)
        return f"{v[0]:.2f}x ({v[1]:.2f}-{v[2]:.2f})" if v else None

    def ms(f, *names):
        v = per_round(f, *names)
        return f"{v[0] * 1000:.1f} ms ({v[1] * 1000:.1f}-{v[2] * 1000:.1f})" if v else None

    alone, floor = "docker --version (client alone)", "docker version (gantry's socket)"
    g_ps, g_run = "docker ps -a (gantry's socket)", "docker run --rm (gantry's socket)"
    p_run = "docker run --rm (podman's socket)"
    g_bridge = "docker run --rm, default bridge (gantry's socket)"
    lines = [
        ("docker ps -a over 100 containers (target <= 30 ms)",
         f"{med[g_ps] * 1000:.1f} ms" if g_ps in med else None),
        ("  its floor, docker version through the same socket",
         f"{med[floor] * 1000:.1f} ms" if floor in med else None),
        ("  docker ps -a / the floor", ratio(lambda x, y: x / y, g_ps, floor)),
        ("  docker ps -a above the floor (the listing's own cost)",
         ms(lambda x, y: x - y, g_ps, floor)),
        ("docker run through gantry's socket / gantry run (target <= 1.3x)",
         ratio(lambda x, y: x / y, g_run, "gantry run --rm")),
        ("  the client's floor / gantry run (docker version through gantry's socket)",
         ratio(lambda x, y: x / y, floor, "gantry run --rm")),
        ("  the client's start alone / gantry run (docker --version)",
         ratio(lambda x, y: x / y, alone, "gantry run --rm")),
        ("  docker run above the floor / gantry run",
         ratio(lambda x, y, z: (x - y) / z, g_run, floor, "gantry run --rm")),
        ("  docker run / its floor", ratio(lambda x, y: x / y, g_run, floor)),
        ("docker run's requests without the client / gantry run, both on host",
         ratio(lambda x, y: x / y, "docker run --rm's requests, no client (gantry's socket)",
               "gantry run --rm")),
        ("docker run on docker's default (bridge) / gantry run on gantry's (host)",
         ratio(lambda x, y: x / y, g_bridge, "gantry run --rm")),
        ("docker run / gantry run, both on bridge",
         ratio(lambda x, y: x / y, g_bridge, "gantry run --rm --network bridge")),
        ("  bridge's own cost in docker run (bridge - host, gantry's socket)",
         ms(lambda x, y: x - y, g_bridge, g_run)),
        ("  bridge's own cost in gantry run (bridge - host)",
         ms(lambda x, y: x - y, "gantry run --rm --network bridge", "gantry run --rm")),
        ("docker run: gantry's socket / podman's (target < 1)",
         ratio(lambda x, y: x / y, g_run, p_run)),
    ]
    if all(k in ok for k in (g_run, "gantry run --rm", floor)):
        lines += [
            ("CPU in all: docker run through gantry's socket / gantry run (client, service, "
             "helpers)", f"{total_cpu(g_run) / total_cpu('gantry run --rm'):.2f}x"),
            ("  docker run's CPU above docker version's, in all",
             f"{(total_cpu(g_run) - total_cpu(floor)) * 1000:.1f} ms"),
        ]
    print("\nratios and differences of the rows' per-round medians: median (min-max) over "
          "the rounds")
    for label, v in lines:
        if v is not None:
            print(f"{label}: {v}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10, help="commands per row per round")
    ap.add_argument("--gantry", default="build/gantry")
    ap.add_argument("--docker", default=shutil.which("docker") or "docker")
    ap.add_argument("--direct", type=int, default=300,
                    help="GET /containers/json?all=1 sent straight to the socket, no client")
    ap.add_argument("--only", default="activation,ps,run",
                    help="the measures to take, comma-separated: activation, ps, run")
    ap.add_argument("--no-podman", action="store_true",
                    help="leave podman's service out (gantry before/after comparisons)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    gantry = os.path.abspath(a.gantry)
    work = tempfile.mkdtemp(prefix="gantry-bench-api-", dir=os.environ.get("BENCH_DIR"))
    procs = []
    try:
        root = os.path.join(work, "store")
        archive = os.path.join(work, "busybox.tar")
        mk.write_docker_archive(archive, [(mk.busybox_image(cmd=["true"]), ["bench/api:1"])])
        subprocess.run([gantry, "--root", root, "load", "-q", archive], check=True)
        for i in range(100 if "ps" in only else 0):
            subprocess.run([gantry, "--root", root, "create", "--name", f"bench-api-{i}",
                            "bench/api:1", "true"], check=True, stdout=subprocess.DEVNULL)
        gsock = os.path.join(work, "gantry.sock")
        svc = subprocess.Popen([gantry, "--root", root, "system", "service", "--time", "0",
                                f"unix://{gsock}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        procs.append(svc)
        wait_for_socket(gsock, svc)
        genv = dict(os.environ, DOCKER_HOST=f"unix://{gsock}")
        penv = None
        if shutil.which("podman") and "run" in only and not a.no_podman:
            pdir = os.path.join(work, "podman")
            pflags = ["--root", os.path.join(pdir, "root"), "--runroot",
                      os.path.join(pdir, "run"), "--storage-driver", "overlay"]
            # podman as root raises RLIMIT_NOFILE and RLIMIT_NPROC past this VM's hard limits
            # (crun: "setrlimit: Operation not permitted"); lower ones it may set (and through
            # its compat API only with --ulimit: its default soft limit is above them)
            os.makedirs(pdir)
            conf = os.path.join(pdir, "containers.conf")
            with open(conf, "w") as f:
                f.write('[containers]\ndefault_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]\n')
            os.environ["CONTAINERS_CONF"] = conf
            subprocess.run(["podman", *pflags, "load", "-q", "-i", archive], check=True,
                           stdout=subprocess.DEVNULL)
            psock = os.path.join(work, "podman.sock")
            # cwd: conmon writes an `oom` file into its working directory
            pod = subprocess.Popen(["podman", *pflags, "system", "service", "--time", "0",
                                    f"unix://{psock}"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, cwd=pdir)
            procs.append(pod)
            wait_for_socket(psock, pod)
            penv = dict(os.environ, DOCKER_HOST=f"unix://{psock}")
        # The floors: what the docker client costs before gantry can do anything. `docker
        # --version` is its start alone (no request); `docker version` through a socket is the
        # least a command does against a service (GET /_ping, GET /version, both answered from
        # memory): every docker row pays it, so a row's figure above it is what the service's
        # work for that command costs.
        rows = {
            "docker --version (client alone)": ([a.docker, "--version"], None),
            "docker version (gantry's socket)": ([a.docker, "version"], genv),
            "docker ps -a (gantry's socket)": ([a.docker, "ps", "-a"], genv),
            "gantry ps -a": ([gantry, "--root", root, "ps", "-a"], None),
            "docker run --rm (gantry's socket)": (
                [a.docker, "run", "--rm", "--network", "host", "bench/api:1", "true"], genv),
            "gantry run --rm": ([gantry, "--root", root, "run", "--rm", "bench/api:1", "true"],
                                None),
            # docker run's requests sent straight to the socket: the service's part of it
            "docker run --rm's requests, no client (gantry's socket)": (
                lambda: api_run(gsock), genv),
            # each one's default network: the Engine API's is docker's bridge (a namespace of
            # its own and pasta), gantry run's is host; and gantry run on the same bridge
            "docker run --rm, default bridge (gantry's socket)": (
                [a.docker, "run", "--rm", "bench/api:1", "true"], genv),
            "gantry run --rm --network bridge": (
                [gantry, "--root", root, "run", "--rm", "--network", "bridge", "bench/api:1",
                 "true"], None),
        }
        rows = {k: v for k, v in rows.items()
                if ("ps -a" in k and "ps" in only) or ("run --rm" in k and "run" in only)
                or "client alone" in k or "docker version" in k}
        if penv:  # (not `docker version` through podman's: its /version takes seconds)
            rows["docker run --rm (podman's socket)"] = (
                [a.docker, "run", "--rm", "--network", "host", "--ulimit", "nofile=1024:4096",
                 "--ulimit", "nproc=4096:4096", "localhost/bench/api:1", "true"], penv)
        # per row, per round: the runs' wall and CPU times, the service's CPU per request
        wall = {k: [[] for _ in range(a.rounds)] for k in rows}
        cpu = {k: [] for k in rows}
        failed = {}
        activation = []
        svc_cpu = {k: [] for k in rows}
        load = [os.getloadavg()[0]]
        for rnd in range(a.rounds):
            if "activation" in only:
                activation.append(ping_after_activation(gantry, root, work))
            order = list(rows) if rnd % 2 == 0 else list(reversed(rows))
            for name in order:
                if name in failed:
                    continue
                argv, env = rows[name]
                server = svc.pid if env is genv else (pod.pid if penv and env is penv else None)
                s0 = (proc_cpu(server), proc_cpu(server, True)) if server else (0, 0)
                for _ in range(a.runs):
                    dt, dc, ok, err = timed(argv, env)
                    if not ok:
                        failed[name] = err.strip().splitlines()[-1] if err.strip() else "failed"
                        break
                    wall[name][rnd].append(dt)
                    cpu[name].append(dc)
                if server and name not in failed:
                    svc_cpu[name].append(((proc_cpu(server) - s0[0]) / a.runs,
                                          (proc_cpu(server, True) - s0[1]) / a.runs))
            print(f"round {rnd + 1} done", flush=True)
        direct = None
        if "ps" in only:
            direct = direct_requests(gsock, "/v1.41/containers/json?all=1", a.direct, svc.pid)
        load.append(os.getloadavg()[0])
        report(a, rows, wall, cpu, svc_cpu, failed, activation, load, direct)
    finally:
        subprocess.run([gantry, "--root", os.path.join(work, "store"), "rm", "-f",
                        *[f"bench-api-{i}" for i in range(100)]], capture_output=True)
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["chmod", "-R", "u+rwX", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
