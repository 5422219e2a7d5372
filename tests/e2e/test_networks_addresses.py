"""Static addresses, IPv6 and network events on user networks (issue 75, part 4): `run --ip
--ip6` and `network connect --ip --ip6` give a container the address asked for (inspect's
IPAddress and IPAMConfig), refused in docker's words outside the subnet, on a network without
an IPv6 subnet, on a pre-defined network, or when another container has it; `network create
--ipv6` makes a network of both families where the host has IPv6 (an address of each, AAAA
answers from aardvark-dns, traffic over IPv6 between containers), and is refused naming why
where it has none; create, connect, disconnect and destroy are journalled as docker's network
events (`gantry events --filter type=network`). As root and rootless; as root also through the
Engine API with docker's CLI (its --ip, --ip6, network create --ipv6 and events)."""
import json
import os
import subprocess
import shutil
import time

from conftest import need_tool
from network_common import (_netavark, docker_at, load_peer, peer_store_as_root,  # noqa: F401
                            podman_conf)
from test_engine_api import DOCKERS, start_service
from test_networks import TCP_IN, UDP_IN, await_gone, peer_image  # noqa: F401
from test_networks_user import endpoint, holder_of, serve

SIX_PORT = 7070


def host_ipv6():
    """Whether this host has IPv6, as gantry reads it (network/addresses.hpp)."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


def aaaa(g, container, name):
    """NAME's IPv6 addresses as CONTAINER's resolver (aardvark-dns) answers them."""
    r = g.run("exec", container, "busybox", "nslookup", "-type=aaaa", name, check=False)
    # the first Address line is the server's
    return [ln.split()[-1] for ln in r.out.splitlines() if ln.startswith("Address")][1:]


def network_events(g, start, net):
    out = g.run("events", "--since", f"{start:.9f}", "--until", f"{time.time():.9f}",
                "--filter", "type=network", "--filter", f"network={net}",
                "--format", "{{json .}}").out
    return [json.loads(ln) for ln in out.splitlines()]


def check_addresses(g, store, sfx):
    v4, dual = f"st{sfx}", f"ds{sfx}"
    a, b, c = (n + sfx for n in ("sa", "sb", "sc"))
    start = time.time()
    g.run("network", "create", "--subnet", "10.89.93.0/24", v4)
    six = host_ipv6()
    if six:
        g.run("network", "create", "--ipv6", "--subnet", "10.89.94.0/24", "--subnet",
              "fd00:89:94::/64", dual)
        net = json.loads(g.run("network", "inspect", dual).out)[0]
        assert net["EnableIPv6"] is True, net
        assert [(c["Subnet"], c["Gateway"]) for c in net["IPAM"]["Config"]] == [
            ("10.89.94.0/24", "10.89.94.1"), ("fd00:89:94::/64", "fd00:89:94::1")], net
    else:
        r = g.fail("network", "create", "--ipv6", dual)
        assert "disable_ipv6" in r.err or "ipv6.disable" in r.err, r.err
    before = set(holder_of(store))
    try:
        serve(g, a, v4, "--ip", "10.89.93.50")
        e = endpoint(g, a, v4)
        assert e["IPAddress"] == "10.89.93.50" and e["IPAMConfig"] == {
            "IPv4Address": "10.89.93.50"}, e
        r = g.run("exec", a, "busybox", "ip", "-o", "-4", "addr", "show", "dev", "eth0")
        assert "inet 10.89.93.50/24" in r.out, r.out
        # docker's refusals, each named
        for flags, words in [
                (("--network", "bridge", "--ip", "10.89.93.51"),
                 "user specified IP address is supported on user defined networks only"),
                (("--network", v4, "--ip", "10.89.99.5"),
                 "Invalid address 10.89.99.5: It does not belong to any of this network's"),
                (("--network", v4, "--ip6", "fd00:89:93::5"),
                 "supported only when connecting to networks with user configured subnets"),
                (("--network", v4, "--ip", "10.89.93.50"), "Address already in use")]:
            r = g.fail("run", "--rm", *flags, "peer:latest", "true")
            assert words in r.err, (flags, r.err)
        if six:
            # eth0 on the dual network at the IPv6 address asked for, eth1 on v4
            serve(g, b, dual, "--ip6", "fd00:89:94::66", "--network", v4)
            e = endpoint(g, b, dual)
            assert (e["GlobalIPv6Address"], e["GlobalIPv6PrefixLen"], e["IPv6Gateway"]) == (
                "fd00:89:94::66", 64, "fd00:89:94::1"), e
            assert e["IPAddress"].startswith("10.89.94.") and e["IPAMConfig"] == {
                "IPv6Address": "fd00:89:94::66"}, e
            # b's eth1 counts on v4 too (network inspect's Containers; rm's "active endpoints")
            bid = json.loads(g.run("inspect", b).out)[0]["Id"]
            assert bid in json.loads(g.run("network", "inspect", v4).out)[0]["Containers"]
            inet6 = g.run("exec", b, "cat", "/proc/net/if_inet6").out
            assert "fd000089009400000000000000000066" in inet6, inet6
            g.run("run", "-d", "--name", c, "--network", dual, "peer:latest", "sh", "-c",
                  f"echo listening; while true; do echo six | nc -l -p {SIX_PORT}; done")
            g.wait_logged(c, "listening")
            assert endpoint(g, c, dual)["GlobalIPv6Address"] == "fd00:89:94::2"
            # AAAA from aardvark-dns, and a connection over IPv6 by that name
            assert aaaa(g, b, c) == ["fd00:89:94::2"], aaaa(g, b, c)
            assert aaaa(g, c, b) == ["fd00:89:94::66"]
            r = g.run("exec", b, "sh", "-c", f"nc fd00:89:94::2 {SIX_PORT} </dev/null")
            assert r.out.strip() == "six", r
            assert "fd00:89:94::66" in g.run("exec", b, "cat", "/etc/hosts").out
            net = json.loads(g.run("network", "inspect", dual).out)[0]
            assert net["Containers"][json.loads(g.run("inspect", b).out)[0]["Id"]][
                "IPv6Address"] == "fd00:89:94::66/64", net
            # connect of a running container at static addresses of both families (b's taken)
            r = g.fail("network", "connect", "--ip6", "fd00:89:94::66", dual, a)
            assert "Address already in use" in r.err, r.err
            g.run("network", "connect", "--ip", "10.89.94.77", "--ip6", "fd00:89:94::77",
                  dual, a)
            e = endpoint(g, a, dual)
            assert (e["IPAddress"], e["GlobalIPv6Address"]) == (
                "10.89.94.77", "fd00:89:94::77"), e
            assert aaaa(g, c, a) == ["fd00:89:94::77"]
            g.run("network", "disconnect", dual, a)
    finally:
        for name in (a, b, c):
            g.run("rm", "-f", name, check=False)
    for pid in set(holder_of(store)) - before:
        await_gone(pid)
    g.run("network", "rm", v4, *([dual] if six else []))
    # docker's network events, each with the network's id, name and type, and the container
    events = network_events(g, start, v4)
    acts = [ev["Action"] for ev in events]
    assert acts[0] == "create" and acts[-1] == "destroy", acts
    nid = events[0]["Actor"]["ID"]
    for ev in events:
        assert ev["Type"] == "network" and ev["Actor"]["ID"] == nid and len(nid) == 64, ev
        assert ev["Actor"]["Attributes"]["name"] == v4, ev
        assert ev["Actor"]["Attributes"]["type"] == "bridge", ev
        assert ("container" in ev["Actor"]["Attributes"]) == (
            ev["Action"] in ("connect", "disconnect")), ev
    # a's start and end on it, and b's (its eth1) where IPv6 is served
    k = 2 if six else 1
    assert sorted(acts[1:-1]) == ["connect"] * k + ["disconnect"] * k, acts


def podman_static(tmp_path, peer_image, six):  # noqa: F811
    """podman 4.3's run with the same flags on a network of the same subnets: what the container
    sees of its addresses, and podman's refusal of an address outside the subnet; None where
    podman is missing."""
    if not shutil.which("podman"):
        return None
    net = f"pst{os.getpid()}"
    conf = podman_conf(tmp_path)

    def podman(*args, check=True):
        r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "CONTAINERS_CONF": str(conf)})
        assert not check or r.returncode == 0, (args, r.stdout, r.stderr)
        return r
    podman("load", "-i", str(peer_image))
    try:
        podman("network", "create", "--subnet", "10.89.97.0/24",
               *(["--ipv6", "--subnet", "fd00:89:97::/64"] if six else []), net)
        seen = podman("run", "--rm", "--network", net, "--ip", "10.89.97.9",
                      *(["--ip6", "fd00:89:97::9"] if six else []), "localhost/peer:latest", "sh",
                      "-c", "hostname -i; cat /proc/net/if_inet6").stdout
        refused = podman("run", "--rm", "--network", net, "--ip", "10.89.98.5",
                         "localhost/peer:latest", "true", check=False)
        return seen, refused
    finally:
        podman("network", "rm", "-f", net, check=False)
        podman("rmi", "-f", "localhost/peer:latest", check=False)


def test_static_addresses_ipv6_and_events_as_root(tmp_path, gantry_bin, peer_image):  # noqa: F811
    g = peer_store_as_root(tmp_path, peer_image)
    check_addresses(g, tmp_path / "store", f"-{os.getpid()}")
    # podman 4.3 with the same flags: the address asked for, and an outside one refused
    theirs = podman_static(tmp_path, peer_image, host_ipv6())
    if theirs is not None:
        seen, refused = theirs
        assert "10.89.97.9" in seen.split() and (
            not host_ipv6() or "fd000089009700000000000000000009" in seen), seen
        assert refused.returncode != 0 and "10.89.98.5" in refused.stderr, refused
    if not DOCKERS:
        return
    # docker's CLI through the Engine API: network create --ipv6, run --ip --ip6, inspect,
    # a refusal, and `docker events --filter type=network`
    sock = tmp_path / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    net, ctr = f"dn{os.getpid()}", f"dc{os.getpid()}"
    docker = docker_at(sock, tmp_path)
    start = time.time()
    before = set(holder_of(tmp_path / "store"))
    try:
        six = host_ipv6()
        r = docker("network", "create", *(["--ipv6", "--subnet", "fd00:89:95::/64"] if six
                                          else []), "--subnet", "10.89.95.0/24", net)
        assert r.returncode == 0, r
        r = docker("run", "-d", "--name", ctr, "--network", net, "--ip", "10.89.95.9",
                   *(["--ip6", "fd00:89:95::9"] if six else []), "peer:latest", "netpeer",
                   str(TCP_IN), str(UDP_IN))
        assert r.returncode == 0, r
        e = json.loads(docker("inspect", ctr).stdout)[0]["NetworkSettings"]["Networks"][net]
        assert e["IPAddress"] == "10.89.95.9" and e["IPAMConfig"]["IPv4Address"] == "10.89.95.9"
        if six:
            assert e["GlobalIPv6Address"] == "fd00:89:95::9", e
            assert json.loads(docker("network", "inspect", net).stdout)[0]["EnableIPv6"] is True
        r = docker("run", "--rm", "--network", net, "--ip", "10.89.96.1", "peer:latest", "true")
        assert r.returncode != 0 and "does not belong to any of this network's subnets" in \
            r.stderr, r
        r = docker("network", "connect", "--ip", "10.89.95.9", net, ctr)
        assert r.returncode != 0 and "already exists in network" in r.stderr, r
        assert docker("rm", "-f", ctr).returncode == 0
        for pid in set(holder_of(tmp_path / "store")) - before:  # its end (and disconnect) done
            await_gone(pid)
        assert docker("network", "rm", net).returncode == 0
        r = docker("events", "--since", f"{start:.3f}", "--until", f"{time.time():.3f}",
                   "--filter", "type=network", "--filter", f"network={net}",
                   "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
        assert r.stdout.splitlines() == [f"network {a} {net}" for a in (
            "create", "connect", "disconnect", "destroy")], r
    finally:
        docker("rm", "-f", ctr)
        docker("network", "rm", net)
        p.terminate()
        p.wait(timeout=10)


def test_static_addresses_and_ipv6_rootless(rootless, peer_image):  # noqa: F811
    g = rootless
    need_tool("pasta")
    load_peer(g, peer_image)
    check_addresses(g, g.base / "store", "-r")
