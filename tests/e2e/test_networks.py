"""Container networks (issue 75, step 1): --network bridge, a network namespace of the
container's own joined to the outside by pasta, as root and rootless. Published TCP and UDP
ports reached from the host, outbound traffic to the host through host-gateway, /etc/hosts
(the container's own name, --add-host), /etc/resolv.conf as docker writes it, `port`, `ps` and
inspect; and cleanup: no pasta left once the container is gone, whether it was removed, ended
with --rm, or its gantry was killed. Each container serves a small static program (TCP: the
peer's address; UDP: an echo), so one start covers an assertion group."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import Gantry, need_tool
from test_engine_api import DOCKERS, start_service
from fixtures import mkimage as mk

PEER_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
/* netpeer TCP_PORT UDP_PORT: TCP answers "tcp from PEER"; UDP echoes "udp:" + the datagram */
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_port = htons(atoi(argv[1]));
    if (bind(t, (void *)&a, sizeof a) || listen(t, 16)) { perror("tcp"); return 1; }
    a.sin_port = htons(atoi(argv[2]));
    if (bind(u, (void *)&a, sizeof a)) { perror("udp"); return 1; }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = {{t, POLLIN, 0}, {u, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) continue;
        char buf[512], out[600];
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        if (p[0].revents) {
            int c = accept(t, (void *)&peer, &len);
            if (c < 0) continue;
            int n = snprintf(out, sizeof out, "tcp from %s\n", inet_ntoa(peer.sin_addr));
            if (write(c, out, n) < 0) perror("write");
            close(c);
        }
        if (p[1].revents) {
            len = sizeof peer;
            ssize_t n = recvfrom(u, buf, sizeof buf - 1, 0, (void *)&peer, &len);
            if (n < 0) continue;
            buf[n] = 0;
            int m = snprintf(out, sizeof out, "udp:%s", buf);
            sendto(u, out, m, 0, (void *)&peer, len);
        }
    }
}
"""

TCP_IN, UDP_IN = 8080, 9090


@pytest.fixture(scope="module")
def peer_image(tmp_path_factory):
    """busybox with /usr/bin/netpeer (static), as an archive both stores load."""
    need_tool("gcc")
    need_tool("pasta")
    d = tmp_path_factory.mktemp("netpeer")
    (d / "netpeer.c").write_text(PEER_C)
    subprocess.run(["gcc", "-O2", "-static", "-o", str(d / "netpeer"), str(d / "netpeer.c")],
                   check=True)
    extra = mk.Layer([mk.Entry.file("usr/bin/netpeer", (d / "netpeer").read_bytes(),
                                    mode=0o755)])
    img = mk.busybox_image(extra_layers=[extra], config_extra={
        "ExposedPorts": {f"{TCP_IN}/tcp": {}, f"{UDP_IN}/udp": {}}})
    archive = d / "peer.tar"
    mk.write_docker_archive(archive, [(img, ["peer:latest"])])
    os.chmod(d, 0o755)
    os.chmod(archive, 0o644)
    return archive


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pastas():
    """{pid: argv} of every pasta process (pasta runs as passt.avx2 on x86-64)."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith((b"pasta", b"passt", b"passt.avx2")):
            out[int(p)] = argv
    return out


def pastas_for(pid):
    """The pasta processes serving the namespaces of container process PID."""
    return [p for p, argv in pastas().items() if str(pid).encode() in argv]


def parent_of(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def await_gone(pid, within=20):
    """Until process PID has exited (a pidfd, not a poll loop)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], within)
        assert ready, f"process {pid} still runs after {within} s"
    finally:
        os.close(fd)


def tcp_line(port, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=10) as s:
        return s.makefile().readline().strip()


def host_address():
    """The host's own address on its default route (what a client on the network reaches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 9))  # no packet is sent
        return s.getsockname()[0]


def udp_echo(port, payload=b"ping"):
    """A datagram to the published port at the host's address: Debian 12's pasta (2023-03)
    does not answer one sent to a remapped UDP port through 127.0.0.1 (docs/networks.md)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(payload, (host_address(), port))
        return s.recvfrom(512)[0]


def inspect(g, name):
    return json.loads(g.run("inspect", name).out)[0]


def host_resolv_without_loopback():
    lines = open("/etc/resolv.conf").read().splitlines()
    return [ln for ln in lines if not (ln.split()[:1] == ["nameserver"] and
                                       ln.split()[1].startswith(("127.", "::1")))]


def serve(g, name, *flags):
    """A detached bridge container running netpeer, once it listens; its published ports."""
    tcp, udp = free_port(), free_port(socket.SOCK_DGRAM)
    g.run("run", "-d", "--name", name, "--network", "bridge", "-p", f"{tcp}:{TCP_IN}",
          "-p", f"{udp}:{UDP_IN}/udp", "-p", f"127.0.0.1::{TCP_IN + 1}", *flags, "peer:latest",
          "netpeer", str(TCP_IN), str(UDP_IN))
    g.wait_logged(name, "listening")
    return tcp, udp


def check_served(g, name, tcp, udp):
    assert tcp_line(tcp).startswith("tcp from "), tcp
    assert udp_echo(udp) == b"udp:ping"
    lines = g.run("port", name).out.splitlines()
    # 127.0.0.1::8081: a free port on the host's loopback, which gantry picked
    free = int(lines[2].rsplit(":", 1)[1])
    assert lines == [f"{TCP_IN}/tcp -> 0.0.0.0:{tcp}", f"{UDP_IN}/udp -> 0.0.0.0:{udp}",
                     f"{TCP_IN + 1}/tcp -> 127.0.0.1:{free}"], lines
    assert g.run("port", name, str(TCP_IN)).out == f"0.0.0.0:{tcp}\n"
    assert g.run("ps", "--filter", f"name={name}", "--format", "{{.Ports}}").out.strip() == \
        f"0.0.0.0:{tcp}->{TCP_IN}/tcp, 0.0.0.0:{udp}->{UDP_IN}/udp, " \
        f"127.0.0.1:{free}->{TCP_IN + 1}/tcp"
    info = inspect(g, name)
    assert info["HostConfig"]["NetworkMode"] == "bridge"
    assert info["NetworkSettings"]["Ports"] == {
        f"{TCP_IN}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(tcp)}],
        f"{TCP_IN + 1}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(free)}],
        f"{UDP_IN}/udp": [{"HostIp": "0.0.0.0", "HostPort": str(udp)}]}
    return info


def test_bridge_as_root_ports_files_outbound_and_cleanup(tmp_path, gantry_bin, peer_image):
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    name = f"net-root-{os.getpid()}"
    # the host serves on its loopback: the container reaches it through host-gateway
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    out_port = listener.getsockname()[1]
    tcp, udp = serve(g, name, "--add-host", "db.example:10.1.2.3",
                     "--add-host", "hostgw:host-gateway")
    try:
        info = check_served(g, name, tcp, udp)
        cid, pid = info["Id"], info["State"]["Pid"]
        assert g.run("exec", name, "hostname").out.strip() == cid[:12]
        hosts = g.run("exec", name, "cat", "/etc/hosts").out.splitlines()
        assert hosts[0] == "127.0.0.1\tlocalhost" and "10.1.2.3\tdb.example" in hosts, hosts
        assert hosts[-1].endswith("\t" + cid[:12]), hosts
        gateway = next(ln.split("\t")[0] for ln in hosts if ln.endswith("\thostgw"))
        resolv = g.run("exec", name, "cat", "/etc/resolv.conf").out.splitlines()
        assert resolv == host_resolv_without_loopback(), resolv
        # the namespace is its own: eth0 (pasta's tap) beside lo, not the host's interfaces
        links = [ln.split(":")[0].strip() for ln in
                 g.run("exec", name, "cat", "/proc/net/dev").out.splitlines()[2:]]
        assert sorted(links) == ["eth0", "lo"], links
        # outbound: a connection to host-gateway reaches the host's loopback service
        conn = g.popen("exec", name, "sh", "-c", f"echo from-container | nc hostgw {out_port}",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        listener.settimeout(20)
        c, _ = listener.accept()
        assert c.makefile().readline().strip() == "from-container"
        c.close()
        conn.wait(timeout=20)
        assert gateway, hosts
        # DNS through the namespace's resolv.conf, where the host resolves the name itself
        try:
            socket.getaddrinfo("deb.debian.org", 80)
            host_resolves = True
        except OSError:
            host_resolves = False
        if host_resolves:
            r = g.run("exec", name, "busybox", "nslookup", "deb.debian.org", check=False)
            assert r.code == 0 and "Address" in r.out, r
        helpers = pastas_for(pid)
        assert len(helpers) == 1, helpers
        # --network container:NAME: its namespace, hostname and files; no pasta of its own
        r = g.run("run", "--rm", "--network", f"container:{name}", "peer:latest", "sh", "-c",
                  f"hostname; nc 127.0.0.1 {TCP_IN}; cat /etc/hosts")
        lines = r.out.splitlines()
        assert lines[0] == cid[:12] and lines[1].startswith("tcp from 127.0.0.1"), lines
        assert "10.1.2.3\tdb.example" in lines, lines
        assert pastas_for(pid) == helpers
    finally:
        listener.close()
        g.run("rm", "-f", name)
    await_gone(helpers[0])
    assert pastas_for(pid) == []
    # the host ports are free again (SO_REUSEADDR: past the test's own TIME_WAIT, not a
    # listener)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", tcp))
        s.listen(1)


def test_bridge_rootless_ports_and_cleanup(rootless, peer_image):
    g = rootless
    archive = g.base / "peer.tar"  # where the user can read it
    shutil.copy(peer_image, archive)
    os.chmod(archive, 0o644)
    g.run("load", archive)
    name = f"net-rootless-{os.getpid()}"
    # -P: the image's EXPOSEd ports, each on a free host port
    g.run("run", "-d", "--name", name, "--network", "bridge", "-P", "peer:latest",
          "netpeer", str(TCP_IN), str(UDP_IN))
    try:
        g.wait_logged(name, "listening")
        lines = g.run("port", name).out.splitlines()
        ports = {ln.split(" -> ")[0]: int(ln.rsplit(":", 1)[1]) for ln in lines}
        assert set(ports) == {f"{TCP_IN}/tcp", f"{UDP_IN}/udp"}, lines
        assert tcp_line(ports[f"{TCP_IN}/tcp"]).startswith("tcp from ")
        assert udp_echo(ports[f"{UDP_IN}/udp"]) == b"udp:ping"
        pid = inspect(g, name)["State"]["Pid"]
        helpers = pastas_for(pid)
        assert len(helpers) == 1, helpers
        if g.user:  # pasta runs as the user, not as root
            assert os.stat(f"/proc/{helpers[0]}").st_uid == g.user.pw_uid
        # gantry's monitor killed: the container and its pasta die with it
        monitor = parent_of(pid)
        assert parent_of(helpers[0]) == monitor
        os.kill(monitor, signal.SIGKILL)
        await_gone(helpers[0])
        await_gone(pid)
    finally:
        g.run("rm", "-f", name, check=False)
    assert pastas_for(pid) == []


def test_bridge_foreground_rm_and_refusals(tmp_path, gantry_bin, peer_image):
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    # a foreground run leaves no pasta
    before = set(pastas())
    r = g.run("run", "--rm", "--network", "bridge", "-p", f"{free_port()}:{TCP_IN}",
              "peer:latest", "sh", "-c", "cat /proc/net/dev")
    assert "eth0:" in r.out
    assert set(pastas()) - before == set()
    # the config file's network is gantry run's default (--network overrides it)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("network: bridge\n")
    g.env["GANTRY_CONFIG"] = str(cfg)
    r = g.run("run", "--rm", "peer:latest", "cat", "/proc/net/dev")
    assert "eth0:" in r.out and "ifb0" not in r.out, r.out
    cfg.write_text("network: overlay\n")
    r = g.fail("run", "--rm", "peer:latest", "true")
    assert "line 1: network is not host, bridge or none" in r.err, r.err
    del g.env["GANTRY_CONFIG"]
    # a host port in use: pasta's own reason, exit 125, nothing left behind
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = g.fail("run", "--rm", "--network", "bridge", "-p", f"{port}:80", "peer:latest",
                   "true", code=125)
        assert f"host tcp port {port} on 0.0.0.0 is in use" in r.err, r.err
    r = g.fail("run", "--rm", "--network", "mynet", "peer:latest", "true")
    assert "network mynet not found" in r.err, r.err  # test_networks_user.py serves one
    r = g.fail("run", "--rm", "-p", "8080:80", "peer:latest", "true", code=2)
    assert "--network bridge" in r.err, r.err
    r = g.fail("run", "--rm", "--network", "bridge", "-p", "80/sctp", "peer:latest", "true",
               code=2)
    assert "sctp" in r.err, r.err


COMPOSE = """version: "3.8"
services:
  web:
    image: peer:latest
    network_mode: bridge
    command: ["netpeer", "{tcp_in}", "{udp_in}"]
    ports: ["{tcp}:{tcp_in}", "{udp}:{udp_in}/udp"]
    extra_hosts: ["hostgw:host-gateway"]
"""


def test_compose_publishes_ports_through_the_engine_api(tmp_path, gantry_bin, peer_image):
    """docker-compose 1.29 through `gantry system service`: a service with ports: up (create,
    then start: the ports taken at the start), reached from the host, docker's CLI's port and
    ps, down with no pasta left."""
    if not shutil.which("docker-compose") or not DOCKERS:
        pytest.skip("needs docker-compose and docker's CLI: apt-get install docker-compose "
                    "docker.io (scripts/install-deps.sh)")
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    sock = tmp_path / "run" / "api.sock"
    svc = start_service(g, sock, "--time", "0")
    project = f"gnet{os.getpid()}"
    tcp, udp = free_port(), free_port(socket.SOCK_DGRAM)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "docker-compose.yml").write_text(COMPOSE.format(
        tcp=tcp, udp=udp, tcp_in=TCP_IN, udp_in=UDP_IN))
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}", "HOME": str(tmp_path),
           "COMPOSE_PROJECT_NAME": project}

    def tool(*args):
        r = subprocess.run(list(args), capture_output=True, text=True, env=env,
                           cwd=tmp_path / "proj", timeout=120)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    name = f"{project}_web_1"
    try:
        tool("docker-compose", "up", "-d")
        g.wait_logged(name, "listening")
        assert tcp_line(tcp).startswith("tcp from ")
        assert udp_echo(udp) == b"udp:ping"
        assert tool(DOCKERS[0], "port", name, str(TCP_IN)) == f"0.0.0.0:{tcp}\n"
        ps = tool(DOCKERS[0], "ps", "--filter", f"name={name}", "--format", "{{.Ports}}")
        assert f"0.0.0.0:{tcp}->{TCP_IN}/tcp" in ps and f"0.0.0.0:{udp}->{UDP_IN}/udp" in ps, ps
        pid = inspect(g, name)["State"]["Pid"]
        helpers = pastas_for(pid)
        assert len(helpers) == 1, helpers
        assert "hostgw" in g.run("exec", name, "cat", "/etc/hosts").out
        tool("docker-compose", "down", "-t", "1")
        await_gone(helpers[0])
        # the network endpoints compose's down and docker's CLI use: a missing network is a
        # 404 (removed, for compose), a pre-defined one cannot be removed, prune removes none
        r = subprocess.run([DOCKERS[0], "network", "rm", f"{project}_default"],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode != 0 and "No such network" in r.stderr, r  # the CLI reads a 404
        r = subprocess.run([DOCKERS[0], "network", "rm", "bridge"], capture_output=True,
                           text=True, env=env, timeout=60)
        assert "pre-defined network and cannot be removed" in r.stderr, r
        assert tool(DOCKERS[0], "network", "prune", "-f") == ""
        assert tool(DOCKERS[0], "network", "ls", "--format", "{{.Name}}").split() == [
            "bridge", "host", "none"]
    finally:
        subprocess.run(["docker-compose", "down", "-t", "1"], capture_output=True, env=env,
                       cwd=tmp_path / "proj", timeout=120)
        svc.terminate()
        svc.wait(timeout=10)
    left = g.run("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                 "-q").out.split()
    assert left == [], left
