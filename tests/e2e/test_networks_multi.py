"""Several user networks per container and `network connect`/`disconnect` (issue 75, part 3):
a container on two networks gets an interface on each (eth0, eth1 in the order given), reaches
the members of both by name, and is found by name from each network only by its members;
connecting a running container makes its interface and its name appear at once, disconnecting
takes them away; a created container connected before its start starts on both. The Engine
API with docker-compose 1.29: a file of two networks (frontend: web + api, backend: api + db),
compose creating api on one and connecting it to the other before its start; podman 4.3's
service runs the same file in the same test (root)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import Gantry, need_tool
from network_common import (_netavark, compose_at, docker_at, load_peer,  # noqa: F401
                            podman_service)
from test_engine_api import DOCKERS, start_service
from test_networks import TCP_IN, UDP_IN, await_gone, peer_image  # noqa: F401
from test_networks_user import endpoint, holder_of, lookup, serve


def networks_of(g, name):
    return json.loads(g.run("inspect", name).out)[0]["NetworkSettings"]["Networks"]


def unresolved(g, container, name):
    """NAME does not resolve in CONTAINER through its libc (getaddrinfo: the search domain,
    then the name itself, as programs resolve; busybox nslookup stops at the first)."""
    r = g.run("exec", container, "sh", "-c", f"nc {name} {TCP_IN}", check=False)
    return f"bad address '{name}'" in r.out + r.err


def check_two_networks(g, store, sfx):
    front, back = f"front{sfx}", f"back{sfx}"
    g.run("network", "create", "--subnet", "10.89.91.0/24", front)
    g.run("network", "create", "--subnet", "10.89.92.0/24", back)
    before = set(holder_of(store))
    web, db, api, late, solo, bare = (
        n + sfx for n in ("web", "db", "api", "late", "solo", "bare"))
    serve(g, web, front)
    serve(g, db, back)
    serve(g, api, front, "--network", back, "--network-alias", "apialias")
    try:
        held = set(holder_of(store)) - before
        nets = networks_of(g, api)
        assert sorted(nets) == sorted([front, back]), nets
        on_front, on_back = nets[front]["IPAddress"], nets[back]["IPAddress"]
        assert on_front.startswith("10.89.91.") and on_back.startswith("10.89.92."), nets
        assert "apialias" in nets[front]["Aliases"] and "apialias" in nets[back]["Aliases"]
        # an interface per network, in the order given; each network's DNS
        r = g.run("exec", api, "cat", "/sys/class/net/eth0/address",
                  "/sys/class/net/eth1/address", "/etc/resolv.conf")
        lines = r.out.splitlines()
        assert lines[:2] == [nets[front]["MacAddress"], nets[back]["MacAddress"]], (lines, nets)
        assert "nameserver 10.89.91.1" in lines and "nameserver 10.89.92.1" in lines, lines
        # api reaches both by name, from its address on each; web finds api, not db
        r = g.run("exec", api, "sh", "-c", f"nc {web} {TCP_IN}; nc {db} {TCP_IN}")
        assert r.out.splitlines() == [f"tcp from {on_front}", f"tcp from {on_back}"], r.out
        assert lookup(g, api, "exec", web) == on_front
        assert unresolved(g, web, db) and not unresolved(g, web, api)
        assert lookup(g, "apialias", "exec", db) == on_back

        # connect of a running container: its eth1 and its name on the network at once
        g.run("network", "connect", "--alias", "webby", back, web)
        wb = endpoint(g, web, back)
        assert wb["IPAddress"].startswith("10.89.92.") and "webby" in wb["Aliases"], wb
        r = g.run("exec", web, "sh", "-c", f"cat /sys/class/net/eth1/address; nc {db} {TCP_IN}")
        assert r.out.splitlines() == [wb["MacAddress"], f"tcp from {wb['IPAddress']}"], r.out
        assert lookup(g, "webby", "exec", db) == wb["IPAddress"]
        r = g.fail("network", "connect", back, web)
        assert "already exists in network" in r.err, r.err
        # and disconnect: the interface and the name gone
        g.run("network", "disconnect", back, web)
        assert unresolved(g, db, "webby") and unresolved(g, web, db)
        assert "eth1" not in g.run("exec", web, "ls", "/sys/class/net").out.split()
        assert sorted(networks_of(g, web)) == [front]
        r = g.fail("network", "disconnect", back, web)
        assert "is not connected to network" in r.err, r.err
        r = g.fail("network", "connect", "nosuch" + sfx, web)
        assert "not found" in r.err, r.err

        # a created container connected before its start starts on both
        g.run("create", "--name", late, "--network", front, "peer:latest",
              "netpeer", str(TCP_IN), str(UDP_IN))
        g.run("network", "connect", "--alias", "lately", back, late)
        assert sorted(networks_of(g, late)) == sorted([front, back])
        g.run("start", late)
        g.wait_logged(late, "listening")
        nets = networks_of(g, late)
        assert nets[back]["IPAddress"].startswith("10.89.92."), nets
        assert lookup(g, "lately", "exec", db) == nets[back]["IPAddress"]
        # its first network left while it runs: eth0 gone, eth1 stays
        g.run("network", "disconnect", front, late)
        assert unresolved(g, web, late)
        assert lookup(g, late, "exec", db) == nets[back]["IPAddress"]
        # a created container left with no network (none) joins another before its start; a
        # running one not made on a user network is refused, naming why
        g.run("create", "--name", solo, "--network", front, "peer:latest", "sleep", "60")
        g.run("network", "disconnect", front, solo)
        assert list(networks_of(g, solo)) == ["none"]  # as docker shows a none container
        g.run("network", "connect", back, solo)
        g.run("start", solo)
        assert endpoint(g, solo, back)["IPAddress"].startswith("10.89.92.")
        g.run("run", "-d", "--name", bare, "--network", "none", "peer:latest", "sleep", "60")
        r = g.fail("network", "connect", back, bare)
        assert r.code == 7 and "made on one" in r.err, (r.code, r.err)
    finally:
        for name in (web, db, api, late, solo, bare):
            g.run("rm", "-f", name, check=False)
    # the last container gone: the holder ends, connects or not
    for pid in held:
        await_gone(pid)
    g.run("network", "rm", front, back)


def test_two_networks_and_connect_rootless(rootless, peer_image):  # noqa: F811
    g = rootless
    need_tool("pasta")
    load_peer(g, peer_image)
    # a suffix of its own: container names are the user's, across stores, and
    # test_networks_user.py's rootless test runs as the same user, maybe at the same time
    check_two_networks(g, g.base / "store", "-m")


COMPOSE = """services:
  web:
    image: {image}
    networks: [frontend]
    depends_on: [api]
    command: ["sh", "-c", "until nc api {TCP_IN}; do sleep 0.2; done; nc db {TCP_IN} 2>&1 | grep -q 'bad address' && echo db-unresolved || echo db-resolved; exec netpeer {TCP_IN} {UDP_IN}"]
  api:
    image: {image}
    networks: [frontend, backend]
    depends_on: [db]
    command: ["netpeer", "{TCP_IN}", "{UDP_IN}"]
  db:
    image: {image}
    networks: [backend]
    command: ["netpeer", "{TCP_IN}", "{UDP_IN}"]
networks:
  frontend: {{}}
  backend: {{}}
"""


def compose_two(tmp_path, sock, project, image):
    proj = tmp_path / f"proj-{project}"
    proj.mkdir()
    (proj / "docker-compose.yml").write_text(
        COMPOSE.format(TCP_IN=TCP_IN, UDP_IN=UDP_IN, image=image))
    return compose_at(proj, sock, tmp_path, project)


def logged(logs, word):
    """LOGS() (a container's output) once it holds WORD: compose's web logs its verdict after
    its loop reached api; 20 s at most."""
    for _ in range(200):
        out = logs()
        if word in out:
            return out
        time.sleep(0.1)
    return logs()


def two_networks_on_podman(tmp_path, peer_image, project):  # noqa: F811
    """The same file through podman 4.3's service: web reaches api and does not resolve db, api
    reaches both by name. Returns (web's log, what api got from both), or None where podman is
    missing."""
    if os.geteuid() != 0 or not shutil.which("podman") or not os.path.exists(
            "/usr/lib/cni/dnsname"):
        return None
    sock = tmp_path / "podman" / "api.sock"
    subprocess.run(["podman", "load", "-i", str(peer_image)], check=True, capture_output=True)
    try:
        with podman_service(sock):
            compose = compose_two(tmp_path, sock, project, "localhost/peer:latest")
            try:
                compose("up", "-d")
                out = logged(lambda: subprocess.run(["podman", "logs", f"{project}_web_1"],
                                                    capture_output=True, text=True).stdout, "db-")
                api = subprocess.run(["podman", "exec", f"{project}_api_1", "sh", "-c",
                                      f"nc web {TCP_IN} 2>&1; nc db {TCP_IN} 2>&1"],
                                     capture_output=True, text=True).stdout
                compose("down", "-t", "1")
                return out, api
            finally:
                compose("down", "-t", "1", check=False)
    finally:
        subprocess.run(["podman", "rmi", "-f", "localhost/peer:latest"], capture_output=True)


def test_compose_two_networks(tmp_path, gantry_bin, peer_image):  # noqa: F811
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose")
    if os.geteuid() != 0:
        pytest.skip("needs root (podman's service beside it)")
    need_tool("pasta")
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    sock = tmp_path / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    project = f"gtwo{os.getpid()}"
    compose = compose_two(tmp_path, sock, project, "peer:latest")
    try:
        compose("up", "-d")
        web, api = f"{project}_web_1", f"{project}_api_1"
        nets = networks_of(g, api)
        assert sorted(nets) == sorted([f"{project}_frontend", f"{project}_backend"]), nets
        assert all("api" in n["Aliases"] and n["IPAddress"] for n in nets.values()), nets
        # web reached api by name, and cannot resolve db; api resolves both
        out = logged(lambda: g.run("logs", web).out, "db-")
        me = endpoint(g, web, f"{project}_frontend")["IPAddress"]
        assert f"tcp from {me}" in out and "db-unresolved" in out, out
        api_on = {n.split("_")[-1]: e["IPAddress"] for n, e in nets.items()}
        r = g.run("exec", api, "sh", "-c", f"nc web {TCP_IN}; nc db {TCP_IN}")
        assert r.out.splitlines() == [f"tcp from {api_on['frontend']}",
                                      f"tcp from {api_on['backend']}"], (r.out, nets)
        if DOCKERS:  # docker's CLI: connect and disconnect of the running web, and its errors
            docker = docker_at(sock, tmp_path)
            back = f"{project}_backend"
            r = docker("network", "connect", "--alias", "webby", back, web)
            assert r.returncode == 0, r
            r = docker("network", "connect", back, web)
            assert r.returncode != 0 and "already exists in network" in r.stderr, r
            r = docker("network", "disconnect", "nosuchnet", web)
            assert r.returncode != 0 and "not found" in r.stderr, r
            mine = endpoint(g, web, back)["IPAddress"]
            r = g.run("exec", web, "sh", "-c", f"nc db {TCP_IN}")
            assert r.out.strip() == f"tcp from {mine}", r.out
            assert docker("network", "disconnect", back, web).returncode == 0
            assert unresolved(g, web, "db")
            r = docker("network", "disconnect", back, web)
            assert r.returncode != 0 and "is not connected to network" in r.stderr, r
        compose("down", "-t", "1")
        assert project not in g.run("network", "ls").out
        theirs = two_networks_on_podman(tmp_path, peer_image, project + "p")
        if theirs is not None:
            log, reached = theirs
            assert "tcp from 10." in log and "db-unresolved" in log, log
            # podman 4.3 root here is CNI's, a dnsmasq per network (dnsname): api asks the
            # first network's alone, which does not know the other's names (gantry's
            # aardvark-dns answers from each of the asker's networks)
            # (its first network here is backend: db is reached, web is not found)
            lines = reached.splitlines()
            assert len(lines) == 2 and any(ln.startswith("tcp from 10.") for ln in lines) and all(
                ln.startswith("tcp from 10.") or "bad address" in ln for ln in lines), reached
    finally:
        compose("down", "-t", "1", check=False)
        p.terminate()
        p.wait(timeout=10)
