"""`gantry system service`'s image, build, archive and volume endpoints (issue 54, section 2),
driven by Debian 12's docker CLI (docker.io 20.10, its daemon never started) and docker-py
against ONE service for the module: pull from and push to a real docker-registry (plain http,
listed insecure in the service's registries.conf, behind htpasswd: the client's credentials
come as X-Registry-Auth), save | load, a classic build of a small
context, cp in and out of a container `gantry run -d` started (running and stopped), volumes.
Every name is this module's own (TOKEN): as root the tests share /run/gantry."""
import base64
import io
import json
import os
import subprocess
import tarfile
import urllib.parse
import urllib.request

import pytest

from conftest import Gantry, load_busybox, need_tool, tmp_entries
from fixtures import mkimage
from fixtures.registry.harness import Registry
from test_engine_api import UnixHTTP, start_service

TOKEN = f"apiimg{os.getpid()}"
DOCKER = "/usr/bin/docker"  # Debian 12's docker.io: API 1.41
USER, PASSWORD = "alice", "s3cret"
AUTH = base64.urlsafe_b64encode(json.dumps({"username": USER, "password": PASSWORD}).encode()
                                ).decode()  # X-Registry-Auth, as docker's client encodes it
pytestmark = pytest.mark.skipif(not os.path.exists(DOCKER), reason="needs Debian's docker CLI: "
                                "apt-get install docker.io (its daemon is never started)")


@pytest.fixture(scope="module")
def svc(tmp_path_factory, gantry_bin):
    need_tool("docker-registry")
    tmp = tmp_path_factory.mktemp("engine-api-images")
    reg = Registry(tmp / "reg", htpasswd={USER: PASSWORD}).start()
    conf = tmp / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{reg.addr}"\ninsecure = true\n')
    g = Gantry(tmp / "store", env={"CONTAINERS_REGISTRIES_CONF": str(conf)})
    load_busybox(g, mkimage, tmp)
    g.run("push", "--creds", f"{USER}:{PASSWORD}", "sample:latest", f"{reg.addr}/{TOKEN}/bb:1")
    # the docker CLI's credentials, which it sends as X-Registry-Auth: the service has none
    cfg = tmp / "docker-config"
    cfg.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (cfg / "config.json").write_text(json.dumps({"auths": {reg.addr: {"auth": auth}}}))
    sock = tmp / "run" / "api.sock"
    p = start_service(g, sock, "--time", "0")
    name = f"{TOKEN}-cp"
    g.run("run", "-d", "--name", name, "sample:latest", "sleep", "60")
    yield g, sock, tmp, reg, name
    g.run("rm", "-f", name, check=False)
    p.terminate()
    p.wait(timeout=10)
    reg.stop()
    # uploads, build contexts and saved archives left nothing in the store's tmp/
    assert tmp_entries(g.root) == []


def docker(svc, *args, check=True, env=None, **kw):
    _, sock, tmp, _, _ = svc
    e = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{sock}", "HOME": str(tmp),
         "DOCKER_CONFIG": str(tmp / "docker-config"), "DOCKER_BUILDKIT": "0"}
    e.update(env or {})
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=e, timeout=60, **kw)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def http(svc, method, path, body=None, headers=None):
    c = UnixHTTP(str(svc[1]), timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hdrs = dict(r.getheaders())
    c.close()
    return r.status, hdrs, data


def lines(body):
    return [json.loads(x) for x in body.decode().splitlines() if x.strip()]


def test_docker_pull_streams_dockers_progress_and_errors(svc):
    g, _, _, reg, _ = svc
    ref = f"{reg.addr}/{TOKEN}/bb:1"
    r = docker(svc, "pull", ref)
    assert f"1: Pulling from {TOKEN}/bb" in r.stdout, r.stdout
    assert "Pull complete" in r.stdout or "Already exists" in r.stdout, r.stdout
    assert f"Status: Downloaded newer image for {ref}" in r.stdout, r.stdout
    assert f"docker.io/{ref}" not in g.refs() and any(k.endswith(f"{TOKEN}/bb:1") for k in g.refs())
    again = docker(svc, "pull", ref)
    assert f"Status: Image is up to date for {ref}" in again.stdout, again.stdout
    # the raw stream: docker's JSON lines, the digest, and an error inside the 200
    status, _, body = http(svc, "POST", f"/v1.41/images/create?fromImage={reg.addr}/{TOKEN}/bb"
                           "&tag=1", headers={"X-Registry-Auth": AUTH})
    msgs = lines(body)
    assert status == 200 and msgs[0]["status"] == f"Pulling from {TOKEN}/bb"
    assert any(m.get("status", "").startswith("Digest: sha256:") for m in msgs), msgs
    missing = docker(svc, "pull", f"{reg.addr}/{TOKEN}/none:1", check=False)
    assert missing.returncode != 0 and f"{TOKEN}/none" in missing.stderr, missing
    status, _, body = http(svc, "POST", f"/images/create?fromImage={reg.addr}/{TOKEN}/none&tag=1")
    assert status == 200 and "errorDetail" in lines(body)[-1], body
    # without the client's credentials (X-Registry-Auth) the registry refuses the pull
    anon = docker(svc, "pull", ref, check=False, env={"DOCKER_CONFIG": str(svc[2] / "none")})
    assert anon.returncode != 0 and "requires authentication" in anon.stderr, anon
    # a malformed X-Registry-Auth, and an import, refused before any stream
    status, _, body = http(svc, "POST", f"/images/create?fromImage={ref}",
                           headers={"X-Registry-Auth": "%%%"})
    assert status == 400 and "X-Registry-Auth" in json.loads(body)["message"]
    status, _, body = http(svc, "POST", "/images/create?fromSrc=-")
    assert status == 400 and "needs repo" in json.loads(body)["message"]


def test_docker_push_to_the_registry(svc):
    _, _, _, reg, _ = svc
    ref = f"{reg.addr}/{TOKEN}/pushed:2"
    docker(svc, "tag", "sample:latest", ref)
    r = docker(svc, "push", ref)
    assert f"The push refers to repository [{reg.addr}/{TOKEN}/pushed]" in r.stdout, r.stdout
    assert "2: digest: sha256:" in r.stdout, r.stdout
    req = urllib.request.Request(f"http://{reg.addr}/v2/{TOKEN}/pushed/manifests/2", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json,"
                  "application/vnd.docker.distribution.manifest.v2+json",
        "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    missing = docker(svc, "push", f"{reg.addr}/{TOKEN}/never:1", check=False)
    assert missing.returncode != 0 and "does not exist locally" in missing.stderr, missing


def test_docker_save_and_load_and_docker_py(svc, tmp_path):
    # a new image loaded from a docker save archive, by the docker CLI
    img = mkimage.busybox_image(labels={"loaded": TOKEN})
    archive = tmp_path / "in.tar"
    mkimage.write_docker_archive(archive, [(img, [f"{TOKEN}/loaded:1"])])
    r = docker(svc, "load", "-i", str(archive))
    assert f"Loaded image: {TOKEN}/loaded:1" in r.stdout, r
    labels = docker(svc, "image", "inspect", "--format", "{{json .Config.Labels}}",
                    f"{TOKEN}/loaded:1").stdout
    assert json.loads(labels)["loaded"] == TOKEN
    # docker save: a docker archive naming it
    out = tmp_path / "out.tar"
    docker(svc, "save", "-o", str(out), f"{TOKEN}/loaded:1")
    with tarfile.open(out) as t:
        manifest = json.load(t.extractfile("manifest.json"))
    # gantry save's names: normalised (docker.io/...), which docker load reads alike
    assert manifest[0]["RepoTags"] == [f"docker.io/{TOKEN}/loaded:1"]
    # docker-py: the same endpoints, GET /images/{name}/get and POST /images/load
    docker_mod = pytest.importorskip("docker")
    client = docker_mod.DockerClient(base_url=f"unix://{svc[1]}", version="1.41")
    data = b"".join(client.images.get("sample:latest").save(named=True))
    assert data[257:262] == b"ustar"
    loaded = client.images.load(data)
    assert "sample:latest" in loaded[0].tags
    # the upload bound: a body announced too big is refused before it is read
    status, _, body = http(svc, "POST", "/images/load", headers={
        "Content-Length": str(1 << 40)})
    assert status == 413 and "MiB" in json.loads(body)["message"]
    client.close()


def test_docker_build_of_a_small_context(svc, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("from-context\n")
    (ctx / "Dockerfile").write_text(
        "FROM sample:latest\nARG A=none\nCOPY f /f\nRUN cat /f > /g && echo $A >> /g\n")
    tag = f"{TOKEN}/built:1"
    r = docker(svc, "build", "-t", tag, "--build-arg", "A=argval", "--label", f"tok={TOKEN}",
               str(ctx))
    assert "COPY f /f" in r.stdout or "COPY" in r.stdout, r.stdout
    info = json.loads(docker(svc, "image", "inspect", tag).stdout)[0]
    assert info["Config"]["Labels"]["tok"] == TOKEN
    name = f"{TOKEN}-built"
    g = svc[0]
    out = g.run("run", "--rm", "--name", name, tag, "cat", "/g").out
    assert out == "from-context\nargval\n"
    # -q: only the ID, from the aux message
    q = docker(svc, "build", "-q", "--build-arg", "A=argval", "--label", f"tok={TOKEN}", str(ctx))
    assert q.stdout.strip() == info["Id"], (q.stdout, info["Id"])
    # docker-py's build sends rm=False by default: accepted (there are no intermediate
    # containers to keep), the same cached image
    import docker as docker_mod
    client = docker_mod.APIClient(base_url=f"unix://{svc[1]}", version="1.41")
    out = list(client.build(path=str(ctx), buildargs={"A": "argval"}, labels={"tok": TOKEN},
                            decode=True))
    assert {"aux": {"ID": info["Id"]}} in out, out
    client.close()
    # built, removed and built again (issue 76): the RUN step runs again (its layer went with
    # the image) and the config-only ENV after it is not taken from the entry made over the
    # removed layer; the image then runs through the API, and `run --rm` leaves nothing
    (ctx / "Dockerfile.again").write_text(
        "FROM sample:latest\nRUN cat /proc/sys/kernel/random/uuid > /t\nENV A=1\n")
    again = f"{TOKEN}/again:1"
    build_again = ("build", "-q", "-f", str(ctx / "Dockerfile.again"), "-t", again, str(ctx))
    first = docker(svc, *build_again).stdout
    docker(svc, "rmi", again)
    assert docker(svc, *build_again).stdout != first
    r = docker(svc, "run", "--rm", "--name", f"{TOKEN}-again", again, "sh", "-c", "echo $A")
    assert r.stdout == "1\n", r
    assert docker(svc, "ps", "-a", "-q", "--filter", f"name={TOKEN}-again").stdout == ""
    # what gantry does not honour: a 400 naming it, nothing built
    bad = docker(svc, "build", "--shm-size", "1g", str(ctx), check=False)
    assert bad.returncode != 0 and "shmsize" in bad.stderr, bad
    status, _, body = http(svc, "POST", "/build?t=x", headers={"Content-Length": str(3 << 30)})
    assert status == 413 and "build context" in json.loads(body)["message"]
    # a step that fails: docker's error line, the CLI exits non-zero with the step's output
    (ctx / "Dockerfile.bad").write_text("FROM sample:latest\nRUN echo step-said-no && exit 3\n")
    failed = docker(svc, "build", "-f", str(ctx / "Dockerfile.bad"), str(ctx), check=False)
    assert failed.returncode != 0 and "step-said-no" in failed.stdout + failed.stderr, failed
    # a Dockerfile outside the context, or a link, is refused
    for dockerfile, entries in (("../x", [("Dockerfile", b"FROM sample:latest\n")]),
                                ("Dockerfile", [])):
        body = tar_of(entries) if entries else tar_link("Dockerfile", "/etc/passwd")
        status, _, out = http(svc, "POST", f"/build?dockerfile={dockerfile}", body=body,
                              headers={"Content-Type": "application/x-tar"})
        assert status == 400, (dockerfile, out)


def tar_of(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def tar_link(name, target):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo(name)
        ti.type, ti.linkname = tarfile.SYMTYPE, target
        t.addfile(ti)
    return buf.getvalue()


def test_docker_cp_in_and_out(svc, tmp_path):
    g, _, _, _, name = svc
    src = tmp_path / "in.txt"
    src.write_text("copied in\n")
    docker(svc, "cp", str(src), f"{name}:/")
    assert g.run("exec", name, "cat", "/in.txt").out == "copied in\n"
    docker(svc, "cp", f"{name}:/in.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "copied in\n"
    # HEAD: the stat header docker's client decodes
    status, hdrs, _ = http(svc, "HEAD", f"/containers/{name}/archive?path=/in.txt")
    stat = json.loads(base64.b64decode(hdrs["X-Docker-Container-Path-Stat"]))
    assert status == 200 and stat["name"] == "in.txt" and stat["size"] == 10
    status, hdrs, _ = http(svc, "HEAD", f"/containers/{name}/archive?path=/bin")
    assert json.loads(base64.b64decode(hdrs["X-Docker-Container-Path-Stat"]))["mode"] & (1 << 31)
    missing = docker(svc, "cp", f"{name}:/no/such", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "no/such" in missing.stderr, missing
    # a hostile entry is refused as gantry cp refuses it; nothing lands outside
    status, _, body = http(svc, "PUT", f"/containers/{name}/archive?path=/",
                           body=tar_of([("../escape", b"x")]))
    assert status == 400 and ".." in json.loads(body)["message"], body
    # docker-py: put_archive / get_archive
    docker_mod = pytest.importorskip("docker")
    client = docker_mod.DockerClient(base_url=f"unix://{svc[1]}", version="1.41")
    c = client.containers.get(name)
    assert c.put_archive("/", tar_of([("py.txt", b"from python\n")]))
    bits, st = c.get_archive("/py.txt")
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
        assert t.extractfile("py.txt").read() == b"from python\n"
    assert st["name"] == "py.txt"
    client.close()


def test_docker_cp_in_and_out_of_a_container_not_running(svc, tmp_path):
    # made by gantry create: its layer is on disk, mounted by the cp helper's forked child
    g = svc[0]
    name = f"{TOKEN}-created"
    g.run("create", "--name", name, "sample:latest", "true")
    try:
        src = tmp_path / "kept.txt"
        src.write_text("kept\n")
        docker(svc, "cp", str(src), f"{name}:/")
        docker(svc, "cp", f"{name}:/kept.txt", str(tmp_path / "back.txt"))
        assert (tmp_path / "back.txt").read_text() == "kept\n"
    finally:
        g.run("rm", "-f", name, check=False)


def test_docker_volume_create_inspect_rm_prune(svc):
    g = svc[0]
    v = f"{TOKEN}-vol"
    assert docker(svc, "volume", "create", "--label", f"tok={TOKEN}", v).stdout.strip() == v
    info = json.loads(docker(svc, "volume", "inspect", v).stdout)[0]
    assert info["Driver"] == "local" and info["Labels"] == {"tok": TOKEN}
    assert os.path.isdir(info["Mountpoint"])
    # the CLI's volume store is the API's
    assert v in g.run("volume", "ls", "-q").out.split()
    assert v in docker(svc, "volume", "ls", "-q", "--filter", f"label=tok={TOKEN}").stdout.split()
    docker(svc, "volume", "rm", v)
    gone = docker(svc, "volume", "inspect", v, check=False)
    assert gone.returncode != 0 and "no such volume" in gone.stderr.lower(), gone
    assert not os.path.exists(info["Mountpoint"])
    # prune: only what the filter picks
    g.run("volume", "create", "--label", f"tok={TOKEN}", f"{v}2")
    r = docker(svc, "volume", "prune", "-f", "--filter", f"label=tok={TOKEN}")
    assert f"{v}2" in r.stdout, r.stdout
    assert f"{v}2" not in g.run("volume", "ls", "-q").out.split()
    bad = docker(svc, "volume", "create", "--driver", "nfs", f"{v}3", check=False)
    assert bad.returncode != 0 and "local driver" in bad.stderr, bad


def test_image_inspect_and_get_of_one_platform(svc, tmp_path):
    """platform= on GET /images/NAME/json and /images/NAME/get (API 1.48+, docker 28's
    --platform): that platform's image of a name holding two, a 404 naming what the name holds,
    a 400 for a value that is no platform."""
    g = svc[0]
    path = tmp_path / "multi.tar"
    mkimage.write_oci_archive(path, (mkimage.multiarch_index(), "v1"))
    g.run("load", path, "--name", f"{TOKEN}/multi")
    name = f"{TOKEN}/multi:v1"
    arm = urllib.parse.quote(json.dumps({"os": "linux", "architecture": "arm64"}))
    status, _, body = http(svc, "GET", f"/images/{name}/json?platform={arm}")
    assert status == 200, body
    assert (json.loads(body)["Architecture"], json.loads(body)["Variant"]) == ("arm64", "v8")
    status, _, body = http(svc, "GET", f"/images/{name}/json")
    assert status == 200 and json.loads(body)["Architecture"] == "amd64", body
    status, _, body = http(svc, "GET", f"/images/{name}/json?platform=linux/s390x")
    assert status == 404, body
    assert "holds no image for linux/s390x (it holds linux/amd64, linux/arm64/v8)" in \
        json.loads(body)["message"], body
    status, _, body = http(svc, "GET", f"/images/{name}/json?platform=%7Bnope")
    assert status == 400 and "invalid value for platform" in json.loads(body)["message"], body
    status, _, body = http(svc, "GET", f"/images/{name}/get?platform={arm}")
    assert status == 200, body
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        [entry] = json.load(t.extractfile("manifest.json"))
        config = json.load(t.extractfile(entry["Config"]))
    assert config["architecture"] == "arm64", config
    # POST /images/NAME/push?platform= (API 1.46+): that platform's image alone under the tag
    reg = svc[3]
    dest = f"{reg.addr}/{TOKEN}/multi"
    g.run("tag", name, f"{dest}:v1")
    status, _, body = http(svc, "POST", f"/images/{dest}/push?tag=v1&platform=linux/s390x",
                           headers={"X-Registry-Auth": AUTH})
    assert status == 404 and "holds no image for linux/s390x" in body.decode(), body
    status, _, body = http(svc, "POST", f"/images/{dest}/push?tag=v1&platform={arm}",
                           headers={"X-Registry-Auth": AUTH})
    assert status == 200, body
    [aux] = [x["aux"] for x in lines(body) if "aux" in x]
    [pushed] = g.run("inspect", "--json", "--platform", "linux/arm64", name).json()
    assert aux["Digest"] == pushed["digest"], (aux, body)
    g.run("rmi", name, f"{dest}:v1")
