"""docker-compose 1.29 (Debian 12's, python) against `gantry system service` (issue 54, section 2):
a two-service file on the host's network brought up detached, its logs, its listing, a command
run in a service, and `down`, with nothing but the service in between; its named volume (sent
as Binds plus Volumes) outlives `down` and goes with `down -v`, as its anonymous one does; the
second service waits for the first's health check (depends_on: condition: service_healthy). As root every test's
containers share /run/gantry: the project name is this module's own."""
import os
import shutil
import subprocess

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage
from test_engine_api import start_service

PROJECT = f"gcompose{os.getpid()}"
COMPOSE = """services:
  web:
    image: sample:latest
    network_mode: host
    command: ["sh", "-c", "echo web-up; sleep 0.5; touch /tmp/ready; exec sleep 60"]
    volumes: ["data:/data"]
    labels:
      role: web
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready"]
      interval: 200ms
      retries: 50
  worker:
    image: sample:latest
    network_mode: host
    depends_on:
      web: {condition: service_healthy}
    environment:
      GREETING: from-compose
    volumes: ["/scratch"]
    command: ["sh", "-c", "echo worker-up $$GREETING; exec sleep 60"]
volumes:
  data: {}
"""


@pytest.fixture(scope="module")
def compose(tmp_path_factory, gantry_bin):
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose "
                    "(scripts/install-deps.sh)")
    tmp = tmp_path_factory.mktemp("compose")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    (tmp / "proj").mkdir()
    (tmp / "proj" / "docker-compose.yml").write_text(COMPOSE)

    def run(*args, check=True):
        env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}", "HOME": str(tmp),
               "COMPOSE_PROJECT_NAME": PROJECT}
        r = subprocess.run(["docker-compose", *args], capture_output=True, text=True, env=env,
                           cwd=tmp / "proj", timeout=120)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    yield g, run
    run("down", "-t", "1", check=False)
    p.terminate()
    p.wait(timeout=10)


def test_up_logs_ps_exec_down(compose):
    g, run = compose
    run("up", "-d")  # worker once web's health check passed (compose polls inspect's Health)
    ps = run("ps").stdout
    assert f"{PROJECT}_web_1" in ps and f"{PROJECT}_worker_1" in ps, ps
    assert "(healthy)" in ps, ps
    assert ps.count("Up") >= 2, ps
    # compose's labels are on gantry's containers, and gantry's CLI sees them
    names = g.run("ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
                  "--format", "{{.Names}}").out.split()
    assert sorted(names) == [f"{PROJECT}_web_1", f"{PROJECT}_worker_1"], names
    logs = run("logs", "--no-color").stdout
    assert "web-up" in logs and "worker-up from-compose" in logs, logs
    out = run("exec", "-T", "worker", "sh", "-c", "echo in-worker $GREETING").stdout
    assert out.strip() == "in-worker from-compose", out
    run("exec", "-T", "web", "sh", "-c", "echo kept > /data/f")
    run("exec", "-T", "worker", "sh", "-c", "test -d /scratch && touch /scratch/t")
    volumes = g.run("volume", "ls", "-q").out.split()
    assert f"{PROJECT}_data" in volumes and len(volumes) == 2, volumes
    run("down", "-t", "1")
    left = g.run("ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
                 "-q").out.split()
    assert left == [], left
    # docker's: down keeps the volumes; the named one's data is there for the next up
    assert sorted(g.run("volume", "ls", "-q").out.split()) == sorted(volumes)
    run("up", "-d", "web")
    assert run("exec", "-T", "web", "cat", "/data/f").stdout.strip() == "kept"
    run("down", "-v", "-t", "1")
    assert f"{PROJECT}_data" not in g.run("volume", "ls", "-q").out.split()
