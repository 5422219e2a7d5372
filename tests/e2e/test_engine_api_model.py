"""docker's container model through `gantry system service` and gantry's own CLI (issue 76): logs
with the time of each chunk (-t, --since, --until; the API's timestamps, since, until), attach
with logs=1 (what was recorded, then live) and a stream the client cancels, the log drivers
(json-file and local: gantry's file; none: no log, `logs` refused as docker's daemon refuses it),
pause and unpause (the container's own cgroup's freezer), import from the API (fromSrc: the
body, or a URL a local server serves).
Through docker's CLI (20.10) and docker-py (5.0.3) where they reach it, with nothing mocked. ONE
service serves the module; as root every test's containers share /run/gantry: names carry this
module's token."""
import datetime
import functools
import http.server
import io
import json
import os
import re
import subprocess
import tarfile
import threading
import time

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage
from test_engine_api import DOCKERS, start_service

TOKEN = f"apimodel{os.getpid()}"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
pytestmark = pytest.mark.skipif(not DOCKERS, reason="needs docker's CLI: apt-get install "
                                "docker.io (scripts/install-deps.sh; its daemon is never started)")


@pytest.fixture(scope="module")
def svc(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("engine-api-model")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": str(tmp / "docker-config"), "HOME": str(tmp)}
    try:
        yield g, sock, env, p
        for c in g.run("ps", "-a", "-q", "--filter", f"name={TOKEN}", check=False).out.split():
            g.run("rm", "-f", c, check=False)
    finally:
        p.terminate()
        p.wait(timeout=10)


def docker(svc, *args, check=True):
    _, _, env, _ = svc
    r = subprocess.run([DOCKERS[0], *args], capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture
def client(svc):
    docker_py = pytest.importorskip("docker")
    c = docker_py.APIClient(base_url=f"unix://{svc[1]}", version="1.41", timeout=30)
    yield c
    c.close()


def stamped(text):
    """[(nanoseconds since the epoch, line)] of `logs -t` output."""
    out = []
    for line in text.splitlines():
        m = re.fullmatch(rf"({STAMP}) (.*)", line)
        assert m, line
        whole, frac = m.group(1)[:-1].split(".")
        t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
        secs = int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
        out.append((secs * 10**9 + int(frac), m.group(2)))
    return out


def rfc3339(nanos):
    t = datetime.datetime.fromtimestamp(nanos // 10**9, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos % 10**9:09d}Z"


def test_logs_timestamps_since_until_through_gantry_docker_and_docker_py(svc, client):
    g = svc[0]
    name = f"{TOKEN}-times"
    before = time.time_ns()
    # --log-driver local: gantry's own file, as json-file (docker's other driver logs reads)
    docker(svc, "run", "-d", "--log-driver", "local", "--name", name, "sample:latest", "sh", "-c",
           "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three")
    assert docker(svc, "wait", name).stdout == "0\n"
    after = time.time_ns()
    assert docker(svc, "inspect", "--format", "{{.HostConfig.LogConfig.Type}}",
                  name).stdout == "local\n"
    r = g.run("logs", "-t", name)
    out, err = stamped(r.out), stamped(r.err)
    assert [line for _, line in out] == ["one", "three"] and [line for _, line in err] == ["two"]
    t1, t2, t3 = out[0][0], err[0][0], out[1][0]
    assert before <= t1 < t2 < t3 <= after, (before, t1, t2, t3, after)
    # docker's CLI prints the same stamps (the API's timestamps=1)
    d = docker(svc, "logs", "-t", name)
    assert (d.stdout, d.stderr) == (r.out, r.err)
    # since <= time <= until, in each form docker takes: RFC 3339, Unix seconds, durations
    assert g.run("logs", "--since", rfc3339(t2), name).out == "three\n"
    assert g.run("logs", "--since", rfc3339(t2), name).err == "two\n"
    assert g.run("logs", "--until", f"{t2 // 10**9}.{t2 % 10**9:09d}", name).out == "one\n"
    assert docker(svc, "logs", "--since", rfc3339(t2), "--until", rfc3339(t2),
                  name).stderr == "two\n"
    assert docker(svc, "logs", "--since", rfc3339(t3 + 1), name).stdout == ""
    assert g.run("logs", "--since", "10m", name).out == "one\nthree\n"
    assert docker(svc, "logs", "--until", "10m", name).stdout == ""
    # docker-py (5.0.3: since/until whole Unix seconds), timestamps=True: the same stamps
    got = client.logs(name, stdout=True, stderr=True, timestamps=True, since=t1 // 10**9)
    assert stamped(got.decode()) == [out[0], err[0], out[1]]
    assert client.logs(name, until=t1 // 10**9 - 1) == b""
    r = g.fail("logs", "--since", "yesterday", name, code=2)
    assert "--since yesterday" in r.err, r
    docker(svc, "rm", name)


def test_attach_with_logs_then_live_and_a_cancelled_stream_frees_its_thread(svc, client):
    g, _, _, service = svc
    name = f"{TOKEN}-attach"
    tasks = f"/proc/{service.pid}/task"
    docker(svc, "run", "-d", "-t", "--name", name, "sample:latest", "sh", "-c",
           "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second; sleep 60")
    g.wait_logged(name, "first")
    threads = len(os.listdir(tasks))
    out = client.attach(name, stream=True, logs=True)  # docker-py's attach_stream_and_cancel
    got = b""
    for chunk in out:
        got += chunk
        if got == b"first\r\n":
            docker(svc, "exec", name, "touch", "/tmp/go")
        if got.endswith(b"second\r\n"):
            break
    assert got == b"first\r\nsecond\r\n"
    out.close()  # the client cancels: the service's attach ends, its thread with it
    deadline = time.time() + 10
    while len(os.listdir(tasks)) > threads and time.time() < deadline:
        time.sleep(0.05)
    assert len(os.listdir(tasks)) <= threads
    assert client.ping()  # and it keeps serving
    docker(svc, "stop", "-t", "0", name)
    # logs=1 without stream: what was recorded, then the end (docker-py's attach_no_stream)
    assert client.attach(name, stream=False, logs=True) == b"first\r\nsecond\r\n"
    docker(svc, "rm", name)


def test_log_driver_none_keeps_no_log_and_others_are_refused_by_name(svc, client):
    g = svc[0]
    name = f"{TOKEN}-nolog"
    docker(svc, "run", "-d", "--log-driver", "none", "--name", name, "sample:latest", "echo", "x")
    assert docker(svc, "wait", name).stdout == "0\n"
    assert docker(svc, "inspect", "--format", "{{.HostConfig.LogConfig.Type}}",
                  name).stdout == "none\n"
    r = docker(svc, "logs", name, check=False)
    assert r.returncode == 1 and "configured logging driver does not support reading" in r.stderr
    r = g.fail("logs", name, code=7)
    assert "log driver is none" in r.err, r
    g.run("rm", name)
    r = docker(svc, "run", "-d", "--log-driver", "syslog", "sample:latest", "true", check=False)
    assert r.returncode == 125 and "LogConfig.Type" in r.stderr and "syslog" in r.stderr, r
    r = g.fail("run", "-d", "--log-driver", "journald", "sample:latest", "true", code=2)
    assert "--log-driver journald" in r.err, r
    r = g.fail("run", "-d", "--log-opt", "max-size=1m", "sample:latest", "true", code=2)
    assert "--log-opt" in r.err, r


def counter(pid):
    """The count the workload below writes every 50 ms, read through its root."""
    try:
        return int(open(f"/proc/{pid}/root/tmp/n").read() or 0)
    except (OSError, ValueError):
        return 0


def advances(pid, within=10):
    first, deadline = counter(pid), time.time() + within
    while time.time() < deadline:
        if counter(pid) > first:
            return True
        time.sleep(0.05)
    return False


def test_pause_unpause_freeze_the_container_through_docker_docker_py_and_gantry(svc, client):
    g = svc[0]
    name = f"{TOKEN}-pause"
    since = time.time()
    docker(svc, "run", "-d", "--name", name, "sample:latest", "sh", "-c",
           "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
    deadline = time.time() + 10  # docker run -d returns once it started; its record follows
    while not (pid := client.inspect_container(name)["State"]["Pid"]) and time.time() < deadline:
        time.sleep(0.02)
    assert advances(pid)
    docker(svc, "pause", name)
    state = client.inspect_container(name)["State"]
    assert (state["Status"], state["Paused"], state["Running"]) == ("paused", True, True)
    assert "(Paused)" in docker(svc, "ps", "--filter", f"name={name}", "--format",
                                "{{.Status}}").stdout
    assert docker(svc, "ps", "-q", "--filter", "status=paused", "--filter",
                  f"name={name}").stdout.strip() != ""
    # frozen: its count stands still (the cgroup's freezer says so, and so does the workload)
    assert not advances(pid, within=0.5)
    r = docker(svc, "pause", name, check=False)
    assert r.returncode == 1 and "is already paused" in r.stderr, r
    r = docker(svc, "exec", name, "true", check=False)
    assert r.returncode != 0 and "is paused" in r.stderr, r
    # gantry's CLI and docker-py on the same container
    g.run("unpause", name)
    assert advances(pid)
    client.pause(name)
    assert g.run("ps", "--json").json()  # still listed
    r = g.fail("pause", name, code=5)
    assert "already paused" in r.err, r
    client.unpause(name)
    assert advances(pid)
    # stats: the interfaces of its own network namespace (docker's default bridge), as its
    # /proc/PID/net/dev has them
    dev = open(f"/proc/{pid}/net/dev").read().splitlines()[2:]
    ifaces = {line.split(":")[0].strip() for line in dev} - {"lo"}
    networks = client.stats(name, stream=False)["networks"]
    assert ifaces and set(networks) == ifaces, (networks, dev)
    assert all(n["rx_bytes"] >= 0 and n["tx_packets"] >= 0 for n in networks.values())
    r = g.fail("unpause", name, code=5)
    assert "is not paused" in r.err, r
    # docker's stop of a paused container: the signal, then thawed to take it
    docker(svc, "pause", name)
    docker(svc, "stop", "-t", "5", name)
    assert docker(svc, "inspect", "--format", "{{.State.Status}}", name).stdout == "exited\n"
    ev = docker(svc, "events", "--since", f"{since:.9f}", "--until", f"{time.time():.9f}",
                "--filter", f"container={name}", "--format", "{{.Action}}").stdout.split()
    assert ev.count("pause") == 3 and ev.count("unpause") == 3, ev
    r = docker(svc, "pause", name, check=False)
    assert r.returncode == 1 and "is not running" in r.stderr, r
    # each start has its own StartedAt (docker's); Created stays
    before = client.inspect_container(name)
    docker(svc, "start", name)
    after = client.inspect_container(name)
    assert after["Created"] == before["Created"]
    assert after["State"]["StartedAt"] > before["State"]["StartedAt"], (before, after)
    docker(svc, "rm", "-f", name)


def rootfs_tar(path):
    """A root filesystem tar: the host's static busybox as /bin/busybox and /bin/sh."""
    with tarfile.open(path, "w") as t:
        t.add("/bin/busybox", arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        t.addfile(link)
    return path


@pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox-static")
def test_import_from_the_body_and_a_url_through_docker_and_docker_py(svc, client, tmp_path):
    g = svc[0]
    tar = rootfs_tar(tmp_path / "rootfs.tar")
    # docker's CLI: the tar as the body (fromSrc=-), changes and a message
    r = docker(svc, "import", "--change", 'CMD ["sh", "-c", "echo imported"]', "-m", "by docker",
               str(tar), f"{TOKEN}/imp:1")
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71, r
    assert docker(svc, "inspect", "--format", "{{.Id}} {{json .Config.Cmd}}",
                  f"{TOKEN}/imp:1").stdout == f'{image_id} ["sh","-c","echo imported"]\n'
    assert docker(svc, "run", "--rm", f"{TOKEN}/imp:1").stdout == "imported\n"
    assert "by docker" in docker(svc, "history", "--format", "{{.Comment}}",
                                 f"{TOKEN}/imp:1").stdout
    # docker-py: bytes (import_image_from_data), its last status the image's ID
    out = client.import_image_from_data(tar.read_bytes(), repository=f"{TOKEN}/imp",
                                        tag="2", changes=["ENV A=b"])
    last = json.loads(out.splitlines()[-1])
    assert last["status"] == client.inspect_image(f"{TOKEN}/imp:2")["Id"]
    assert "A=b" in client.inspect_image(f"{TOKEN}/imp:2")["Config"]["Env"]
    # a URL (fromSrc=URL): gantry import fetches it
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/rootfs.tar"
        out = client.import_image_from_url(url, repository=f"{TOKEN}/imp", tag="3")
        assert json.loads(out.splitlines()[-1])["status"].startswith("sha256:")
    finally:
        server.shutdown()
        server.server_close()
    assert docker(svc, "run", "--rm", f"{TOKEN}/imp:3", "sh", "-c", "echo url").stdout == "url\n"
    # refused naming why: no name, an instruction import does not take
    r = docker(svc, "import", str(tar), check=False)
    assert r.returncode == 1 and "needs repo" in r.stderr, r
    r = docker(svc, "import", "--change", "RUN true", str(tar), f"{TOKEN}/imp:4", check=False)
    assert r.returncode == 1 and "RUN" in r.stderr, r
    for tag in ("1", "2", "3"):
        g.run("rmi", f"{TOKEN}/imp:{tag}")


def test_group_add_through_docker_py(svc, client):
    name = f"{TOKEN}-groups"
    c = client.create_container("sample:latest", "id -G", name=name,
                                host_config=client.create_host_config(
                                    group_add=[1000, "1001", "nogroup"]))
    client.start(c)
    assert client.wait(c)["StatusCode"] == 0
    # nogroup: the sample image's /etc/group says 65534
    assert {"1000", "1001", "65534"} <= set(client.logs(c).decode().split())
    client.remove_container(c)


def test_commit_through_docker_and_docker_py(svc, client):
    """POST /commit: docker-py's commit (untagged, then with changes and the body's config) and
    docker's CLI (named), with docker's fields of a committed image in its inspect."""
    g = svc[0]
    name = f"{TOKEN}-commit"
    c = client.create_container("sample:latest", ["sh", "-c", "echo hello > /test"], name=name)
    client.start(c)
    assert client.wait(c)["StatusCode"] == 0
    res = client.commit(c["Id"])  # untagged, as docker-py's test_commit
    img = client.inspect_image(res["Id"])
    assert img["Container"] == c["Id"] and img["ContainerConfig"]["Image"] == "sample:latest"
    assert img["Parent"] == client.inspect_image("sample:latest")["Id"] and img["RepoTags"] == []
    assert {"Id": res["Id"], "RepoTags": ["<none>:<none>"]}.items() <= \
        [i for i in client.images() if i["Id"] == res["Id"]][0].items()
    run = client.create_container(res["Id"], ["cat", "/test"])
    client.start(run)
    client.wait(run)
    assert client.logs(run) == b"hello\n"
    client.remove_container(run)
    res2 = client.commit(c["Id"], repository=f"{TOKEN}/commit", tag="2", message="msg",
                         author="me", changes=["EXPOSE 8000", 'CMD ["bash"]'],
                         conf={"Env": ["FROM_BODY=1"], "Labels": {"body": "yes"}})
    img = client.inspect_image(f"{TOKEN}/commit:2")
    assert img["Id"] == res2["Id"] and img["Comment"] == "msg" and img["Author"] == "me"
    assert "8000/tcp" in img["Config"]["ExposedPorts"] and img["Config"]["Cmd"] == ["bash"]
    assert "FROM_BODY=1" in img["Config"]["Env"] and img["Config"]["Labels"]["body"] == "yes"
    # a body field commit does not apply: 400 naming it; a change it does not take: 400
    docker_py = pytest.importorskip("docker")
    with pytest.raises(docker_py.errors.APIError, match="Hostname"):
        client.commit(c["Id"], conf={"Hostname": "x"})
    with pytest.raises(docker_py.errors.APIError, match="RUN"):
        client.commit(c["Id"], changes=["RUN true"])
    # docker's CLI
    r = docker(svc, "commit", "-c", "ENV X=1", name, f"{TOKEN}/commit:3")
    assert r.stdout.strip() == client.inspect_image(f"{TOKEN}/commit:3")["Id"]
    assert docker(svc, "run", "--rm", f"{TOKEN}/commit:3", "sh", "-c",
                  'cat /test; echo "$X"').stdout == "hello\n1\n"
    assert {"Deleted": res["Id"]} in client.remove_image(res["Id"])  # docker's: the image ID
    for tag in ("2", "3"):
        g.run("rmi", f"{TOKEN}/commit:{tag}")
    client.remove_container(c)


def test_inspect_shows_the_runs_host_config_fields(svc, client):
    """HostConfig's VolumesFrom, AutoRemove, PidMode, Init and Tmpfs, as docker-py's tests read
    them, from what the create asked for."""
    src = client.create_container("sample:latest", "true", name=f"{TOKEN}-vsrc")
    hc = client.create_host_config(volumes_from=[f"{TOKEN}-vsrc"], auto_remove=True,
                                   pid_mode="host", init=True, tmpfs={"/scratch": "size=1m"})
    c = client.create_container("sample:latest", "true", host_config=hc)
    host = client.inspect_container(c)["HostConfig"]
    assert host["VolumesFrom"] == [f"{TOKEN}-vsrc"] and host["AutoRemove"] is True, host
    assert host["PidMode"] == "host" and host["Init"] is True, host
    assert host["Tmpfs"] == {"/scratch": "size=1m"}, host
    plain = client.inspect_container(src)["HostConfig"]
    assert plain["VolumesFrom"] is None and plain["AutoRemove"] is False, plain
    assert plain["PidMode"] == "" and plain["Tmpfs"] == {}, plain
    client.remove_container(c)
    client.remove_container(src)


def test_untagged_images_as_docker_keeps_them(svc, client):
    """docker's untagged images through the API: a build without t is found by its ID, info's
    Images counts each listed image once, and an image saved by its ID (no names, docker's
    archive) loads back untagged with its ID."""
    docker_py = pytest.importorskip("docker")
    images = docker_py.DockerClient(base_url=f"unix://{svc[1]}", version="1.41").images
    built, _ = images.build(fileobj=io.BytesIO(b"FROM sample:latest\nCMD echo hello world\n"))
    assert client.inspect_image(built.id)["RepoTags"] == []
    listed = client.images(all=True)
    assert built.id in [i["Id"] for i in listed]
    assert len({i["Id"] for i in listed}) == client.info()["Images"]
    sample = images.get("sample:latest")
    archive = b"".join(sample.save())
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        assert json.load(t.extractfile("manifest.json"))[0]["RepoTags"] is None or \
            json.load(t.extractfile("manifest.json"))[0]["RepoTags"] == []
    loaded = images.load(archive)
    assert [i.id for i in loaded] == [sample.id]
    client.remove_image(built.id)


def test_logs_stream_a_frame_per_line(svc, client):
    """docker's log messages are lines: two lines written at once are two frames, as docker-py's
    containers.run(stream=True) reads them."""
    c = client.create_container("sample:latest", ["sh", "-c", "echo hello && echo world"])
    client.start(c)
    assert client.wait(c)["StatusCode"] == 0
    assert list(client.logs(c, stream=True)) == [b"hello\n", b"world\n"]
    client.remove_container(c)


def test_attach_with_logs_before_the_first_start(svc, client):
    """docker-py's attach_socket(logs=1, stream=1) before a container's first start: nothing was
    recorded, so the attached start's output follows (the socket was closed at once before)."""
    from docker.utils.socket import next_frame_header, read_exactly
    c = client.create_container("sample:latest", "printf 'first words'", detach=True)
    sock = client.attach_socket(c, {"stdout": 1, "stream": 1, "logs": 1})
    try:
        client.start(c)
        stream, size = next_frame_header(sock)
        assert (stream, read_exactly(sock, size)) == (1, b"first words")
    finally:
        sock.close()
    assert client.wait(c)["StatusCode"] == 0
    client.remove_container(c)


def test_volume_mount_labels_make_the_volume_with_them(svc, client):
    """HostConfig.Mounts[].VolumeOptions.Labels (docker-py's Mount(labels=...)) and --mount's
    volume-label: the named volume the run makes carries them; an existing volume with other
    labels is refused naming it."""
    docker_py = pytest.importorskip("docker")
    g = svc[0]
    vol = f"{TOKEN}-labelled"
    mount = docker_py.types.Mount(type="volume", source=vol, target="/data",
                                  labels={"com.dockerpy.test": "true"})
    c = client.create_container("sample:latest", ["true"],
                                host_config=client.create_host_config(mounts=[mount]))
    data = [m for m in client.inspect_container(c)["Mounts"] if m["Destination"] == "/data"]
    assert len(data) == 1 and data[0]["Name"] == vol and data[0]["RW"] is True, data
    assert client.inspect_volume(vol)["Labels"] == {"com.dockerpy.test": "true"}
    client.remove_container(c)
    # the CLI's --mount volume-label, and an existing volume with other labels
    other = f"{TOKEN}-labelled2"
    g.run("run", "--rm", "--mount", f"type=volume,src={other},dst=/d,volume-label=a=b",
          "sample:latest", "true")
    assert client.inspect_volume(other)["Labels"] == {"a": "b"}
    r = g.run("run", "--rm", "--mount", f"type=volume,src={other},dst=/d,volume-label=a=c",
              "sample:latest", "true", check=False)
    assert r.code != 0 and "already exists with other labels" in r.err, r
    for v in (vol, other):
        client.remove_volume(v)
