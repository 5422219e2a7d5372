"""`gantry system service` (issue 54, section 2): the Docker Engine API on a unix socket, driven
by real clients with nothing mocked: docker's CLI (Debian 12's docker.io 20.10, which speaks API
1.41, and a newer one that negotiates down, where installed), docker-py (python3-docker) and
raw HTTP for the limits. ONE service serves the whole module (started with --time 0); the
containers are started by `gantry run -d` (test_engine_api_run.py runs them through the API). As
root every test's containers share /run/gantry: every query is narrowed by this module's label or
names."""
import http.client
import json
import os
import select
import shutil
import socket
import stat
import subprocess
import time

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage

TOKEN = f"api{os.getpid()}"
DOCKERS = [d for d in ("/usr/bin/docker", "/usr/local/bin/docker") if os.path.exists(d)]
pytestmark = pytest.mark.skipif(not DOCKERS, reason="needs docker's CLI: apt-get install "
                                "docker.io (scripts/install-deps.sh; its daemon is never started)")


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def start_service(g, sock, *args):
    """The service on SOCK, once it says it serves (its first line on stderr)."""
    p = g.popen("system", "service", *args, f"unix://{sock}", stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([p.stderr], [], [], 30)
    line = p.stderr.readline() if ready else ""
    if "serving the Docker Engine API 1.41" not in line:
        p.kill()  # not left running after the failure
        p.wait()
        raise AssertionError((line, p.poll()))
    return p


@pytest.fixture(scope="module")
def api(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("engine-api")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    # one detached container with output on both streams, labelled for this module
    name = f"{TOKEN}-logs"
    g.run("run", "-d", "--name", name, "-l", f"token={TOKEN}", "sample:latest", "sh", "-c",
          "echo out-line; echo err-line >&2; exec sleep 60")
    yield g, sock, tmp, name
    g.run("rm", "-f", name, check=False)
    p.terminate()
    p.wait(timeout=10)
    assert not sock.exists()  # it removes the socket it made


def docker(api, *args, binary=None, check=True, **kw):
    g, sock, tmp, _ = api
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    r = subprocess.run([binary or DOCKERS[0], *args], capture_output=True, text=True, env=env,
                       timeout=60, **kw)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def http(api, method, path, body=None, headers=None):
    _, sock, _, _ = api
    c = UnixHTTP(str(sock))
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def test_the_socket_is_the_users_alone_and_an_idle_service_exits(api, gantry_bin):
    g, sock, tmp, _ = api
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
    # a second service, --time 1: it exits on its own once nothing has connected for 1 s
    other = tmp / "other" / "g.sock"
    start = time.monotonic()
    p = start_service(g, other, "--time", "1")
    assert stat.S_IMODE(os.stat(other).st_mode) == 0o600
    # no state of its own: it sees the container the module's service sees
    listed = json.loads(http((g, other, tmp, None), "GET", "/containers/json")[2])
    assert f"/{api[3]}" in [n for c in listed for n in c["Names"]]
    assert p.wait(timeout=10) == 0
    assert 1 <= time.monotonic() - start < 5
    assert not other.exists()
    # the module's service answers on its socket: a second one there is refused, naming it
    r = g.run("system", "service", "--time", "1", f"unix://{sock}", check=False)
    assert r.code != 0 and "already answers on" in r.err, r
    r = g.run("system", "service", "http://127.0.0.1:2375", check=False)
    assert r.code != 0 and "unix:///PATH or tcp://HOST:PORT" in r.err, r


def test_group_makes_the_socket_0660_for_the_groups_members(api):
    """--group: the socket the group's, 0660 (docker's `docker` group); as root, nobody uses it
    through the group nogroup and not without it. A directory the group cannot enter: refused."""
    import grp
    import tempfile
    g, _, tmp, _ = api
    root = os.geteuid() == 0
    group = "nogroup" if root else grp.getgrgid(os.getgid()).gr_name
    gid = grp.getgrnam(group).gr_gid
    shared = tempfile.mkdtemp(prefix="gantry-api-group-", dir="/tmp")
    try:
        os.chmod(shared, 0o755)
        path = os.path.join(shared, "api.sock")
        p = start_service(g, path, "--time", "0", "--group", group)
        try:
            st = os.stat(path)
            assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid
            if root:
                env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{path}",
                       "HOME": shared, "DOCKER_CONFIG": shared}

                def as_nobody(group_arg):
                    return subprocess.run(
                        ["setpriv", "--reuid=nobody", f"--regid={group_arg}", "--clear-groups",
                         DOCKERS[0], "version", "--format", "{{.Server.APIVersion}}"],
                        capture_output=True, text=True, env=env, timeout=60)
                r = as_nobody("nogroup")
                assert r.returncode == 0 and r.stdout.strip() == "1.41", r
                r = as_nobody("daemon")
                assert r.returncode != 0 and "permission denied" in r.stderr, r
        finally:
            p.terminate()
            p.wait(timeout=10)
        assert not os.path.exists(path)
        # the module's socket directory is 0700: the group could not reach a socket there
        r = g.run("system", "service", "--group", group, f"unix://{tmp}/run/g.sock", check=False)
        assert r.code != 0 and "cannot enter the socket's directory" in r.err, r
        assert not (tmp / "run" / "g.sock").exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize("binary", DOCKERS)
def test_docker_version_info_ps_images(api, binary):
    v = json.loads(docker(api, "version", "--format", "{{json .Server}}", binary=binary).stdout)
    assert v["ApiVersion"] == "1.41" and v["Os"] == "linux"
    assert v["Components"][0]["Name"] == "Engine"
    info = docker(api, "info", "--format", "{{.ServerVersion}} {{.OSType}}", binary=binary)
    assert info.stdout.split()[1] == "linux"
    names = docker(api, "ps", "-a", "--filter", f"label=token={TOKEN}", "--format",
                   "{{.Names}}", binary=binary).stdout.split()
    assert api[3] in names
    assert "sample:latest" in docker(api, "images", "--format", "{{.Repository}}:{{.Tag}}",
                                     binary=binary).stdout.split()


def test_docker_ps_inspect_logs_of_a_container_run_by_gantry(api):
    g, _, _, name = api
    out = docker(api, "ps", "-a", "--filter", f"label=token={TOKEN}", "--format",
                 "{{.Names}} {{.Image}} {{.Label \"token\"}}").stdout.splitlines()
    assert f"{name} sample:latest {TOKEN}" in out, out
    state = docker(api, "inspect", "--format", "{{.State.Running}} {{.Name}}", name).stdout
    assert state.strip() == f"true /{name}"
    # the output file read back: each line in docker's multiplexed frames, with its stream
    r = docker(api, "logs", name)
    assert (r.stdout, r.stderr) == ("out-line\n", "err-line\n")
    status, ctype, body = http(api, "GET", f"/v1.41/containers/{name}/logs?stdout=1&stderr=1")
    assert status == 200 and ctype == "application/vnd.docker.multiplexed-stream"
    assert body[0] == 1 and body[1:4] == b"\0\0\0" and body[8:17] == b"out-line\n"
    assert int.from_bytes(body[4:8], "big") == 9
    assert body[17] == 2 and body[25:] == b"err-line\n"
    top = json.loads(http(api, "GET", f"/containers/{name}/top")[2])
    assert "PID" in top["Titles"] and any("sleep" in row[-1] for row in top["Processes"])


def test_docker_logs_follow_ends_when_docker_stop_stops_it_then_rm(api):
    g, sock, tmp, _ = api
    name = f"{TOKEN}-stop"
    start = time.time()
    g.run("run", "-d", "--name", name, "-l", f"token={TOKEN}", "sample:latest", "sh", "-c",
          "echo started; exec sleep 60")
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    follow = subprocess.Popen([DOCKERS[0], "logs", "-f", name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, text=True)
    try:
        ready, _, _ = select.select([follow.stdout], [], [], 20)
        assert ready and follow.stdout.readline() == "started\n"
        assert docker(api, "stop", "-t", "1", name).stdout.strip() == name
        assert follow.wait(timeout=15) == 0  # the stream ended with the container
    finally:
        follow.kill()
        follow.wait()
    assert "Exited" in docker(api, "ps", "-a", "--filter", f"name={name}", "--format",
                              "{{.Status}}").stdout
    ev = docker(api, "events", "--since", f"{start:.9f}", "--until", f"{time.time():.9f}",
                "--filter", f"container={name}", "--format", "{{.Action}}").stdout.split()
    assert "start" in ev and "stop" in ev and "die" in ev, ev
    docker(api, "rm", name)
    assert docker(api, "ps", "-a", "-q", "--filter", f"name={name}").stdout.strip() == ""
    r = docker(api, "rm", name, check=False)
    assert r.returncode != 0 and "No such container" in r.stderr


def test_docker_images_inspect_history_tag_rmi(api):
    rows = docker(api, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "sample:latest" in rows
    img = json.loads(docker(api, "image", "inspect", "sample:latest").stdout)[0]
    assert img["Id"].startswith("sha256:") and "sample:latest" in img["RepoTags"]
    assert docker(api, "history", "-q", "sample:latest").stdout.split()[0] == \
        img["Id"].split(":")[1][:12]
    docker(api, "tag", "sample:latest", f"{TOKEN}/copy:v1")
    assert f"{TOKEN}/copy:v1" in docker(api, "images", "--format",
                                        "{{.Repository}}:{{.Tag}}").stdout.split()
    # a container uses the image: as docker's, a name the image keeps another of goes (untagged,
    # no force needed), and its last name is refused (409) until forced
    out = docker(api, "rmi", f"{TOKEN}/copy:v1").stdout
    assert out.strip() == f"Untagged: {TOKEN}/copy:v1"
    r = docker(api, "rmi", "sample:latest", check=False)
    assert r.returncode != 0 and "is used by container" in r.stderr, r.stderr
    assert "sample:latest" in docker(api, "images", "--format",
                                     "{{.Repository}}:{{.Tag}}").stdout.split()
    r = docker(api, "rmi", "no-such-image:x", check=False)
    assert r.returncode != 0 and "No such image" in r.stderr


def test_docker_py(api):
    docker_py = pytest.importorskip("docker")
    _, sock, _, name = api
    client = docker_py.DockerClient(base_url=f"unix://{sock}", version="auto")
    try:
        assert client.ping() is True
        found = client.containers.list(all=True, filters={"label": f"token={TOKEN}"})
        assert name in [c.name for c in found]
        assert any("sample:latest" in i.tags for i in client.images.list())
        # a user network through docker-py (test_networks_user.py runs containers on them)
        net = client.networks.create(f"{TOKEN}-net", labels={"token": TOKEN})
        assert client.networks.get(net.id).attrs["IPAM"]["Config"][0]["Subnet"].startswith("10.")
        assert [n.name for n in client.networks.list(filters={"label": f"token={TOKEN}"})] == [
            f"{TOKEN}-net"]
        net.remove()
        with pytest.raises(docker_py.errors.APIError) as e:
            client.networks.create("x", driver="macvlan")
        assert e.value.status_code == 501 and "macvlan" in e.value.explanation
    finally:
        client.close()


def test_errors_are_dockers_json_and_the_service_keeps_serving(api):
    def message(status_want, method, path, **kw):
        status, ctype, body = http(api, method, path, **kw)
        assert status == status_want and ctype == "application/json", (status, body)
        return json.loads(body)["message"]

    assert "GET /nope is not an endpoint" in message(404, "GET", "/v1.41/nope")
    assert "GET /containers/{id}/export" in message(501, "GET", "/v1.41/containers/x/export")
    assert "Config.Image is required" in message(400, "POST", "/v1.41/containers/create",
                                                 body=b"{}")
    assert "too new" in message(400, "GET", "/v1.99/info")
    assert "invalid filter" in message(400, "GET", "/containers/json?filters=%5B")
    # a body announced over the bound (1 MiB) is refused before any of it is sent
    raw = socket.socket(socket.AF_UNIX)
    raw.settimeout(10)
    raw.connect(str(api[1]))
    raw.sendall(b"POST /containers/x/stop HTTP/1.1\r\nHost: d\r\nContent-Length: 2097152\r\n\r\n")
    reply = b""
    while b"}" not in reply:
        chunk = raw.recv(4096)
        assert chunk, reply
        reply += chunk
    raw.close()
    assert reply.startswith(b"HTTP/1.1 400 ") and b"larger than 1048576 bytes" in reply, reply
    # a body over it that did not say so: read to the bound, then refused the same way
    assert "larger than" in message(400, "POST", "/containers/x/stop",
                                    body=iter([b"x" * (1 << 20), b"x" * 10]))  # chunked
    assert message(404, "GET", "/containers/no-such-container/json") == \
        "No such container: no-such-container"
    # a malformed request line: libmicrohttpd's own 400, the service goes on
    raw = socket.socket(socket.AF_UNIX)
    raw.settimeout(10)
    raw.connect(str(api[1]))
    raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    assert raw.recv(4096).startswith(b"HTTP/1.1 400 ")
    raw.close()
    # a header section over the bound: refused by the HTTP layer, the service goes on
    try:
        status, _, _ = http(api, "GET", "/_ping", headers={"X-Big": "a" * (100 << 10)})
        assert 400 <= status < 500
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        pass  # it may close the connection before the client has sent the whole header
    assert http(api, "GET", "/_ping")[2] == b"OK"
    assert http(api, "HEAD", "/_ping")[0] == 200
    nets = json.loads(http(api, "GET", "/networks")[2])
    assert [n["Name"] for n in nets] == ["bridge", "host", "none"]
    assert json.loads(http(api, "GET", "/volumes")[2])["Volumes"] == []


def _accepts(path):
    """Whether a unix socket at path is listening (a probe connection, closed at once)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
            return True
        except (FileNotFoundError, ConnectionRefusedError):
            return False


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"), reason="needs systemd's "
                    "systemd-socket-activate (package systemd)")
def test_socket_activation_serves_the_socket_systemd_passes(api):
    """sd_listen_fds' protocol, as gantry.socket starts gantry.service: systemd's own activator
    makes the socket and passes it (LISTEN_FDS=1, LISTEN_PID); the service serves it, and when
    idle exits leaving the socket to its owner."""
    g, _, tmp, _ = api
    sock = tmp / "activated.sock"
    p = subprocess.Popen(["systemd-socket-activate", "-l", str(sock),
                          *g.cmd("system", "service", "--time", "1")], env=g.environ(),
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        # the activator's socket, before any service reads it: the file appears at bind(), and a
        # connect is refused until its listen() (CI once connected in between)
        while not _accepts(sock):
            assert time.monotonic() < deadline and p.poll() is None, p.stderr.read()
            time.sleep(0.02)
        assert http((g, sock, tmp, None), "GET", "/v1.41/_ping")[2] == b"OK"
        assert p.wait(timeout=20) == 0
        assert "on the socket systemd passed" in p.stderr.read()
        assert sock.exists()  # not the service's to remove
    finally:
        p.kill()
        p.wait()
        sock.unlink(missing_ok=True)


def test_a_docker_context_names_the_socket(api):
    """docs/engine-api.md's other setup: a docker context instead of DOCKER_HOST."""
    g, sock, tmp, _ = api
    env = {"PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(tmp / "context-config"),
           "HOME": str(tmp)}

    def run(*args):
        r = subprocess.run([DOCKERS[0], *args], capture_output=True, text=True, env=env,
                           timeout=60)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    run("context", "create", "gantry", "--docker", f"host=unix://{sock}")
    run("context", "use", "gantry")
    assert run("version", "--format", "{{.Server.APIVersion}}").strip() == "1.41"


def test_docker_events_follows_while_docker_kill_and_wait_end_a_container(api):
    """The events stream without --until (what the Dev Containers CLI follows): each event as
    it is appended, ended by the client hanging up; kill and wait through the API."""
    g, sock, tmp, _ = api
    name = f"{TOKEN}-kill"
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    # --since now: the stream starts here however late its request reaches the service
    follow = subprocess.Popen([DOCKERS[0], "events", "--since", f"{time.time():.9f}",
                               "--filter", f"container={name}", "--format", "{{.Action}}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        g.run("run", "-d", "--name", name, "-l", f"kill={TOKEN}", "sample:latest", "sleep", "60")
        actions, deadline = [], time.monotonic() + 20

        def read_until(action):  # os.read: a text stream's readline would buffer lines
            buf = ""
            while action not in actions:
                ready, _, _ = select.select([follow.stdout], [], [],
                                            deadline - time.monotonic())
                assert ready, actions
                chunk = os.read(follow.stdout.fileno(), 4096).decode()
                assert chunk, (actions, follow.stderr.read())
                buf += chunk
                *lines, buf = buf.split("\n")
                actions.extend(lines)

        read_until("start")
        docker(api, "kill", name)
        # recorded before the kill's answer, as docker's daemon waits for a SIGKILL's end
        state = docker(api, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name)
        assert state.stdout.split() == ["false", "137"]
        assert docker(api, "wait", name).stdout.strip() == "137"
        read_until("die")
        assert actions.index("kill") < actions.index("die"), actions
        r = docker(api, "kill", name, check=False)
        assert r.returncode != 0 and "is not running" in r.stderr
        # POST /containers/prune: the stopped container goes (a label it lacks keeps it first)
        out = docker(api, "container", "prune", "-f", "--filter", "label=none").stdout
        assert name in g.run("ps", "-a", "--format", "{{.Names}}").out.split(), out
        cid = g.run("inspect", "--format", "{{.Id}}", name).out.strip()
        # selected by its label: every store's containers (the parallel tests') share the
        # runtime directory, and an unfiltered prune would remove theirs
        out = docker(api, "container", "prune", "-f", "--filter", f"label=kill={TOKEN}").stdout
        assert cid[:12] in out and "Total reclaimed space:" in out, out
        assert name not in g.run("ps", "-a", "--format", "{{.Names}}").out.split()
    finally:
        follow.kill()
        follow.wait()
        g.run("rm", "-f", name, check=False)


def test_docker_events_without_since_sees_a_start_that_came_before_its_request(api):
    """`docker events` with no --since, as the Dev Containers CLI runs it beside `docker run`:
    on a busy machine its request can reach the service after the run's start, which it then
    waited for forever (CI, stop 68). The stream begins when the client's process started, so
    that start is reported; an event from before the client started is not."""
    g, sock, tmp, _ = api
    label = f"token={TOKEN}-late"
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    g.run("run", "-d", "--name", f"{TOKEN}-before", "-l", label, "sample:latest", "sleep", "60")
    time.sleep(0.05)  # /proc counts a process's start in 10 ms clock ticks
    go = tmp / "late-go"
    # the client's process starts now; its request goes out only after the run below
    follow = subprocess.Popen(
        ["sh", "-c", f'while [ ! -e "{go}" ]; do sleep 0.01; done; exec "$@"', "sh", DOCKERS[0],
         "events", "--filter", f"label={label}", "--filter", "event=start", "--format",
         "{{.Actor.Attributes.name}}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        g.run("run", "-d", "--name", f"{TOKEN}-after", "-l", label, "sample:latest", "sleep",
              "60")
        go.touch()
        ready, _, _ = select.select([follow.stdout], [], [], 20)
        assert ready, "no event in 20 s: the stream began after the start it waits for"
        line = follow.stdout.readline().decode().strip()
        assert line == f"{TOKEN}-after", (line, follow.stderr.read1().decode())
    finally:
        follow.kill()
        follow.wait()
        go.unlink(missing_ok=True)
        for n in ("before", "after"):
            g.run("rm", "-f", f"{TOKEN}-{n}", check=False)


def test_images_json_lists_the_shared_stores_images(api, tmp_path):
    """GET /images/json lists what `gantry images` lists: after the local store's images, a
    shared store's (the service's GANTRY_IMAGE_STORES), with where it is in gantry's labels."""
    g, _, _, _ = api
    shared = tmp_path / "shared"
    g.run("push", "--image-store", shared, "sample:latest")
    node = Gantry(g.root, env={"GANTRY_IMAGE_STORES": str(shared)})
    sock = tmp_path / "run" / "s.sock"
    p = start_service(node, sock, "--time", "0")
    try:
        c = UnixHTTP(str(sock))
        c.request("GET", '/v1.41/images/json?filters={"reference":["sample"]}')
        r = c.getresponse()
        rows = json.loads(r.read())
        c.close()
        assert r.status == 200, rows
        there = [row for row in rows if row["Labels"].get("org.gantry.image.store")]
        assert len(there) == 1 and len(rows) == 2, rows
        row = there[0]
        assert row["Labels"]["org.gantry.image.store"] == str(shared), row
        assert row["RepoTags"] == ["sample:latest"], row
        assert row["Size"] == os.stat(row["Labels"]["org.gantry.image.file"]).st_size > 0
        # docker's CLI shows both, as `gantry images` does
        env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
               "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path / "dc")}
        out = subprocess.run([DOCKERS[0], "images", "--format", "{{.Repository}}:{{.Tag}}",
                              "sample"], capture_output=True, text=True, env=env, timeout=60)
        assert out.stdout.split() == ["sample:latest", "sample:latest"], out
    finally:
        p.terminate()
        p.wait(timeout=10)
