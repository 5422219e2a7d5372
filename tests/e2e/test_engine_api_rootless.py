"""`gantry system service` as an unprivileged user (issue 54: rootless by default, the socket the
user's alone): its default socket under $XDG_RUNTIME_DIR/gantry/ (0600, in a 0700 directory,
both the user's), docker's CLI running containers through it as that user (inside, root of the
container's user namespace), the containers outliving the service (which stops, and exits when
idle, though `docker run -d` left a wait unread), and another unprivileged
user refused at the socket."""
import os
import pwd
import select
import stat
import subprocess

import pytest

from conftest import load_busybox
from fixtures import mkimage
from test_engine_api import DOCKERS

pytestmark = pytest.mark.skipif(not DOCKERS, reason="needs docker's CLI: apt-get install docker.io")


def as_user(user, argv):
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
            "--", *argv]


def test_the_service_as_an_unprivileged_user(rootless):
    if os.geteuid() != 0:
        pytest.skip("runs the service as one user and a client as another: needs root")
    g = rootless
    load_busybox(g, mkimage, g.base)
    xdg = g.base / "xdg"
    xdg.mkdir(mode=0o700)
    os.chown(xdg, g.user.pw_uid, g.user.pw_gid)
    g.env["XDG_RUNTIME_DIR"] = str(xdg)
    svc = g.popen("system", "service", "--time", "0", stderr=subprocess.PIPE, text=True)
    name = f"rootless-api-{os.getpid()}"
    try:
        ready, _, _ = select.select([svc.stderr], [], [], 30)
        line = svc.stderr.readline() if ready else ""
        assert "serving the Docker Engine API" in line, (line, svc.poll())
        sock = xdg / "gantry" / "gantry.sock"
        st, dst = sock.stat(), sock.parent.stat()
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        assert stat.S_IMODE(dst.st_mode) == 0o700, oct(dst.st_mode)
        assert st.st_uid == dst.st_uid == g.user.pw_uid
        env = {"PATH": "/usr/bin:/bin", "HOME": str(g.base), "DOCKER_HOST": f"unix://{sock}",
               "DOCKER_CONFIG": str(g.base / "docker-config")}

        def docker(user, *args):
            return subprocess.run(as_user(user, [DOCKERS[0], *args]), capture_output=True,
                                  text=True, env=env, timeout=60)

        r = docker(g.user, "run", "--rm", "sample:latest", "sh", "-c", "echo via-socket; id -u")
        assert (r.returncode, r.stdout) == (0, "via-socket\n0\n"), r
        r = docker(g.user, "run", "-d", "--name", name, "sample:latest", "sleep", "60")
        assert r.returncode == 0, r
        # the service's containers are the user's gantry's: its CLI sees this one running,
        # and it keeps running after the service is gone
        assert docker(g.user, "ps", "--format", "{{.Names}}").stdout.split().count(name) == 1
        # another unprivileged user cannot reach the socket
        other = pwd.getpwnam("daemon")
        r = docker(other, "ps")
        assert r.returncode != 0 and "permission denied" in r.stderr, r
        # docker run -d asked for the container's wait and left without reading it: the
        # service still stops at once (it hung in libmicrohttpd's join of that wait's thread)
        svc.terminate()
        svc.wait(timeout=10)
        assert not sock.exists()
        assert g.run("ps", "--format", "{{.Names}}").out.split().count(name) == 1
        # and one started with --time exits once idle, the abandoned wait no connection it counts
        svc = g.popen("system", "service", "--time", "1", stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([svc.stderr], [], [], 30)
        assert "serving" in (svc.stderr.readline() if ready else "")
        r = docker(g.user, "run", "-d", "--name", name + "-2", "sample:latest", "sleep", "60")
        assert r.returncode == 0, r
        assert svc.wait(timeout=20) == 0
    finally:
        if svc.poll() is None:
            svc.kill()
            svc.wait()
        g.run("rm", "-f", name, name + "-2", check=False)
