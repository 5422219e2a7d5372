"""GPUs through `gantry system service` (issue 54, section 2): docker's clients ask for them as
docker's daemon takes them, and the container sees the simulated NVIDIA host's GPUs
(tests/fixtures/gpuhost: its fake libcuda, NVML and nvidia-smi answer only for the device nodes
the container can open, so cuda_probe and nvidia-smi -L prove what was injected). The service
is given the host's roots as `gantry run` is (--driver-root, --dev-root, --cdi-spec-dir;
FAKE_DEVICE_ROOT for the host-side NVML). Clients: Debian's docker CLI 20.10 (`--gpus`, the
HostConfig.DeviceRequests), docker 25+'s CLI where installed (`--device nvidia.com/gpu=0`, a
DeviceRequest of the driver cdi), a create body with the CDI name in HostConfig.Devices (docker
20.10's `--device` path field), and docker-compose 1.29 (`deploy.resources.reservations.devices`,
also in issue 75's inference stack: a model server and its UI on the project network).
ONE service and ONE two-GPU host serve the module."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTS, Gantry
from fixtures import mkimage as mk
from test_engine_api import DOCKERS, UnixHTTP, start_service
from test_networks import free_port
from gpu_common import PROBE, check_visible, resolve

sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import cuda_image as ci  # noqa: E402
import gpuhost as gh  # noqa: E402

TOKEN = f"apigpu{os.getpid()}"
IMAGE = "gt/cuda-probe:1"
pytestmark = pytest.mark.skipif(not DOCKERS, reason="needs docker's CLI: apt-get install "
                                "docker.io (scripts/install-deps.sh; its daemon is never started)")


class Out:
    """What check_visible reads: .out, and a repr for its messages."""

    def __init__(self, out, err=""):
        self.out, self.err = out, err

    def __repr__(self):
        return f"out={self.out!r} err={self.err!r}"


@pytest.fixture(scope="module")
def gsvc(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("engine-api-gpu")
    host = gh.build_host(tmp / "host", gh.preset(2))
    g = Gantry(tmp / "store", env={"FAKE_DEVICE_ROOT": str(host.dev_root)})
    archive = tmp / "images.tar"
    mk.write_docker_archive(archive, [(ci.cuda_image(), [IMAGE])])
    g.run("load", archive)
    specs = tmp / "cdi"
    specs.mkdir()
    g.run("cdi", "generate", "--driver-root", host.driver_root, "--dev-root", host.dev_root,
          "--output", specs / "nvidia.yaml")
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0", "--driver-root", host.driver_root, "--dev-root",
                      host.dev_root, "--cdi-spec-dir", specs)
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    try:
        yield g, sock, env, host, tmp
        for c in g.run("ps", "-a", "-q", "--filter", f"name={TOKEN}", check=False).out.split():
            g.run("rm", "-f", c, check=False)
    finally:
        p.terminate()
        p.wait(timeout=10)


def docker(gsvc, *args, binary=None):
    env = gsvc[2]
    r = subprocess.run([binary or DOCKERS[0], *args], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return Out(r.stdout, r.stderr)


def test_docker_run_gpus_all_and_one_device(gsvc):
    host = gsvc[3]
    res = docker(gsvc, "run", "--rm", "--gpus", "all", IMAGE, "sh", "-c", PROBE)
    check_visible(res, host, *resolve(host.desc, all_=True), "docker run --gpus all")
    res = docker(gsvc, "run", "--rm", "--gpus", "device=1", IMAGE, "sh", "-c", PROBE)
    check_visible(res, host, *resolve(host.desc, [1]), "docker run --gpus device=1")
    # without a request: nothing of the driver (the image asks for no GPU)
    res = docker(gsvc, "run", "--rm", IMAGE, "sh", "-c", PROBE)
    assert "cannot load libcuda.so.1" in res.out and "/dev/nvidia" not in res.out, res


def test_cdi_names_in_devices_and_in_a_cdi_device_request(gsvc):
    """docker 20.10's `--device X` is HostConfig.Devices' PathOnHost; docker 25+ sends a CDI
    name as a DeviceRequest of the driver cdi. Both reach the service's CDI specs."""
    g, sock, env, host, _ = gsvc
    body = {"Image": IMAGE, "Cmd": ["sh", "-c", PROBE],
            "HostConfig": {"Devices": [{"PathOnHost": "nvidia.com/gpu=0", "PathInContainer":
                                        "nvidia.com/gpu=0", "CgroupPermissions": "rwm"}]}}
    c = UnixHTTP(str(sock))
    c.request("POST", f"/v1.41/containers/create?name={TOKEN}-cdi", json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 201, r.read()
    cid = json.loads(r.read())["Id"]
    docker(gsvc, "start", cid)
    docker(gsvc, "wait", cid)
    res = docker(gsvc, "logs", cid)
    # the generated spec's devices carry every capability: /dev/nvidia-modeset too
    check_visible(res, host, *resolve(host.desc, [0]), "Devices nvidia.com/gpu=0", display=True)
    docker(gsvc, "rm", cid)
    newer = [d for d in DOCKERS if d != "/usr/bin/docker"]
    if newer:
        res = docker(gsvc, "run", "--rm", "--device", "nvidia.com/gpu=1", IMAGE, "sh", "-c",
                     PROBE, binary=newer[0])
        check_visible(res, host, *resolve(host.desc, [1]), "docker 25+ --device nvidia.com/gpu=1",
                      display=True)


COMPOSE = """version: "3.8"
services:
  gpu:
    image: gt/cuda-probe:1
    network_mode: host
    command: ["sh", "-c", "cuda_probe; nvidia-smi -L"]
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
"""


def compose_in(proj, text, env, project):
    """docker-compose 1.29 on TEXT, written as PROJ's docker-compose.yml, with the service's
    environment ENV: compose(*args, check=True) -> its stdout, asserting success where check
    is set."""
    proj.mkdir()
    (proj / "docker-compose.yml").write_text(text)
    cenv = dict(env, COMPOSE_PROJECT_NAME=project)

    def compose(*args, check=True):
        r = subprocess.run(["docker-compose", *args], capture_output=True, text=True, env=cenv,
                           cwd=proj, timeout=120)
        assert not check or r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout
    return compose


def test_compose_service_with_a_gpu_reservation(gsvc):
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose")
    g, sock, env, host, tmp = gsvc
    compose = compose_in(Path(tmp) / "proj", COMPOSE, env, TOKEN)
    try:
        # up in the foreground: attached, it returns when the service's container ends
        out = compose("up", "--no-color", "--abort-on-container-exit")
        gpu0 = host.desc["gpus"][0]
        assert "device_count: 1" in out and gpu0["uuid"] in out, out
        assert f"GPU 0: {gpu0['name']} (UUID: {gpu0['uuid']})" in out, out
        assert host.desc["gpus"][1]["uuid"] not in out, out
    finally:
        compose("down", "-t", "1")


STACK = """version: "3.8"
services:
  model:
    image: gt/cuda-probe:1
    command: ["sh", "-c", "cuda_probe > /tmp/p; nvidia-smi -L >> /tmp/p; echo serving; while true; do nc -l -p 8000 < /tmp/p; done"]
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
  ui:
    image: gt/cuda-probe:1
    depends_on: [model]
    ports: ["127.0.0.1:{published}:8080"]
    command: ["sh", "-c", "until nc model 8000 </dev/null > /tmp/o && test -s /tmp/o; do sleep 0.2; done; echo ready; while true; do nc -l -p 8080 < /tmp/o; done"]
"""


def test_compose_inference_stack_with_a_gpu_reservation_on_its_network(gsvc, tmp_path):
    """The issue's first held-out stack (issue 75): a model server with a GPU reservation and
    its web UI on compose's project network, the UI reaching the server by its service name and
    the host reaching the UI's published port, which answers what the server's GPU probe saw."""
    if not shutil.which("docker-compose"):
        pytest.skip("needs docker-compose: apt-get install docker-compose")
    for tool in ("/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns"):
        if not os.path.exists(tool):
            pytest.skip(f"needs {tool}: apt-get install netavark aardvark-dns")
    g, sock, env, host, tmp = gsvc
    published = free_port()
    project = TOKEN + "stack"
    compose = compose_in(tmp_path / "stack", STACK.format(published=published), env, project)
    try:
        compose("up", "-d")
        g.wait_logged(f"{project}_ui_1", "ready")
        with socket.create_connection(("127.0.0.1", published), timeout=10) as s:
            s.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := s.recv(4096):
                got += chunk
        out = got.decode()
        gpu0 = host.desc["gpus"][0]
        assert "device_count: 1" in out and gpu0["uuid"] in out, out
        assert host.desc["gpus"][1]["uuid"] not in out, out
        compose("down", "-t", "1")
        assert project + "_default" not in g.run("network", "ls").out
    finally:
        compose("down", "-t", "1", check=False)
