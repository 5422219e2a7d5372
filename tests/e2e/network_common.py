"""What the user-network tests (test_networks_user.py, test_networks_multi.py,
test_networks_addresses.py) share: the skip where netavark or aardvark-dns is missing
(`_netavark`, an autouse fixture a module imports), the peer image loaded into a store
(`load_peer`, `peer_store_as_root`), docker-compose 1.29 and docker's CLI pointed at a service's
socket (`compose_at`, `docker_at`), and podman 4.3's service with the limits this host allows
(`podman_service`), the peer of their differential runs."""
import contextlib
import os
import shutil
import subprocess
import time

import pytest

from conftest import Gantry, need_tool
from test_engine_api import DOCKERS

# the limits of a container this host's crun may set: its hard limits are below podman's
# defaults (bench/networks.py)
PODMAN_CONF = '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'


@pytest.fixture(autouse=True)
def _netavark():
    for tool in ("/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns"):
        if not os.path.exists(tool):
            pytest.skip(f"needs {tool}: apt-get install netavark aardvark-dns "
                        "(scripts/install-deps.sh)")


def peer_store_as_root(tmp_path, peer_image):
    """gantry as root on a store in TMP_PATH holding PEER_IMAGE, pasta at hand; skips where the
    tests do not run as root."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    need_tool("pasta")
    g = Gantry(tmp_path / "store")
    g.run("load", peer_image)
    return g


def load_peer(g, peer_image):
    """PEER_IMAGE loaded into G's store through a copy in G's directory, which G's user (nobody,
    a subordinate-id user) can read where the session's copy may not be."""
    archive = g.base / "peer.tar"
    shutil.copy(peer_image, archive)
    os.chmod(archive, 0o644)
    g.run("load", archive)


def compose_at(proj, sock, home, project, timeout=120):
    """docker-compose 1.29 in the project folder PROJ against the service on SOCK:
    compose(*args, check=True) -> CompletedProcess, asserting success where check is set."""
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}", "HOME": str(home),
           "COMPOSE_PROJECT_NAME": project}

    def compose(*args, check=True):
        r = subprocess.run(["docker-compose", *args], capture_output=True, text=True, env=env,
                           cwd=proj, timeout=timeout)
        assert not check or r.returncode == 0, (args, r.stdout, r.stderr)
        return r
    return compose


def docker_at(sock, home):
    """docker's CLI (DOCKERS[0]) against the service on SOCK: docker(*args) -> CompletedProcess."""
    def docker(*args):
        return subprocess.run([DOCKERS[0], "-H", f"unix://{sock}", *args], capture_output=True,
                              text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                          "HOME": str(home)})
    return docker


def podman_conf(folder):
    """A containers.conf in FOLDER with the limits this host allows; its path."""
    conf = folder / "containers.conf"
    conf.write_text(PODMAN_CONF)
    return conf


@contextlib.contextmanager
def podman_service(sock):
    """podman 4.3's `system service` on SOCK (its folder made), until the block ends."""
    sock.parent.mkdir()
    conf = podman_conf(sock.parent)
    svc = subprocess.Popen(["podman", "system", "service", "--time", "0", f"unix://{sock}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "CONTAINERS_CONF": str(conf)})
    try:
        for _ in range(100):  # the service's socket appears once it listens: no event to wait on
            if sock.exists():
                break
            time.sleep(0.05)
        yield
    finally:
        svc.terminate()
        svc.wait(timeout=20)
