"""docker's `top` and `port` (issue 54, section 1). top: the host's ps (default -ef, or the
options given), its rows for the processes in the container's PID namespace, as docker's daemon
filters them; compared here with the same ps run by the test over the container's processes
found by the test itself. port: gantry's containers use the host's network or none, so none has
a published port: docker's empty answer, and its error for a port asked for."""
import os
import subprocess

import pytest

from conftest import Gantry, load_busybox, need_tool
from fixtures import mkimage

TOKEN = f"top{os.getpid()}"


@pytest.fixture(scope="module")
def up(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("docker-top")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    name = f"{TOKEN}-up"
    g.run("run", "-d", "--name", name, "sample:latest", "sh", "-c",
          "sleep 300 & sleep 301 & wait")
    yield g, name
    g.run("rm", "-f", name)


def pids_in_namespace_of(pid):
    ns = os.stat(f"/proc/{pid}/ns/pid")
    out = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = os.stat(f"/proc/{p}/ns/pid")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (ns.st_dev, ns.st_ino):
                out.add(int(p))
    return out


def test_top_lists_the_containers_processes_as_ps_prints_them(up):
    g, name = up
    need_tool("ps")
    pid = int(g.run("inspect", "--format", "{{.State.Pid}}", name).out)
    mine = pids_in_namespace_of(pid)
    assert len(mine) == 3, mine  # sh and its two sleeps
    for args, pid_col in (([], 1), (["-o", "pid,args"], 0), (["aux"], 1)):
        out = g.run("top", name, *args).out.splitlines()
        ps = subprocess.run(["ps", *(args or ["-ef"])], capture_output=True, text=True,
                            check=True).stdout.splitlines()
        assert out[0] == ps[0], (out[0], ps[0])
        assert sorted(int(line.split()[pid_col]) for line in out[1:]) == sorted(mine), out
        assert sum(line.endswith(("sleep 300", "sleep 301")) for line in out) == 2, out
    # docker's group verb
    out = g.run("container", "top", name, "-o", "pid").out.split()
    assert out[0] == "PID" and sorted(map(int, out[1:])) == sorted(mine), out


def test_top_refuses_what_docker_refuses(up):
    g, name = up
    r = g.fail("top", name, "-o", "comm", code=2)
    assert "Couldn't find PID field in ps output" in r.err, r.err
    r = g.fail("top", name, "--bogus-option", code=2)
    assert "ps failed" in r.err, r.err
    r = g.fail("top", f"{TOKEN}-none", code=3)
    assert f'no container named "{TOKEN}-none"' in r.err, r.err
    done = f"{TOKEN}-done"
    g.run("run", "-d", "--name", done, "sample:latest", "true")
    g.run("wait", done)
    try:
        r = g.fail("top", done, code=5)
        assert f"container {done} is not running" in r.err, r.err
    finally:
        g.run("rm", done)


def test_port_has_nothing_published(up):
    g, name = up
    assert g.run("port", name).out == ""
    r = g.fail("port", name, "80", code=3)
    assert f"No public port '80/tcp' published for {name}" in r.err, r.err
    assert "host's network" in r.err
    r = g.fail("container", "port", name, "53/udp", code=3)
    assert f"No public port '53/udp' published for {name}" in r.err, r.err
