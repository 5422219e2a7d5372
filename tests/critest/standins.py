"""Stand-ins for the images critest v1.26.1 pulls (registry.k8s.io/e2e-test-images/... and
gcr.io/k8s-staging-cri-tools/...), made here and pushed to the test registry under the same
paths; containerd reaches them through registry mirrors of those hosts (run.py). Each gives what
critest observes of the real one and no more:

- busybox:1.29-2: the busybox of Debian's busybox package (BUSYBOX: dynamically linked, with the
  host's libc and libresolv; busybox-static's sh runs its own applets before it looks in PATH,
  so that `sh -c ls` would not notice /bin/ls masked, while busybox's image's sh runs /bin/ls, as
  this one does) with all its applets as hard links (as busybox's image has them: critest masks
  /bin/ls and expects only ls gone), busybox's /etc/passwd and group, and shell scripts for the
  two applets critest runs that Debian's busybox lacks (`ipcs -m`, `pgrep`).
- the pause image (the node's sandbox_image, cri_node.PAUSE): standins/pause.c, a process named
  pause as the real one's is (critest looks for `sleep` in pods that share their PID namespace).
- nginx:1.14-2, hostnet-nginx-amd64, httpd:2.4.39-4: busybox plus standins/webserver.c under the
  server's name (what `pidof nginx` finds; nginx writes /var/run/nginx.pid and has "master
  process" in its command line, as nginx's master has; httpd prints the start-up line critest
  looks for in its log), on port 80 (hostnet-nginx: 12003).
- nonewprivs:1.3: busybox plus standins/nnp.c, set-user-ID root, which prints its effective UID.
- test-image-user-*, test-image-predefined-group: the USER and /etc/passwd and group their
  Dockerfiles (cri-tools' images/) make.
- test-image-latest, -tag:test, -tag:all, -1/-2/-3 (three images), -tags:1/2/3 (one image), each
  an image of its own (critest checks an image's tags are only its own).

Not made: test-image-digest@sha256:9700f9..., whose digest only the real image has (run.py skips
the test that pulls it, for both handlers)."""
import re
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
PAUSE = "cri/pause:1"  # cri_node.PAUSE: replaced by the stand-in before the first pod
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
# Applets of busybox 1.29 that Debian's busybox 1.35 is built without, as far as critest uses them
IPCS = r"""#!/bin/sh
# critest stand-in for busybox's ipcs -m: the IPC namespace's shared memory segments
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch"
tail -n +2 /proc/sysvipc/shm | while read -r key shmid perms size cpid lpid nattch uid rest; do
  echo "$key $shmid $uid $perms $size $nattch"
done
"""
PGREP = r"""#!/bin/sh
# critest stand-in for busybox's pgrep PATTERN: the PIDs whose name matches, but its own
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = $$ ] && continue
  name=$(cat "$d/comm" 2>/dev/null) || continue
  case $name in pgrep) continue ;; esac
  echo "$name" | grep -q -- "$1" && echo "$pid"
done
exit 0
"""


# tests/critest/build.sh unpacks Debian's busybox package there
BUSYBOX = "/var/cache/gantry-critest/busybox/bin/busybox"


def _applets(busybox):
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                         check=True).stdout.split()
    return [a for a in out if a not in ("busybox", "[[") and "/" not in a]


def _build_static(src, out):
    subprocess.run(["gcc", "-static", "-Os", "-o", str(out), str(HERE / "standins" / src)],
                   check=True)
    return Path(out).read_bytes()


def _libraries(binary):
    """The libraries ldd says BINARY loads, at their host paths."""
    E = mkimage.Entry
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return [E.file(lib.lstrip("/"), Path(lib).read_bytes(), 0o755)
            for lib in re.findall(r"(/\S+) \(0x", ldd)]


def _base_layer(busybox):
    E = mkimage.Entry
    entries = [E.dir(d) for d in ("bin", "dev", "etc", "home", "lib", "lib/x86_64-linux-gnu",
                                  "lib64", "proc", "sys", "usr", "usr/bin", "usr/sbin",
                                  "usr/local", "usr/local/bin", "var", "var/run", "var/www")]
    entries += [E.dir("root", 0o700), E.dir("tmp", 0o1777),
                E.file("bin/busybox", Path(busybox).read_bytes(), 0o755),
                E.file("etc/passwd", PASSWD), E.file("etc/group", GROUP),
                E.file("bin/ipcs", IPCS, 0o755), E.file("bin/pgrep", PGREP, 0o755)]
    entries += _libraries(busybox)
    # a hard link's mode is its file's (containerd chmods the file to it, as docker writes it)
    entries += [E.hardlink("bin/" + a, "bin/busybox", mode=0o755) for a in _applets(busybox)
                if a not in ("ipcs", "pgrep")]
    # in this order: a hard link after the file it names
    return mkimage.Layer(entries, sort=False,
                         created_by="COPY busybox-static rootfs / # critest stand-in")


def _layer(entries, what):
    return mkimage.Layer(entries, created_by=f"COPY {what} # critest stand-in")


def images(workdir, busybox=BUSYBOX):
    """{repository:tag: mkimage.Image} of every stand-in."""
    E = mkimage.Entry
    web = _build_static("webserver.c", Path(workdir) / "webserver")
    nnp = _build_static("nnp.c", Path(workdir) / "nnp")
    pause = _build_static("pause.c", Path(workdir) / "pause")
    base = _base_layer(busybox)

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
        PAUSE: mkimage.Image([_layer([E.file("pause", pause, 0o755)], "pause")],
                             entrypoint=["/pause"]),
        E2E + "busybox:1.29-2": img(),
        E2E + "nginx:1.14-2": server("usr/sbin/nginx", "nginx", "-p", "80",
                                     "-pidfile", "/var/run/nginx.pid", "-g", "master process"),
        CRI_TOOLS + "hostnet-nginx-amd64:latest": server(
            "usr/sbin/nginx", "nginx", "-p", "12003", "-pidfile", "/var/run/nginx.pid",
            "-g", "master process"),
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
    def own(name):  # an image of NAME's own
        return img(_layer([E.file(f"etc/{name}", f"{name}\n")], name))

    for name in ("test-image-latest", "test-image-1", "test-image-2", "test-image-3"):
        out[CRI_TOOLS + f"{name}:latest"] = own(name)
    for tag in ("test", "all"):
        out[CRI_TOOLS + f"test-image-tag:{tag}"] = own(f"test-image-tag-{tag}")
    tags = own("test-image-tags")  # three tags of one image
    for tag in ("1", "2", "3"):
        out[CRI_TOOLS + f"test-image-tags:{tag}"] = tags
    return out


def push(reg, workdir, busybox=BUSYBOX):
    """Pushes every stand-in to REG (a fixtures.registry.harness.Registry)."""
    for ref, image in images(workdir, busybox).items():
        layout = Path(tempfile.mkdtemp(prefix="critest-img-", dir=workdir))
        mkimage.write_oci_layout(layout, [image])
        repo, tag = ref.rsplit(":", 1)
        raw_push(layout, reg.addr, repo, tag)
