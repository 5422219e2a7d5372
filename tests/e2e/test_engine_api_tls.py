"""`gantry system service tcp://...` (issue 54): TCP with TLS, docker's daemon's --tlsverify
model (the service's certificate and key, a CA whose certificates the clients must present),
driven by Debian's docker CLI with nothing mocked; plain TCP's warning. gantry ends the TLS
itself (src/engine_api/tls_front.hpp): the client's certificate is checked in the handshake,
each direction's end is carried through (docker's close_notify at the end of `run -i`'s
stdin), and a client that connects and says nothing holds nobody up. ONE TLS service serves
the module."""
import queue
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage

DOCKER = "/usr/bin/docker"
pytestmark = [
    pytest.mark.skipif(not shutil.which(DOCKER), reason="needs docker's CLI: apt-get install "
                       "docker.io (scripts/install-deps.sh; its daemon is never started)"),
    pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl"),
]


def _certs(where):
    """A CA, the service's certificate for 127.0.0.1 and a client's; and another CA's client."""
    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)
    for ca in ("ca", "other-ca"):
        ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN={ca}")
    (where / "srv.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (where / "cli.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (("srv", "ca", "srv.ext"), ("cli", "ca", "cli.ext"),
                          ("stranger", "other-ca", "cli.ext")):
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_tcp(g, uri, *args):
    """The service on URI; a queue of its stderr lines, and those up to the one saying it
    serves."""
    p = g.popen("system", "service", "--time", "0", *args, uri, stderr=subprocess.PIPE,
                text=True)
    # a thread reads the lines: select() on the buffered pipe missed a second line already in
    # the reader's buffer (and waited its 30 s for nothing)
    got = queue.Queue()
    threading.Thread(target=lambda: [got.put(line) for line in p.stderr], daemon=True).start()
    lines = []
    try:
        while not any("serving the Docker Engine API" in line for line in lines):
            try:
                line = got.get(timeout=30)
            except queue.Empty:
                line = ""
            assert line, (lines, p.poll())
            lines.append(line)
    except BaseException:  # a service that never said it serves is not left running
        p.kill()
        p.wait()
        raise
    return p, got, lines


@pytest.fixture(scope="module")
def tls(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("engine-api-tls")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp)
    _certs(tmp)
    uri = f"tcp://127.0.0.1:{_free_port()}"
    p, got, _ = _serve_tcp(g, uri, "--tlscert", tmp / "srv.pem", "--tlskey", tmp / "srv.key",
                           "--tlscacert", tmp / "ca.pem")
    yield g, tmp, uri, got
    p.terminate()
    p.wait(timeout=10)


def client(tls, cert, *args, **kw):
    """docker --tlsverify against the service, presenting CERT (None: no certificate)."""
    _, tmp, uri, _ = tls
    flags = ["--tlsverify", "--tlscacert", str(tmp / "ca.pem")]
    if cert:
        flags += ["--tlscert", str(tmp / f"{cert}.pem"), "--tlskey", str(tmp / f"{cert}.key")]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "DOCKER_CONFIG": str(tmp)}
    return subprocess.run([DOCKER, "-H", uri, *flags, *args], capture_output=True, env=env,
                          timeout=60, **kw)


def test_a_client_the_ca_signed_runs_version_ps_and_run(tls):
    r = client(tls, "cli", "version", "--format", "{{.Server.APIVersion}}", text=True)
    assert r.returncode == 0 and r.stdout.strip() == "1.41", r
    assert client(tls, "cli", "ps", "-a").returncode == 0
    r = client(tls, "cli", "run", "--rm", "sample:latest", "sh", "-c", "echo via-tls; exit 4",
               text=True)
    assert (r.returncode, r.stdout) == (4, "via-tls\n"), r


def test_run_i_over_tls_ends_the_containers_stdin(tls):
    """docker's CLI ends a hijacked stdin with a TLS close_notify (no TCP shutdown): the
    container sees its stdin end, exits, and its output and status come back through the same
    TLS session. 300 kB goes through whole (many records, the close_notify right behind the
    last)."""
    r = client(tls, "cli", "run", "-i", "--rm", "sample:latest", "cat", input=b"hi\n")
    assert (r.returncode, r.stdout) == (0, b"hi\n"), r
    data = bytes(range(256)) * 1200
    r = client(tls, "cli", "run", "-i", "--rm", "sample:latest", "sh", "-c",
               "wc -c; exit 3", input=data)
    assert (r.returncode, r.stdout.split()) == (3, [str(len(data)).encode()]), r


def test_clients_without_a_certificate_the_ca_signed_are_refused(tls):
    """No certificate, or one another CA signed: refused in the handshake (nothing served), and
    the service says whom it refused and why."""
    *_, got = tls
    for who in (None, "stranger"):
        r = client(tls, who, "version", "--format", "{{.Server.APIVersion}}", text=True)
        assert r.returncode != 0 and "1.41" not in r.stdout, (who, r)
    notes, end = [], time.monotonic() + 10
    while len(notes) < 2 and time.monotonic() < end:
        try:
            line = got.get(timeout=max(0.1, end - time.monotonic()))
        except queue.Empty:
            break
        if "the TLS client 127.0.0.1:" in line and "refused" in line:
            notes.append(line)
    assert len(notes) == 2 and all("--tlscacert" in n for n in notes), notes
    # and it still serves
    assert client(tls, "cli", "version").returncode == 0


def test_a_client_that_says_nothing_holds_up_no_other(tls):
    """A TCP connection that never starts its handshake: other clients are served meanwhile,
    and the service closes it once the handshake's time (10 s) has passed."""
    _, _, uri, _ = tls
    host, port = uri[len("tcp://"):].rsplit(":", 1)
    silent = socket.create_connection((host, int(port)))
    half = socket.create_connection((host, int(port)))
    half.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
    try:
        start = time.monotonic()
        for _ in range(3):
            r = client(tls, "cli", "version", "--format", "{{.Server.APIVersion}}", text=True)
            assert r.returncode == 0 and r.stdout.strip() == "1.41", r
        assert time.monotonic() - start < 8, "a client waited for the silent one"
        for s in (silent, half):
            s.settimeout(20)
            assert s.recv(1) == b""  # closed by the service
        assert time.monotonic() - start < 20
    finally:
        silent.close()
        half.close()


def test_plain_tcp_warns_and_tls_needs_its_three_files(tls, tmp_path):
    g, tmp, _, _ = tls
    port = _free_port()
    p, _, lines = _serve_tcp(g, f"tcp://127.0.0.1:{port}")
    try:
        assert "without TLS" in lines[0], lines
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)}
        r = subprocess.run([DOCKER, "-H", f"tcp://127.0.0.1:{port}", "version", "--format",
                            "{{.Server.APIVersion}}"], capture_output=True, text=True, env=env,
                           timeout=60)
        assert r.stdout.strip() == "1.41", r
    finally:
        p.terminate()
        p.wait(timeout=10)
    r = g.run("system", "service", "--tlscert", tmp / "srv.pem", f"tcp://127.0.0.1:{port}",
              check=False)
    assert r.code != 0 and "--tlskey is missing" in r.err, r
    # a key that is not the certificate's: refused at start, naming the flags
    r = g.run("system", "service", "--tlscert", tmp / "srv.pem", "--tlskey", tmp / "cli.key",
              "--tlscacert", tmp / "ca.pem", f"tcp://127.0.0.1:{port}", check=False)
    assert r.code != 0 and "--tlscert and --tlskey" in r.err, r
