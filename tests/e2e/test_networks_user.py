"""User-defined networks (issue 75, part 2): `gantry network create|ls|inspect|rm|prune`,
containers on a network resolving each other's names and aliases through aardvark-dns and
reaching each other through netavark's bridge, --internal (no route out), a chosen subnet, a
name that leaves stops resolving, and cleanup: the networks' holder, pasta and aardvark-dns end
with the last container, also when its gantry was killed; as root and rootless. The Engine API
with docker-compose 1.29: the project's network, one service reaching another by its service
name, `down` removing the network. Each container runs netpeer (test_networks.py), so one start
covers an assertion group; a published port of a container on a network is reached from
the host."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import Gantry, need_tool
from network_common import (_netavark, compose_at, docker_at, load_peer,  # noqa: F401
                            peer_store_as_root, podman_service)
from test_engine_api import DOCKERS, start_service
from test_networks import (TCP_IN, UDP_IN, await_gone, free_port, parent_of,  # noqa: F401
                           peer_image, tcp_line)


def processes(word):
    """{pid: argv} of the processes whose command line holds WORD."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if any(word.encode() in a for a in argv):
            out[int(p)] = [a.decode(errors="replace") for a in argv if a]
    return out


def holder_of(store):
    """The networks' holders and aardvark-dns of STORE's networks: their directory is named
    by the store's root (network/holder.hpp), which their command lines carry."""
    import hashlib
    key = hashlib.sha256(str(store).encode()).hexdigest()[:12]
    return {**{p: a for p, a in processes("__network-holder").items() if key in " ".join(a)},
            **{p: a for p, a in processes("aardvark-dns").items() if key in " ".join(a)}}


def endpoint(g, name, net):
    return json.loads(g.run("inspect", name).out)[0]["NetworkSettings"]["Networks"][net]


def serve(g, name, net, *flags):
    g.run("run", "-d", "--name", name, "--network", net, *flags, "peer:latest",
          "netpeer", str(TCP_IN), str(UDP_IN))
    g.wait_logged(name, "listening")


def lookup(g, name, *args):
    """busybox nslookup NAME from a container (its last Address line), or None."""
    r = g.run(*args, "busybox", "nslookup", "-type=a", name, check=False)
    addrs = [ln.split()[-1] for ln in r.out.splitlines() if ln.startswith("Address")]
    return addrs[-1] if r.code == 0 and len(addrs) > 1 else None


def check_network(g, store, suffix):
    """The assertion groups both users share: one network with a chosen subnet and an
    --internal one, two servers, a client; then cleanup."""
    net, internal = f"front{suffix}", f"back{suffix}"
    out = g.run("network", "create", "--subnet", "10.89.77.0/24", "--label", "tier=front",
                net).out.strip()
    assert len(out) == 64, out
    g.run("network", "create", "--internal", internal)
    r = g.fail("network", "create", net)
    assert "already exists" in r.err, r.err
    info = json.loads(g.run("network", "inspect", net).out)[0]
    assert info["Id"] == out and info["Driver"] == "bridge" and not info["Internal"]
    assert info["IPAM"]["Config"] == [{"Subnet": "10.89.77.0/24", "Gateway": "10.89.77.1"}]
    assert info["Labels"] == {"tier": "front"}
    ls = g.run("network", "ls", "--filter", "type=custom", "-q").out.split()
    assert sorted(ls) == sorted([out[:12], json.loads(g.run(
        "network", "inspect", internal).out)[0]["Id"][:12]]), ls
    before = set(holder_of(store))
    published = free_port()
    serve(g, "web" + suffix, net, "--network-alias", "webalias", "-p", f"{published}:{TCP_IN}")
    serve(g, "db" + suffix, net)
    try:
        web = endpoint(g, "web" + suffix, net)
        assert web["IPAddress"].startswith("10.89.77.") and web["Gateway"] == "10.89.77.1", web
        assert web["IPPrefixLen"] == 24 and len(web["MacAddress"]) == 17, web
        assert "webalias" in web["Aliases"], web
        held = set(holder_of(store)) - before
        assert held, "no holder for the store's networks"
        # its published port reached from the host (its own pasta, beside the network's eth0)
        assert tcp_line(published).startswith("tcp from "), published
        assert g.run("port", "web" + suffix).out == f"{TCP_IN}/tcp -> 0.0.0.0:{published}\n"
        # names and aliases from every container on the network; traffic over its bridge
        client = ["run", "--rm", "--network", net, "peer:latest"]
        r = g.run(*client, "sh", "-c", f"nc web{suffix} {TCP_IN}; nc webalias {TCP_IN}; "
                  "cat /etc/resolv.conf /proc/net/route; hostname -i")
        lines = r.out.splitlines()
        me = lines[-1].strip()
        assert lines[0] == f"tcp from {me}" and lines[1] == f"tcp from {me}", lines
        assert me.startswith("10.89.77.") and me != web["IPAddress"], lines
        assert "nameserver 10.89.77.1" in lines, lines
        assert any(ln.split()[1:2] == ["00000000"] for ln in lines if "\t" in ln), lines
        assert lookup(g, "webalias", "exec", "db" + suffix) == web["IPAddress"]
        # the network's containers, as docker's inspect shows them; rm refused while in use
        info = json.loads(g.run("network", "inspect", net).out)[0]
        ids = {c["Name"] for c in info["Containers"].values()}
        assert ids == {"web" + suffix, "db" + suffix}, info["Containers"]
        r = g.fail("network", "rm", net)
        assert "active endpoints" in r.err, r.err
        # --internal: no route out (no default route), and no port published from it
        r = g.run("run", "--rm", "--network", internal, "peer:latest", "cat", "/proc/net/route")
        assert not any(ln.split()[1:2] == ["00000000"] for ln in r.out.splitlines()[1:]), r.out
        r = g.fail("run", "--rm", "--network", internal, "-p", "8080", "peer:latest", "true")
        assert "is --internal" in r.err, r.err
        # a name that left stops resolving
        g.run("rm", "-f", "web" + suffix)
        assert lookup(g, "webalias", "exec", "db" + suffix) is None
        assert lookup(g, "db" + suffix, "exec", "db" + suffix) is not None
    finally:
        for name in ("web" + suffix, "db" + suffix):
            g.run("rm", "-f", name, check=False)
    # the last container gone: its holder, pasta and aardvark-dns end with it
    for pid in held:
        await_gone(pid)
    g.run("network", "rm", net, internal)
    assert g.run("network", "ls", "-q", "--filter", "type=custom").out.strip() == ""


def test_user_network_as_root(tmp_path, gantry_bin, peer_image):  # noqa: F811
    g = peer_store_as_root(tmp_path, peer_image)
    check_network(g, tmp_path / "store", f"-{os.getpid()}")
    # the holder killed outright: its namespace (aardvark-dns, pasta) ends with it, and the next
    # run on the network starts a new one, with no name left of the old one
    g.run("network", "create", "again")
    before = set(holder_of(tmp_path / "store"))
    serve(g, "orphan", "again")
    outer = [p for p, argv in holder_of(tmp_path / "store").items()
             if p not in before and "__network-holder" in " ".join(argv)
             and parent_of(p) not in holder_of(tmp_path / "store")]
    assert len(outer) == 1, outer
    held = set(holder_of(tmp_path / "store")) - before
    os.kill(outer[0], signal.SIGKILL)
    for p in held:
        await_gone(p)
    r = g.run("run", "--rm", "--network", "again", "peer:latest", "sh", "-c",
              "hostname -i; busybox nslookup -type=a orphan || echo gone")
    assert r.out.splitlines()[0].startswith("10.89.") and "gone" in r.out, r.out
    g.run("rm", "-f", "orphan")
    g.run("network", "rm", "again")
    # refusals, named: a missing network, a missing container to connect, another driver
    r = g.fail("run", "--rm", "--network", "nosuch", "peer:latest", "true")
    assert "network nosuch not found" in r.err, r.err
    g.run("network", "create", "pnet")
    r = g.fail("network", "connect", "pnet", "x")
    assert 'no container named "x"' in r.err, r.err
    r = g.fail("network", "create", "--driver", "macvlan", "m")
    assert "macvlan" in r.err, r.err
    assert g.run("network", "prune", "-f").out.split() == ["pnet"]


def test_user_network_rootless_and_a_killed_monitor(rootless, peer_image):  # noqa: F811
    g = rootless
    need_tool("pasta")
    load_peer(g, peer_image)
    store = g.base / "store"
    check_network(g, store, "")
    # gantry's monitor killed outright: the container, and the holder with its last container
    g.run("network", "create", "crash")
    before = set(holder_of(store))
    serve(g, "victim", "crash")
    held = set(holder_of(store)) - before
    pid = json.loads(g.run("inspect", "victim").out)[0]["State"]["Pid"]
    os.kill(parent_of(pid), signal.SIGKILL)
    await_gone(pid)
    for p in held:
        await_gone(p)
    g.run("rm", "-f", "victim")
    # and the next run on it works
    r = g.run("run", "--rm", "--network", "crash", "peer:latest", "hostname", "-i")
    assert r.out.strip().startswith("10.89."), r.out
    g.run("network", "rm", "crash")


COMPOSE = """services:
  api:
    image: peer:latest
    command: ["netpeer", "{TCP_IN}", "{UDP_IN}"]
    ports: ["{published}:{TCP_IN}"]
  client:
    image: peer:latest
    depends_on: [api]
    command: ["sh", "-c", "until nc api {TCP_IN}; do sleep 0.2; done; exec sleep 60"]
"""


def compose_in(tmp_path, sock, project, published):
    """docker-compose 1.29 on COMPOSE (its api service published on PUBLISHED) against SOCK."""
    proj = tmp_path / f"proj-{sock.parent.name}"
    proj.mkdir()
    (proj / "docker-compose.yml").write_text(
        COMPOSE.format(TCP_IN=TCP_IN, UDP_IN=UDP_IN, published=published))
    return compose_at(proj, sock, tmp_path, project)


def podman_compose_differential(tmp_path, peer_image, project):  # noqa: F811
    """The same file through podman 4.3's service, in the same run: its client reaches api by
    its service name, the host its published port, and `down` removes the project network.
    Returns what the client logged, or None where podman (or its DNS plugin) is missing."""
    if os.geteuid() != 0 or not shutil.which("podman") or not os.path.exists(
            "/usr/lib/cni/dnsname"):
        return None  # podman root's CNI networks resolve names only with the dnsname plugin
    sock = tmp_path / "podman" / "api.sock"
    tag = f"localhost/gnetpeer{os.getpid()}:latest"
    subprocess.run(["podman", "load", "-i", str(peer_image)], check=True, capture_output=True)
    subprocess.run(["podman", "tag", "peer:latest", tag], check=False, capture_output=True)
    published = free_port()
    try:
        with podman_service(sock):
            compose = compose_in(tmp_path, sock, project, published)
            try:
                compose("up", "-d")
                assert tcp_line(published).startswith("tcp from "), published
                client = f"{project}_client_1"
                for _ in range(200):
                    out = subprocess.run(["podman", "logs", client], capture_output=True,
                                         text=True).stdout
                    if "tcp from" in out:
                        break
                    time.sleep(0.1)
                compose("down", "-t", "1")
                nets = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"],
                                      capture_output=True, text=True).stdout.split()
                assert project + "_default" not in nets, nets
                return out
            finally:
                compose("down", "-t", "1", check=False)
    finally:
        subprocess.run(["podman", "rmi", "-f", "peer:latest", tag], capture_output=True)


def test_compose_stack_by_service_name(tmp_path, gantry_bin, peer_image):  # noqa: F811
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose")
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    sock = tmp_path / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    published = free_port()
    project = f"gnet{os.getpid()}"
    compose = compose_in(tmp_path, sock, project, published)

    try:
        compose("up", "-d")
        assert project + "_default" in g.run("network", "ls").out
        client = f"{project}_client_1"
        me = endpoint(g, client, project + "_default")
        # the client reached the api service by its name, from its own address on the network
        g.wait_logged(client, f"tcp from {me['IPAddress']}")
        api = endpoint(g, f"{project}_api_1", project + "_default")
        assert "api" in api["Aliases"] and api["IPAddress"].startswith("10.89."), api
        assert tcp_line(published).startswith("tcp from "), published  # its published port
        if DOCKERS:  # docker's CLI over the same endpoints: its listing, inspect, a 409
            docker = docker_at(sock, tmp_path)
            info = json.loads(docker("network", "inspect", project + "_default").stdout)[0]
            assert {c["Name"] for c in info["Containers"].values()} == {
                client, f"{project}_api_1"}, info
            r = docker("network", "rm", project + "_default")
            assert r.returncode != 0 and "active endpoints" in r.stderr, r
        compose("down", "-t", "1")
        assert project + "_default" not in g.run("network", "ls").out
        # podman 4.3's service with the same file, in the same run: the same behaviour
        theirs = podman_compose_differential(tmp_path, peer_image, project + "p")
        if theirs is not None:
            assert "tcp from 10." in theirs, theirs
        assert holder_of(tmp_path / "store") == {} or all(
            await_gone(x) is None for x in holder_of(tmp_path / "store"))
    finally:
        compose("down", "-t", "1", check=False)
        p.terminate()
        p.wait(timeout=10)


def test_user_network_with_subordinate_ids(subid_user, peer_image):  # noqa: F811
    """A user with /etc/subuid's range: the networks' user namespace maps it all (newuidmap),
    the containers join it with their full maps, and the first container's name resolves from
    a container started at once (aardvark-dns listening before netavark's setup returns)."""
    g = subid_user
    need_tool("pasta")
    load_peer(g, peer_image)
    g.run("network", "create", "sub")
    before = set(holder_of(g.base / "store"))
    g.run("run", "-d", "--name", "first", "--network", "sub", "peer:latest", "sleep", "60")
    try:
        held = set(holder_of(g.base / "store")) - before
        r = g.run("run", "--rm", "--network", "sub", "peer:latest", "sh", "-c",
                  "cat /proc/self/uid_map; busybox nslookup -type=a first")
        maps = [ln.split() for ln in r.out.splitlines()[:2]]
        assert len(maps) == 2 and maps[1][2] != "1", r.out  # the subordinate range too
        assert endpoint(g, "first", "sub")["IPAddress"] in r.out.splitlines()[-2], r.out
    finally:
        g.run("rm", "-f", "first", check=False)
    for p in held:
        await_gone(p)
    g.run("network", "rm", "sub")


BUILT = """services:
  db:
    image: peer:latest
    command: ["sh", "-c", "sleep 0.3; touch /tmp/ready; exec netpeer {TCP_IN} {UDP_IN}"]
    networks:
      default: {{ipv4_address: 10.89.98.10}}
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready"]
      interval: 200ms
      retries: 50
  app:
    build: ./app
    depends_on:
      db: {{condition: service_healthy}}
    ports: ["127.0.0.1:{published}:{TCP_IN}"]
networks:
  default:
    ipam:
      config: [{{subnet: 10.89.98.0/24}}]
"""
APP = """FROM peer:latest
RUN echo built-here > /built
CMD ["sh", "-c", "nc db {TCP_IN} > /tmp/db; cat /built /tmp/db; exec netpeer {TCP_IN} {UDP_IN}"]
"""


def check_built_stack(g, sock, tmp_path, project):
    """The issue's second held-out stack through the service on SOCK: a service built from a
    Dockerfile (compose's build, POST /build) that starts once its database's health check
    passes (depends_on service_healthy), reaches it by name on the project network, and
    publishes its port; the database at compose's ipv4_address (the network's ipam subnet).
    (podman 4.3's service here never runs the health check, which it schedules through
    systemd: compose waits on "starting" for ever, so there is no differential.)"""
    p = start_service(g, sock, "--time", "0")
    published = free_port()
    proj = tmp_path / f"built-{project}"
    (proj / "app").mkdir(parents=True)
    (proj / "docker-compose.yml").write_text(
        BUILT.format(TCP_IN=TCP_IN, UDP_IN=UDP_IN, published=published))
    (proj / "app" / "Dockerfile").write_text(APP.format(TCP_IN=TCP_IN, UDP_IN=UDP_IN))
    compose = compose_at(proj, sock, tmp_path, project, timeout=300)
    try:
        compose("up", "-d")
        app = f"{project}_app_1"
        me = endpoint(g, app, project + "_default")["IPAddress"]
        g.wait_logged(app, f"tcp from {me}")  # db reached by name, after its health check
        assert "built-here" in g.run("logs", app).out
        db = endpoint(g, f"{project}_db_1", project + "_default")  # compose's ipv4_address
        assert db["IPAddress"] == "10.89.98.10" and db["IPAMConfig"] == {
            "IPv4Address": "10.89.98.10"}, db
        assert tcp_line(published).startswith("tcp from "), published  # its published port
        compose("down", "-t", "1")
        assert project + "_default" not in g.run("network", "ls").out
    finally:
        compose("down", "-t", "1", check=False)
        p.terminate()
        p.wait(timeout=10)


def test_compose_built_service_beside_a_healthy_database(tmp_path, gantry_bin,
                                                         peer_image):  # noqa: F811
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose")
    need_tool("pasta")
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    check_built_stack(g, tmp_path / "run" / "api.sock", tmp_path, f"gbuilt{os.getpid()}")


def test_compose_built_service_beside_a_healthy_database_rootless(rootless, tmp_path,
                                                                  peer_image):  # noqa: F811
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose")
    g = rootless
    need_tool("pasta")
    load_peer(g, peer_image)
    sock = g.base / "run" / "api.sock"
    os.makedirs(sock.parent, mode=0o755)
    if g.user is not None:  # the service's user makes its socket there
        os.chown(sock.parent, g.user.pw_uid, g.user.pw_gid)
    check_built_stack(g, sock, tmp_path, f"gbuiltr{os.getpid()}")
