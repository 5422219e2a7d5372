"""What the `gantry apptainer` tests (test_apptainer_cli.py, test_apptainer_sandbox.py) share:
one SIF made by the reference's tool (siftool) around a busybox root with Apptainer's
/.singularity.d (runscript, startscript, test, help, environment scripts, labels, a Deffile
object: `sif`, once per test module), a home, a working directory and markers in /tmp and
/var/tmp (`places`), `gantry apptainer` run from there (`apptainer`), and the PROBE a container
runs to show what it sees (`probe`, `facts`)."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import GANTRY, need_tool

RUNSCRIPT = 'echo "runscript $GREETING args: $*"; [ -z "$SHOW_ENV_ARGS" ] || echo "env: $ENV_ARGS"'
# a daemon that forks and returns: the instance outlives its startscript, as Apptainer's
STARTSCRIPT = 'sleep 600 & echo "started $APPTAINER_INSTANCE $*" > "$1/started"'
DEFFILE = "Bootstrap: docker\nFrom: busybox\n\n%help\n    Says hello.\n"
PROBE = ('echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "pwd=$(pwd)"; echo "home=$HOME"; '
         'echo "foo=$FOO"; echo "greeting=$GREETING"; echo "bar=$BAR"; echo "ld=$LD_LIBRARY_PATH"; '
         'echo "path=$PATH"; echo "lang=$LANG"; echo "term=$TERM"; echo "a=$A"; echo "b=$B"; '
         'echo "pidns=$(readlink /proc/self/ns/pid)"; echo "ipcns=$(readlink /proc/self/ns/ipc)"; '
         'echo "host=$(hostname)"; echo "dev=$(ls -a /dev | sort | tr "\\n" " ")"; '
         'for m in HOME_MARK /tmp/tmp-mark /var/tmp/var-mark CWD_MARK; do '
         '  echo "$m=$(cat "$m" 2>/dev/null)"; done; '
         'echo "localtime=$(md5sum < /etc/localtime 2>/dev/null)"; '
         'if touch /.gantry-write 2>/dev/null; then echo "writable=yes"; else echo "writable=no"; fi')


def facts(out):
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def sif(tmp_path_factory):
    need_tool("mksquashfs")
    need_tool("siftool")
    d = tmp_path_factory.mktemp("apptainer")
    root = d / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    shutil.copy("/bin/busybox", root / "usr" / "bin" / "busybox")
    for tool in ("sh", "echo", "cat", "env", "id", "ls", "sort", "tr", "readlink", "hostname",
                 "touch", "md5sum", "sleep", "pwd"):
        (root / "usr" / "bin" / tool).symlink_to("busybox")
    for dirname in ("tmp", "var/tmp", "home", "etc", "root"):
        (root / dirname).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    meta = root / ".singularity.d"
    (meta / "env").mkdir(parents=True)
    (meta / "env" / "90-environment.sh").write_text(
        '#!/bin/sh\nexport GREETING=hello\nexport ENV_ARGS="$*"\n')
    (meta / "env" / "10-docker2singularity.sh").write_text("#!/bin/sh\nexport FROM_DOCKER=1\n")
    for name, body in (("runscript", RUNSCRIPT), ("startscript", STARTSCRIPT),
                       ("test", 'echo "test $GREETING $*"; exit 3')):
        (meta / name).write_text("#!/bin/sh\n" + body + "\n")
        (meta / name).chmod(0o755)
    (meta / "runscript.help").write_text("Says hello.\n")
    (meta / "labels.json").write_text(json.dumps({"org.label-schema.usage": "hello",
                                                  "maintainer": "a&b <x>"}))
    sqsh = d / "root.sqsh"
    subprocess.run(["mksquashfs", str(root), str(sqsh), "-quiet", "-noappend", "-all-root"],
                   check=True, capture_output=True)
    deffile = d / "Singularity"
    deffile.write_text(DEFFILE)
    path = d / "app.sif"
    subprocess.run(["siftool", "new", str(path)], check=True, capture_output=True)
    subprocess.run(["siftool", "add", str(path), str(deffile), "--datatype", "1"], check=True,
                   capture_output=True)
    subprocess.run(["siftool", "add", str(path), str(sqsh), "--datatype", "4", "--parttype", "2",
                    "--partfs", "1", "--partarch", "2"], check=True, capture_output=True)
    os.chmod(d, 0o755)
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def places(tmp_path):
    """A home and a working directory outside /tmp (their binds are Apptainer's, not /tmp's),
    each with a marker file, and markers in /tmp and /var/tmp."""
    base = Path(tempfile.mkdtemp(prefix=".apptainer-e2e-", dir=GANTRY.parent))
    os.chmod(base, 0o755)
    home, cwd = base / "home", base / "work"
    home.mkdir()
    cwd.mkdir()
    (home / "home-mark").write_text("home")
    (cwd / "cwd-mark").write_text("cwd")
    tmp = Path(tempfile.mkdtemp(prefix="apptainer-e2e-", dir="/tmp"))
    vtmp = Path(tempfile.mkdtemp(prefix="apptainer-e2e-", dir="/var/tmp"))
    os.chmod(tmp, 0o755)
    os.chmod(vtmp, 0o755)
    (tmp / "tmp-mark").write_text("tmp")
    (vtmp / "var-mark").write_text("var")
    yield {"home": home, "cwd": cwd, "tmp": tmp, "vtmp": vtmp, "base": base}
    for p in (base, tmp, vtmp):
        shutil.rmtree(p, ignore_errors=True)


def apptainer(g, places, *args, env=None, check=True, user=None):
    """`gantry apptainer ARGS` from the working directory, HOME the test's home."""
    environ = dict(g.environ())
    environ.update({"HOME": str(places["home"]), "FOO": "from-host", "TERM": "xterm-test",
                    "LD_LIBRARY_PATH": "/host/lib", "CWD": str(places["cwd"])})
    environ.update(env or {})
    cmd = g.cmd("apptainer", *args)
    p = subprocess.run(cmd, cwd=places["cwd"], env=environ, capture_output=True, text=True,
                       timeout=120)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def probe(places):
    # the markers by their host paths (--cleanenv leaves no variable to find them by)
    return (PROBE.replace("/var/tmp/var-mark", f"{places['vtmp']}/var-mark")
            .replace("/tmp/tmp-mark", f"{places['tmp']}/tmp-mark")
            .replace("HOME_MARK", f"{places['home']}/home-mark")
            .replace("CWD_MARK", f"{places['cwd']}/cwd-mark"))
