#!/usr/bin/python3
"""Issue 75's network benchmark: a published port's throughput and a bridge container's start,
gantry beside podman on the same machine, in alternated rounds; medians, spread and CPU time.

  sudo bench/networks.py [--rounds N] [--gib G] [--gantry build/gantry]

Start: `run --rm -p FREE:8080 IMAGE true` (the network made, the port bound, all of it torn
down again), wall time and the command's CPU time (user + system of it and its children, pasta
included), for gantry --network bridge (pasta), gantry --network host (no network to make:
the floor) and podman (root: its bridge, CNI's bridge and portmap plugins on a veth pair).
Throughput: a detached container runs a sink on port 8080; the host sends G GiB to
its published port on 127.0.0.1 and waits until the container's end closes (a static
program reading with 1 MiB reads: busybox's nc is the bottleneck otherwise); MB/s, and the CPU
time of the user-mode stack (pasta's /proc/PID/stat) for gantry. Podman 4.3 (Debian 12's) has
no pasta, so no peer runs the same user-mode stack: its root network is the kernel's.

User networks (`--user-network`, issue 75 part 2): the start of a container on a network
(`network create`, then `run --rm --network NET IMAGE true` while another container keeps the
network's namespace up: gantry's holder, podman's rootless netns) and container-to-container
throughput (a sink on the network, a sender container connecting to its address and writing G
GiB with 1 MiB writes; MB/s from the sender's own clock), gantry beside podman, root and
rootless.

The image is the busybox sample (tests/fixtures/mkimage.py), loaded into a store and podman's
under a name of this run, removed at the end."""
import argparse
import json
import os
import socket
import statistics as st
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PODMAN_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
# the container's end of the transfer: accept one connection, read it with 1 MiB reads (busybox's
# nc reads in small pieces and is the bottleneck), close it, then wait to be removed
SINK_C = r"""
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    static char buf[1 << 20];
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (void *)&a, sizeof a) || listen(s, 1)) return 1;
    int c = accept(s, 0, 0);
    while (read(c, buf, sizeof buf) > 0) {
    }
    close(c);
    pause(); /* alive until removed: its pasta's CPU time is read after the transfer */
    return 0;
}
"""
# the sender of the container-to-container transfer: `source HOST BYTES` resolves HOST (the
# network's DNS), writes BYTES with 1 MiB writes, waits for the sink's close, prints seconds
SOURCE_C = r"""
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    static char buf[1 << 20];
    struct addrinfo hints = {0}, *ai;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int s = -1;
    for (int i = 0; i < 100 && s < 0; ++i) {
        if (getaddrinfo(argv[1], "8080", &hints, &ai) == 0) {
            s = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(s, ai->ai_addr, ai->ai_addrlen)) { close(s); s = -1; }
        }
        if (s < 0) usleep(50000);
    }
    if (s < 0) return 1;
    long long left = atoll(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        ssize_t n = write(s, buf, left < (long long)sizeof buf ? left : (long long)sizeof buf);
        if (n <= 0) return 1;
        left -= n;
    }
    shutdown(s, SHUT_WR);
    while (read(s, buf, sizeof buf) > 0) {
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of_children():
    r = os.times()
    return r.children_user + r.children_system


def timed(argv):
    """Wall and CPU seconds of ARGV until it exits: its output goes to files, not pipes (a
    process it leaves running, such as rootless podman's, would hold a pipe open long after)."""
    with tempfile.TemporaryFile() as err:
        c0, t0 = cpu_of_children(), time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=err)
        wall, cpu = time.perf_counter() - t0, cpu_of_children() - c0
        if p.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(argv)} failed: {err.read().decode(errors='replace')}")
    return wall, cpu


def send(port, nbytes):
    """NBYTES to 127.0.0.1:PORT, then the wait for the server's close: seconds."""
    chunk = b"\0" * (1 << 20)
    deadline = time.time() + 30
    while True:  # the container's nc listens shortly after its start returned
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    t0 = time.perf_counter()
    left = nbytes
    while left:
        left -= s.send(chunk[:min(left, len(chunk))])
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
    return time.perf_counter() - t0


STACKS = (b"pasta", b"passt.avx2", b"passt", b"slirp4netns", b"rootlessport",
          b"rootlessport-child")


def stack_cpu(container_pid, uid):
    """CPU seconds of the user-mode stacks serving the container: pasta with CONTAINER_PID as
    its argument (gantry's), or every slirp4netns and rootlessport process of UID (podman's
    rootless: only this benchmark's run as that user)."""
    hz, total = os.sysconf("SC_CLK_TCK"), 0.0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            name = os.path.basename(argv[0])
            if name not in STACKS:
                continue
            if name.startswith((b"pasta", b"passt")):
                if str(container_pid).encode() not in argv:
                    continue
            elif uid == 0 or os.stat(f"/proc/{p}").st_uid != uid:
                continue
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / hz
        except (OSError, IndexError):
            continue
    return total


def summary(label, values, unit, fmt="{:.3f}"):
    values = sorted(values)
    return (f"{label:34} median {fmt.format(st.median(values))} {unit}  "
            f"min {fmt.format(values[0])}  max {fmt.format(values[-1])}  n={len(values)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--gantry", default=str(ROOT / "build" / "gantry"))
    ap.add_argument("--rootless-user", default="nobody",
                    help="the user the rootless rows run as ('' for none)")
    ap.add_argument("--user-network", action="store_true",
                    help="user networks instead: a start on one, container-to-container MB/s")
    a = ap.parse_args()
    nbytes = int(a.gib * (1 << 30))
    # short paths: rootless podman's conmon sockets live under HOME, and a socket path past
    # 108 bytes costs each run its 20 s exit timeout
    tmp = Path(tempfile.mkdtemp(prefix="gnb", dir="/var/tmp"))
    os.chmod(tmp, 0o755)
    tag = f"localhost/netbench{os.getpid()}:latest"
    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures import mkimage as mk
    (tmp / "sink.c").write_text(SINK_C)
    (tmp / "source.c").write_text(SOURCE_C)
    for prog in ("sink", "source"):
        subprocess.run(["gcc", "-O2", "-static", "-o", str(tmp / prog), str(tmp / f"{prog}.c")],
                       check=True, capture_output=True)
    img = mk.busybox_image(extra_layers=[mk.Layer([
        mk.Entry.file("usr/bin/sink", (tmp / "sink").read_bytes(), mode=0o755),
        mk.Entry.file("usr/bin/source", (tmp / "source").read_bytes(), mode=0o755)])])
    mk.write_docker_archive(tmp / "bb.tar", [(img, [tag])])
    os.chmod(tmp / "bb.tar", 0o644)
    binary = tmp / "gantry"  # a copy the rootless user can execute
    subprocess.run(["cp", a.gantry, str(binary)], check=True)
    os.chmod(binary, 0o755)

    # each setup: how it runs a command (root, or the rootless user with a home of its own)
    setups = {"root": ([], {}, 0)}
    if a.rootless_user:
        import pwd
        u = pwd.getpwnam(a.rootless_user)
        home = tmp / "h"
        (home / "run").mkdir(parents=True)
        subprocess.run(["chown", "-R", f"{u.pw_uid}:{u.pw_gid}", str(home)], check=True)
        env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"), "PATH": "/usr/bin:/bin"}
        setups["rootless"] = (["setpriv", f"--reuid={u.pw_uid}", f"--regid={u.pw_gid}",
                               "--clear-groups", "env", *[f"{k}={v}" for k, v in env.items()]],
                              env, u.pw_uid)
    if a.user_network:
        return user_networks(a, tmp, tag, binary, setups, nbytes)
    rows = {}  # label -> (start argv(port), detached argv(port, name), inspect, rm, uid)
    for who, (prefix, env, uid) in setups.items():
        store = tmp / f"store-{who}"
        g = [*prefix, str(binary), "--root", str(store)]
        pm = [*prefix, "podman"] + (PODMAN_LIMITS if who == "root" else [])
        if who == "rootless":
            subprocess.run(["mkdir", "-p", str(store)], check=True)
            subprocess.run(["chown", str(uid), str(store)], check=True)
        subprocess.run([*g, "load", str(tmp / "bb.tar")], check=True, capture_output=True)
        subprocess.run([*prefix, "podman", "load", "-i", str(tmp / "bb.tar")], check=True,
                       capture_output=True)
        podman_net = "bridge (CNI)" if who == "root" else "slirp4netns+rootlessport"
        rows[f"gantry {who} bridge (pasta)"] = (
            lambda p, g=g: [*g, "run", "--rm", "--network", "bridge", "-p", f"{p}:8080", tag,
                            "true"],
            lambda p, n, g=g: [*g, "run", "-d", "--name", n, "--network", "bridge", "-p",
                               f"{p}:8080", tag, "sink"],
            lambda n, g=g: [*g, "inspect", "--format", "{{.State.Pid}}", n],
            lambda n, g=g: [*g, "rm", "-f", n], uid)
        rows[f"gantry {who} host"] = (lambda p, g=g: [*g, "run", "--rm", tag, "true"],
                                      None, None, None, uid)
        run = pm[:len(prefix) + 1] + ["run"] + pm[len(prefix) + 1:]
        rows[f"podman {who} {podman_net}"] = (
            lambda p, run=run: [*run, "--rm", "-p", f"{p}:8080", tag, "true"],
            lambda p, n, run=run: [*run, "-d", "--name", n, "-p", f"{p}:8080", tag, "sink"],
            lambda n, pre=prefix: [*pre, "podman", "inspect", "--format", "{{.State.Pid}}", n],
            lambda n, pre=prefix: [*pre, "podman", "rm", "-f", "-t", "0", n], uid)
    wall, cpu, thr, stack = {}, {}, {}, {}
    try:
        for label, (start, *_) in rows.items():  # a first run sets up what later ones reuse
            timed(start(free_port()))  # (rootless podman's pause process)
        for _ in range(a.rounds):
            for label, (start, detached, inspect, rm, uid) in rows.items():  # alternated
                w, c = timed(start(free_port()))
                wall.setdefault(label, []).append(w)
                cpu.setdefault(label, []).append(c)
            for label, (start, detached, inspect, rm, uid) in rows.items():
                if detached is None:
                    continue
                port, name = free_port(), f"netbench{os.getpid()}"
                subprocess.run(detached(port, name), check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                try:
                    pid = int(subprocess.run(inspect(name), check=True, capture_output=True,
                                             text=True).stdout)
                    c0 = stack_cpu(pid, uid)
                    secs = send(port, nbytes)
                    thr.setdefault(label, []).append(nbytes / secs / 1e6)
                    stack.setdefault(label, []).append(stack_cpu(pid, uid) - c0)
                finally:
                    subprocess.run(rm(name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        for who, (prefix, env, _) in setups.items():
            subprocess.run([*prefix, "podman", "rmi", "-f", tag], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            # rootless podman's pause process (it holds the user namespace) outlives every run
            pause = Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / "libpod/tmp/pause.pid"
            if pause.exists():
                subprocess.run(["kill", pause.read_text().strip()], capture_output=True)
        subprocess.run(["rm", "-rf", str(tmp)])
    print(f"start: run --rm -p FREE:8080 IMAGE true, {a.rounds} alternated rounds")
    for k in rows:
        print(summary(k, wall[k], "s"))
        print(summary("  cpu (user+sys, children)", cpu[k], "s"))
    print(f"throughput: {a.gib:g} GiB host -> 127.0.0.1:PORT -> the container's sink")
    for k in thr:
        print(summary(k, thr[k], "MB/s", "{:.0f}"))
        print(summary("  user-mode stack's cpu in it", stack[k], "s"))


def user_networks(a, tmp, tag, binary, setups, nbytes):
    """--user-network: per setup and engine, a network with a keeper container (its namespace up
    for the rounds), the start of a container on it, and a sender -> sink transfer by name."""
    engines = {}
    for who, (prefix, env, uid) in setups.items():
        store = tmp / f"store-{who}"
        subprocess.run(["mkdir", "-p", str(store)], check=True)
        subprocess.run(["chown", str(uid), str(store)], check=True)
        g = [*prefix, str(binary), "--root", str(store)]
        pm = [*prefix, "podman"]
        subprocess.run([*g, "load", str(tmp / "bb.tar")], check=True, capture_output=True)
        subprocess.run([*pm, "load", "-i", str(tmp / "bb.tar")], check=True, capture_output=True)
        engines[f"gantry {who} (netavark in gantry's netns)"] = (g, [])
        engines[f"podman {who} ({'CNI' if who == 'root' else 'rootless netns'})"] = (
            pm, PODMAN_LIMITS if who == "root" else [])
    net = f"nb{os.getpid()}"
    wall, cpu, thr = {}, {}, {}
    try:
        for label, (cmd, limits) in engines.items():
            subprocess.run([*cmd, "network", "create", net], check=True, capture_output=True)
            subprocess.run([*cmd, "run", "-d", *limits, "--name", f"{net}-keep", "--network", net,
                            tag, "sleep", "3600"], check=True, capture_output=True)
            timed([*cmd, "run", "--rm", *limits, "--network", net, tag, "true"])  # a first one
        for _ in range(a.rounds):
            for label, (cmd, limits) in engines.items():  # alternated
                w, c = timed([*cmd, "run", "--rm", *limits, "--network", net, tag, "true"])
                wall.setdefault(label, []).append(w)
                cpu.setdefault(label, []).append(c)
            for label, (cmd, limits) in engines.items():
                sink = f"{net}-sink"
                subprocess.run([*cmd, "run", "-d", *limits, "--name", sink, "--network", net, tag,
                                "sink"], check=True, capture_output=True)
                try:
                    # by its address (podman 4.3's root CNI networks here have no DNS plugin);
                    # the sender's clock starts once connected, so resolving costs nothing
                    info = json.loads(subprocess.run([*cmd, "inspect", sink], check=True,
                                                     capture_output=True, text=True).stdout)
                    ip = info[0]["NetworkSettings"]["Networks"][net]["IPAddress"]
                    r = subprocess.run([*cmd, "run", "--rm", *limits, "--network", net, tag,
                                        "source", ip, str(nbytes)], check=True,
                                       capture_output=True, text=True)
                    thr.setdefault(label, []).append(nbytes / float(r.stdout.split()[-1]) / 1e6)
                finally:
                    subprocess.run([*cmd, "rm", "-f", sink], capture_output=True)
    finally:
        for label, (cmd, limits) in engines.items():
            subprocess.run([*cmd, "rm", "-f", f"{net}-keep"], capture_output=True)
            subprocess.run([*cmd, "network", "rm", net], capture_output=True)
        for who, (prefix, env, _) in setups.items():
            subprocess.run([*prefix, "podman", "rmi", "-f", tag], capture_output=True)
            pause = Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / "libpod/tmp/pause.pid"
            if pause.exists():
                subprocess.run(["kill", pause.read_text().strip()], capture_output=True)
        subprocess.run(["rm", "-rf", str(tmp)])
    print(f"start on a user network: run --rm --network NET IMAGE true, {a.rounds} alternated "
          "rounds (another container on NET keeps its namespace up)")
    for k in wall:
        print(summary(k, wall[k], "s"))
        print(summary("  cpu (user+sys, children)", cpu[k], "s"))
    print(f"container to container: {a.gib:g} GiB from a sender to a sink on the network")
    for k in thr:
        print(summary(k, thr[k], "MB/s", "{:.0f}"))


if __name__ == "__main__":
    main()
