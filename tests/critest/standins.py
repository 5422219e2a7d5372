"""Stand-ins for the images critest v1.26.1 pulls (registry.k8s.io/e2e-test-images/... and
gcr.io/k8s-staging-cri-tools/...), made here and pushed to the test registry under the same
paths; containerd reaches them through registry mirrors of those hosts (run.py). Each gives what
critest observes of the real one and no more:

- busybox:1.29-2: Debian's static busybox with all its applets, busybox's /etc/passwd and group.
- nginx:1.14-2, hostnet-nginx-amd64, httpd:2.4.39-4: busybox plus standins/webserver.c under the
  server's name (what `pidof nginx` finds; nginx writes /var/run/nginx.pid; httpd prints the
  start-up line critest looks for in its log), on port 80 (hostnet-nginx: 12003).
- nonewprivs:1.3: busybox plus standins/nnp.c, set-user-ID root, which prints its effective UID.
- test-image-user-*, test-image-predefined-group: the USER and /etc/passwd and group their
  Dockerfiles (cri-tools' images/) make.
- test-image-latest, -tag:test, -tag:all, -1/-2/-3 (three images), -tags:1/2/3 (one image).

Not made: test-image-digest@sha256:9700f9..., whose digest only the real image has (run.py skips
the test that pulls it, for both handlers)."""
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fixtures import mkimage  # noqa: E402
from fixtures.registry.harness import raw_push  # noqa: E402

E2E = "e2e-test-images/"
CRI_TOOLS = "k8s-staging-cri-tools/"
# busybox's own image's users and groups (www-data is the username critest's images name)
PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
mail:x:8:
www-data:x:33:
users:x:100:
nogroup:x:65534:
"""


def _applets():
    out = subprocess.run([mkimage.BUSYBOX, "--list"], capture_output=True, text=True,
                         check=True).stdout.split()
    return [a for a in out if a not in ("busybox", "[[") and "/" not in a]


def _build_static(src, out):
    subprocess.run(["gcc", "-static", "-Os", "-o", str(out), str(HERE / "standins" / src)],
                   check=True)
    return Path(out).read_bytes()


def _base_layer():
    E = mkimage.Entry
    entries = [E.dir(d) for d in ("bin", "dev", "etc", "home", "proc", "sys", "usr", "usr/bin",
                                  "usr/sbin", "usr/local", "usr/local/bin", "var", "var/run",
                                  "var/www")]
    entries += [E.dir("root", 0o700), E.dir("tmp", 0o1777),
                E.file("bin/busybox", mkimage._busybox_bytes(), 0o755),
                E.file("etc/passwd", PASSWD), E.file("etc/group", GROUP)]
    entries += [E.symlink("bin/" + a, "busybox") for a in _applets()]
    return mkimage.Layer(entries, created_by="COPY busybox-static rootfs / # critest stand-in")


def _layer(entries, what):
    return mkimage.Layer(entries, created_by=f"COPY {what} # critest stand-in")


def images(workdir):
    """{repository:tag: mkimage.Image} of every stand-in."""
    E = mkimage.Entry
    web = _build_static("webserver.c", Path(workdir) / "webserver")
    nnp = _build_static("nnp.c", Path(workdir) / "nnp")
    base = _base_layer()

    def img(*extra, **kw):
        kw.setdefault("cmd", ["sh"])
        return mkimage.Image([base, *extra], **kw)

    def server(path, name, *args):
        layer = _layer([E.file(path, web, 0o755)], name)
        return img(layer, cmd=[f"/{path}", *args])

    predefined = _layer([
        E.file("etc/passwd", PASSWD + "default-user:x:1000:1000::/home/default-user:/bin/sh\n"),
        E.file("etc/group", GROUP + "default-user:x:1000:\n"
               "group-defined-in-image:x:50000:default-user\n"),
        E.dir("home/default-user", uid=1000, gid=1000)], "adduser default-user")
    out = {
        E2E + "busybox:1.29-2": img(),
        E2E + "nginx:1.14-2": server("usr/sbin/nginx", "nginx", "-p", "80",
                                     "-pidfile", "/var/run/nginx.pid"),
        CRI_TOOLS + "hostnet-nginx-amd64:latest": server(
            "usr/sbin/nginx", "nginx", "-p", "12003", "-pidfile", "/var/run/nginx.pid"),
        E2E + "httpd:2.4.39-4": server(
            "usr/local/bin/httpd", "httpd", "-p", "80", "-say",
            "[core:notice] AH00094: Command line: 'httpd -D FOREGROUND'"),
        E2E + "nonewprivs:1.3": img(_layer([E.file("usr/local/bin/nnp", nnp, 0o4755)], "nnp"),
                                    cmd=["/usr/local/bin/nnp"]),
        CRI_TOOLS + "test-image-user-uid:latest": img(user="1002"),
        CRI_TOOLS + "test-image-user-username:latest": img(user="www-data"),
        CRI_TOOLS + "test-image-user-uid-group:latest": img(user="1003:users"),
        CRI_TOOLS + "test-image-user-username-group:latest": img(user="www-data:users"),
        CRI_TOOLS + "test-image-predefined-group:latest": img(predefined, user="1000"),
    }
    plain = img()
    for tag in ("test-image-latest:latest", "test-image-tag:test", "test-image-tag:all",
                "test-image-tags:1", "test-image-tags:2", "test-image-tags:3"):
        out[CRI_TOOLS + tag] = plain
    for i in (1, 2, 3):  # three different images
        out[CRI_TOOLS + f"test-image-{i}:latest"] = img(
            _layer([E.file(f"etc/test-image-{i}", f"{i}\n")], f"test-image-{i}"))
    return out


def push(reg, workdir):
    """Pushes every stand-in to REG (a fixtures.registry.harness.Registry)."""
    for ref, image in images(workdir).items():
        layout = Path(tempfile.mkdtemp(prefix="critest-img-", dir=workdir))
        mkimage.write_oci_layout(layout, [image])
        repo, tag = ref.rsplit(":", 1)
        raw_push(layout, reg.addr, repo, tag)
