"""`gantry system service` refuses what docker's daemon refuses (issue 73), where it answered
something else: a NUL byte in the path, a query value or a body's string (cut at the NUL, it was
another name, argument or path), a relative bind source (resolved against the service's working
directory), a terminal size no winsize holds (cut down and answered 200). Each is a 400 naming
the field, through the real service on its unix socket, with raw HTTP and docker-py. ONE service
serves the module; names carry this module's token."""
import io
import json
import os
import socket
import tarfile

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage
from test_engine_api import UnixHTTP, start_service

TOKEN = f"apiref{os.getpid()}"


@pytest.fixture(scope="module")
def svc(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("engine-api-refusals")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    running = f"{TOKEN}-up"
    g.run("run", "-d", "--name", running, "sample:latest", "sleep", "120")
    try:
        yield g, sock, running
    finally:
        for c in g.run("ps", "-a", "-q", "--filter", f"name={TOKEN}", check=False).out.split():
            g.run("rm", "-f", c, check=False)
        p.terminate()
        p.wait(timeout=10)


def http(svc, method, path, body=None):
    c = UnixHTTP(str(svc[1]))
    headers = {}
    if body is not None and not isinstance(body, bytes):
        body, headers = json.dumps(body), {"Content-Type": "application/json"}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data).get("message", "") if data.strip() else ""
    except ValueError:
        return r.status, data.decode(errors="replace")


def names(svc):
    return svc[0].run("ps", "-a", "--format", "{{.Names}}").out.split()


def test_a_nul_in_the_path_is_refused_before_routing(svc):
    g, sock, _ = svc
    victim = f"{TOKEN}-victim"
    g.run("create", "--name", victim, "sample:latest", "true")
    # decoded and cut at the NUL, this was DELETE /containers/VICTIM: it removed the container
    status, msg = http(svc, "DELETE", f"/containers/{victim}%00other?force=1")
    assert status == 400 and "NUL" in msg, (status, msg)
    assert victim in names(svc)
    status, msg = http(svc, "GET", f"/v1.41/containers/{victim}%00x/json")
    assert status == 400 and "NUL" in msg, (status, msg)
    # a raw NUL byte in the request line (no client library sends one): refused too
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(sock))
    s.sendall(f"DELETE /containers/{victim}\0x?force=1 HTTP/1.1\r\nHost: x\r\n"
              "Content-Length: 0\r\n\r\n".encode())
    reply = b""
    while b"\r\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    assert reply.split(b" ")[1] == b"400", reply
    assert victim in names(svc)
    # the service serves on
    assert http(svc, "GET", f"/containers/{victim}/json")[0] == 200


def test_a_nul_in_a_query_value_is_refused_naming_the_parameter(svc):
    # ?name=a%00b was created as "a" (the value cut at the NUL)
    status, msg = http(svc, "POST", f"/containers/create?name={TOKEN}a%00b",
                       {"Image": "sample:latest"})
    assert status == 400 and "query parameter name" in msg and "NUL" in msg, (status, msg)
    assert f"{TOKEN}a" not in names(svc)
    status, msg = http(svc, "GET", "/containers/json?all=1&filters=%00")
    assert status == 400 and "query parameter filters" in msg, (status, msg)
    # docker's name rule, through docker-py
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{svc[1]}", version="1.41")
    try:
        with pytest.raises(docker.errors.APIError) as e:
            client.containers.create("sample:latest", "true", name="-bad")
        assert e.value.status_code == 400 and "Invalid container name" in str(e.value)
    finally:
        client.close()


@pytest.mark.parametrize("field,body", [
    ("Cmd[1]", {"Cmd": ["echo", "a\0b"]}),
    ("Entrypoint[0]", {"Entrypoint": ["/bin/ech\0o"], "Cmd": ["x"]}),
    ("Env[0]", {"Env": ["A=1\0B=2"], "Cmd": ["env"]}),
    ("WorkingDir", {"WorkingDir": "/tmp\0/x", "Cmd": ["pwd"]}),
    ("User", {"User": "0\0x", "Cmd": ["id"]}),
    ("HostConfig.Binds[0]", {"HostConfig": {"Binds": ["/tmp\0/x:/m"]}, "Cmd": ["true"]}),
    ("Labels.k", {"Labels": {"k": "v\0w"}, "Cmd": ["true"]}),
])
def test_a_nul_in_a_create_body_string_is_refused_naming_the_field(svc, field, body):
    name = f"{TOKEN}-nul{abs(hash(field)) % 1000}"
    status, msg = http(svc, "POST", f"/containers/create?name={name}",
                       {"Image": "sample:latest", **body})
    assert status == 400 and field in msg and "NUL" in msg, (status, msg)
    assert name not in names(svc)


def test_a_nul_in_an_exec_is_refused_naming_the_field(svc):
    _, _, running = svc
    for body, field in [({"Cmd": ["echo", "a\0b"]}, "Cmd[1]"),
                        ({"Cmd": ["env"], "Env": ["A=\0"]}, "Env[0]"),
                        ({"Cmd": ["pwd"], "WorkingDir": "/\0tmp"}, "WorkingDir")]:
        status, msg = http(svc, "POST", f"/containers/{running}/exec",
                           {"AttachStdout": True, **body})
        assert status == 400 and field in msg, (body, status, msg)
    # docker-py's exec_run with one: the same refusal
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{svc[1]}", version="1.41")
    try:
        with pytest.raises(docker.errors.APIError) as e:
            client.containers.get(running).exec_run(["echo", "x\0y"])
        assert e.value.status_code == 400 and "Cmd[1]" in str(e.value)
    finally:
        client.close()


def test_a_relative_bind_source_is_refused(svc, tmp_path):
    for src in ("../../etc", "./x", "a/b"):
        name = f"{TOKEN}-rel"
        status, msg = http(svc, "POST", f"/containers/create?name={name}",
                           {"Image": "sample:latest", "Cmd": ["ls", "/m"],
                            "HostConfig": {"Binds": [f"{src}:/m"]}})
        assert status == 400 and f'"{src}"' in msg and "absolute path" in msg, (src, status, msg)
        assert name not in names(svc)
    for src in ("../../etc", "etc"):
        status, msg = http(svc, "POST", f"/containers/create?name={TOKEN}-relm",
                           {"Image": "sample:latest", "HostConfig": {"Mounts": [
                               {"Type": "bind", "Source": src, "Target": "/m"}]}})
        assert status == 400 and f"'{src}'" in msg and "must be absolute" in msg, (status, msg)
    # docker-py's binds (its low-level API: containers.create(volumes=) also sends Volumes,
    # which gantry refuses on its own): the same refusal
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{svc[1]}", version="1.41")
    api = client.api
    try:
        with pytest.raises(docker.errors.APIError) as e:
            api.create_container("sample:latest", "true", host_config=api.create_host_config(
                binds=["../x:/m:ro"]))
        assert e.value.status_code == 400 and "absolute path" in str(e.value)
        # an absolute source is taken
        (tmp_path / "f").write_text("bound\n")
        cid = api.create_container("sample:latest", ["cat", "/m/f"], name=f"{TOKEN}-abs",
                                   host_config=api.create_host_config(
                                       binds=[f"{tmp_path}:/m:ro"]))["Id"]
        api.start(cid)
        assert api.wait(cid, timeout=60)["StatusCode"] == 0
        assert api.logs(cid) == b"bound\n"
        api.remove_container(cid, force=True)
    finally:
        client.close()


def test_a_terminal_size_past_a_winsize_is_refused(svc):
    _, _, running = svc
    c = UnixHTTP(str(svc[1]))
    c.request("POST", f"/containers/{running}/exec", body=json.dumps(
        {"Cmd": ["true"], "Tty": True, "AttachStdout": True}),
        headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 201
    exec_id = json.loads(r.read())["Id"]
    c.close()
    # 70000 was answered 200 and taken as 4464 (the winsize field's unsigned short)
    for h, w, bad in [("70000", "80", "h"), ("24", "65536", "w"), ("-1", "80", "h"),
                      ("24", "x", "w")]:
        status, msg = http(svc, "POST", f"/exec/{exec_id}/resize?h={h}&w={w}")
        assert status == 400 and msg.startswith(f"invalid value for {bad}:"), (h, w, status, msg)
        status, msg = http(svc, "POST", f"/containers/{running}/resize?h={h}&w={w}")
        assert status == 400 and msg.startswith(f"invalid value for {bad}:"), (h, w, status, msg)
    assert http(svc, "POST", f"/exec/{exec_id}/resize?h=65535&w=80")[0] == 200
    # an exec's first size: the same bound
    status, msg = http(svc, "POST", f"/containers/{running}/exec",
                       {"Cmd": ["true"], "Tty": True, "ConsoleSize": [70000, 80]})
    assert status == 400 and "ConsoleSize" in msg, (status, msg)
    status, msg = http(svc, "POST", f"/containers/{running}/exec",
                       {"Cmd": ["true"], "Tty": True, "ConsoleSize": [-1, 80]})
    assert status == 400 and "ConsoleSize" in msg, (status, msg)


def test_an_absolute_archive_entry_lands_under_path(svc):
    """PUT /containers/{id}/archive: an entry's leading / is dropped (docker's Unpack joins it
    to the destination); .. is refused (test_engine_api_images.py)."""
    g, _, running = svc
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("/abs.txt")
        ti.size = 4
        t.addfile(ti, io.BytesIO(b"abs\n"))
    status, msg = http(svc, "PUT", f"/containers/{running}/archive?path=/tmp", buf.getvalue())
    assert status == 200, (status, msg)
    assert g.run("exec", running, "cat", "/tmp/abs.txt").out == "abs\n"
    assert g.run("exec", running, "test", "-e", "/abs.txt", check=False).code != 0
