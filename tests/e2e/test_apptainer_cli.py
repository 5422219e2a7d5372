"""`gantry apptainer` (issue 77): Apptainer's command line with Apptainer's semantics, each point
of its user guide asserted against what the container sees. One SIF, made by the reference's tool
(siftool) around a busybox root with Apptainer's /.singularity.d (runscript, startscript, test,
help, environment scripts, labels, a Deffile object), shared by every test; one container start
per group of assertions. No Apptainer is installed here: the expected values are the guide's
(docs/apptainer.md, "gantry apptainer", cites the source of each)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import GANTRY, NOBODY, Gantry, need_tool

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


def test_run_hands_its_arguments_to_the_runscript(g, sif, places):
    # apptainer-run(1): "all arguments following the container name will be passed directly to
    # the runscript", --help included; the environment scripts first (GREETING)
    p = apptainer(g, places, "run", sif, "--help", "x y")
    assert p.stdout == "runscript hello args: --help x y\n"
    # %environment's $* is the runscript's arguments, as Apptainer's action script gives them
    p = apptainer(g, places, "run", sif, "a", "b", env={"SHOW_ENV_ARGS": "1"})
    assert p.stdout == "runscript hello args: a b\nenv: a b\n"
    # `gantry run FILE.sif ARGS` keeps docker's meaning: ARGS replace the runscript
    assert g.run("run", "--rm", sif, "echo", "docker").out == "docker\n"
    assert g.run("run", "--rm", sif, "pwd").out == "/\n"


def test_exec_sees_apptainers_defaults(g, sif, places):
    p = apptainer(g, places, "exec", sif, "sh", "-c",
                  probe(places),
                  env={"APPTAINERENV_BAR": "set-by-prefix", "GREETING": "host-value"})
    f = facts(p.stdout)
    # identity: the calling user's uid and gid ("Security": no root unless --fakeroot)
    assert (f["uid"], f["gid"]) == (str(os.geteuid()), str(os.getegid()))
    # the working directory, bound, is where it starts; $HOME bound and set; /tmp, /var/tmp
    assert f["pwd"] == str(places["cwd"])
    assert f[f"{places['cwd']}/cwd-mark"] == "cwd"
    assert f["home"] == str(places["home"]) and f[f"{places['home']}/home-mark"] == "home"
    assert f[f"{places['tmp']}/tmp-mark"] == "tmp"
    assert f[f"{places['vtmp']}/var-mark"] == "var"
    # /dev is the host's, /etc/localtime the host's
    assert set(f["dev"].split()) == set(os.listdir("/dev")) | {".", ".."}
    if os.path.exists("/etc/localtime"):
        host_md5 = subprocess.run("md5sum < /etc/localtime", shell=True, capture_output=True,
                                  text=True).stdout.strip()
        assert f["localtime"] == host_md5
    # the host's PID, IPC and UTS namespaces
    assert f["pidns"] == os.readlink("/proc/self/ns/pid")
    assert f["ipcns"] == os.readlink("/proc/self/ns/ipc")
    assert f["host"] == socket.gethostname()
    # the host's environment passes in, but LD_LIBRARY_PATH and PATH; the image's own wins
    # (GREETING); APPTAINERENV_BAR sets BAR
    assert f["foo"] == "from-host" and f["term"] == "xterm-test" and f["ld"] == ""
    assert f["greeting"] == "hello" and f["bar"] == "set-by-prefix"
    assert "/host" not in f["path"]
    # the image is read-only
    assert f["writable"] == "no"


def test_containall_and_the_flags_that_change_the_defaults(g, sif, places):
    env_file = places["base"] / "env"
    env_file.write_text("# a comment\nexport A='from file'\nB=2\n")
    p = apptainer(g, places, "exec", "--containall", "--hostname", "box", "--writable-tmpfs",
                  "--env", "B=3", "--env-file", env_file, "--pwd", "/var", sif, "sh", "-c",
                  probe(places))
    f = facts(p.stdout)
    # --containall: no home, /tmp, /var/tmp or cwd of the host, own PID and IPC namespaces, a
    # clean environment (TERM passes; LANG=C)
    assert f[f"{places['home']}/home-mark"] == "" and f[f"{places['tmp']}/tmp-mark"] == ""
    assert f[f"{places['vtmp']}/var-mark"] == "" and f[f"{places['cwd']}/cwd-mark"] == ""
    assert f["pidns"] != os.readlink("/proc/self/ns/pid")
    assert f["ipcns"] != os.readlink("/proc/self/ns/ipc")
    assert f["foo"] == "" and f["term"] == "xterm-test" and f["lang"] == "C"
    # --hostname, --pwd, --writable-tmpfs, --env over --env-file
    assert f["host"] == "box" and f["pwd"] == "/var" and f["writable"] == "yes"
    assert f["a"] == "from file" and f["b"] == "3"
    assert set(f["dev"].split()) != set(os.listdir("/dev")) | {".", ".."}


def test_bind_home_and_refusals(g, sif, places):
    data = places["base"] / "data"
    data.mkdir()
    (data / "f").write_text("data\n")
    other = places["base"] / "other"
    other.mkdir()
    p = apptainer(g, places, "exec", "--no-home", "-B", f"{data}:/mnt/d:ro,{other}", sif, "sh",
                  "-c", 'cat /mnt/d/f; touch /mnt/d/x 2>/dev/null || echo ro; '
                        f'touch {other}/w && echo rw; '
                        f'cat "{places["home"]}/home-mark" 2>/dev/null || echo no-home')
    assert p.stdout.split() == ["data", "ro", "rw", "no-home"]
    assert (other / "w").exists()
    # --home SRC:DST
    p = apptainer(g, places, "exec", "--home", f"{data}:/home/me", sif, "sh", "-c",
                  'echo "$HOME"; cat "$HOME/f"')
    assert p.stdout == "/home/me\ndata\n"
    # what gantry does not do, refused naming it
    (places["base"] / "o.img").write_bytes(b"\0" * 4096)
    for args, words in (
            (["exec", "--overlay", places["base"] / "o.img", sif, "true"], "an overlay image"),
            (["exec", "--bind", f"{data}:/x:nosuid", sif, "true"], "nosuid"),
            (["exec", "--no-such-flag", sif, "true"], "--no-such-flag"),
            (["pull", "library://alpine"], "oras://"),
            (["exec", "--env-file", env_needs_shell(places), sif, "true"], ":1")):
        r = apptainer(g, places, *args, check=False)
        assert r.returncode == 2 and words in r.stderr, (args, r.stderr)


def test_overlay_directories_as_apptainers(g, sif, places):
    # --overlay DIR: what the container writes stays in DIR/upper for the next run, DIR:ro a
    # lower layer (its upper/), a later flag's above an earlier one's (Apptainer's
    # container_linux.go, addOverlayMount)
    ov, ov2 = places["base"] / "ov", places["base"] / "ov2"
    ov.mkdir()
    ov2.mkdir()
    apptainer(g, places, "exec", "--overlay", ov, sif, "sh", "-c",
              "echo kept > /made && rm /usr/bin/md5sum")
    assert (ov / "upper" / "made").read_text() == "kept\n"
    # the binds' mount points ($HOME, the working directory) are not written into it
    assert sorted(p.name for p in (ov / "upper").iterdir()) == ["made", "usr"]
    p = apptainer(g, places, "exec", "--overlay", f"{ov}:ro", sif, "sh", "-c",
                  "cat /made; ls /usr/bin/md5sum 2>/dev/null || echo gone; "
                  "touch /x 2>/dev/null || echo read-only")
    assert p.stdout.split() == ["kept", "gone", "read-only"]
    p = apptainer(g, places, "exec", "--overlay", f"{ov}:ro", "--overlay", ov2, sif, "sh", "-c",
                  "cat /made; echo two > /made")
    assert p.stdout == "kept\n"
    assert (ov2 / "upper" / "made").read_text() == "two\n"
    assert (ov / "upper" / "made").read_text() == "kept\n"
    p = apptainer(g, places, "exec", "--overlay", f"{ov2}:ro", "--overlay", f"{ov}:ro", sif,
                  "cat", "/made")
    assert p.stdout == "kept\n"  # the later flag's layer on top
    for args, code, words in (
            (["--overlay", ov, "--overlay", ov2], 2, "more than one writable overlay"),
            (["--overlay", ov, "--writable-tmpfs"], 2, "--writable-tmpfs with another writable"),
            (["--overlay", places["base"] / "nope"], 3, "failed to open overlay image")):
        r = apptainer(g, places, "exec", *args, sif, "true", check=False)
        assert r.returncode == code and words in r.stderr, (args, r.stderr)


def env_needs_shell(places):
    f = places["base"] / "shell-env"
    f.write_text('X="$HOME/bin"\n')
    return f


def test_nv_without_a_driver_warns_and_runs(g, sif, places):
    p = apptainer(g, places, "exec", "--nv", sif, "echo", "ran")
    assert p.stdout == "ran\n"
    has_driver = os.path.exists("/proc/driver/nvidia/version")
    assert ("Could not find any nv files on this host!" in p.stderr) == (not has_driver)


def test_shell_test_inspect_and_run_help(g, sif, places):
    # shell: /bin/bash --norc when there is one, else /bin/sh (busybox here); its arguments
    p = apptainer(g, places, "shell", sif, "-c", 'echo "$SHELL $GREETING"')
    assert p.stdout == "/bin/sh hello\n"
    # -s/--shell: $SINGULARITY_SHELL, which Apptainer's shell.sh runs first
    p = apptainer(g, places, "shell", "-s", "/usr/bin/sh", sif, "-c", 'echo "$SINGULARITY_SHELL"')
    assert p.stdout == "/usr/bin/sh\n"
    # test: %test with its arguments, its status Apptainer's
    r = apptainer(g, places, "test", sif, "a", check=False)
    assert (r.returncode, r.stdout) == (3, "test hello a\n")
    # inspect: labels by default ("key: value", sorted); the definition file from its SIF
    # object; the runscript; the environment scripts Apptainer shows; the help
    out = apptainer(g, places, "inspect", sif).stdout
    assert out == "maintainer: a&b <x>\norg.label-schema.usage: hello\n"
    assert apptainer(g, places, "inspect", "--deffile", sif).stdout == DEFFILE + "\n"
    assert apptainer(g, places, "inspect", "-r", sif).stdout == f"#!/bin/sh\n{RUNSCRIPT}\n"
    env = apptainer(g, places, "inspect", "--environment", sif).stdout
    assert env == ("=== /.singularity.d/env/10-docker2singularity.sh ===\n#!/bin/sh\n"
                   "export FROM_DOCKER=1\n\n=== /.singularity.d/env/90-environment.sh ===\n"
                   '#!/bin/sh\nexport GREETING=hello\nexport ENV_ARGS="$*"\n\n')
    j = json.loads(apptainer(g, places, "inspect", "--all", sif).stdout)
    attrs = j["data"]["attributes"]
    assert j["type"] == "container" and attrs["helpfile"] == "Says hello."
    assert list(attrs) == ["environment", "labels", "runscript", "test", "helpfile", "deffile",
                           "startscript"]
    assert "\\u0026" in apptainer(g, places, "inspect", "--json", sif).stdout  # Go's escaping
    assert apptainer(g, places, "run-help", sif).stdout == "Says hello.\n"


@pytest.fixture(scope="module")
def sandbox(sif):
    """`apptainer build --sandbox DIR app.sif`: the module's SIF as a sandbox directory."""
    d = Path(tempfile.mkdtemp(prefix=".apptainer-sandbox-", dir=GANTRY.parent))
    os.chmod(d, 0o755)
    sb = d / "sb"
    r = Gantry(d / "store").run("apptainer", "build", "--sandbox", sb, sif)
    assert "Build complete" in r.err
    yield sb
    shutil.rmtree(d, ignore_errors=True)


def test_sandbox_build_run_inspect_and_back_to_a_sif(g, sif, sandbox, places):
    # the tree Apptainer's sandbox build writes: the image's root, /.singularity.d in it, and
    # the directories of its base environment
    meta = sandbox / ".singularity.d"
    assert (meta / "runscript").read_text() == "#!/bin/sh\n" + RUNSCRIPT + "\n"
    assert json.loads((meta / "labels.json").read_text())["maintainer"] == "a&b <x>"
    assert sorted(os.listdir(meta / "env")) == ["10-docker2singularity.sh", "90-environment.sh"]
    for d in ("proc", "sys", "dev", "tmp", "var/tmp", "home", "root"):
        assert (sandbox / d).is_dir(), d
    assert (sandbox / "usr/bin/busybox").stat().st_uid == os.geteuid()
    # run, exec, test, inspect and run-help of the directory, as of the SIF
    assert apptainer(g, places, "run", sandbox, "--help").stdout == \
        "runscript hello args: --help\n"
    p = apptainer(g, places, "exec", sandbox, "sh", "-c",
                  'echo "$APPTAINER_CONTAINER $APPTAINER_NAME"; touch /x 2>/dev/null || echo ro')
    assert p.stdout == f"{sandbox} sb\nro\n"
    r = apptainer(g, places, "test", sandbox, check=False)
    assert (r.returncode, r.stdout) == (3, "test hello \n")
    assert apptainer(g, places, "inspect", "--runscript", sandbox).stdout == \
        "#!/bin/sh\n" + RUNSCRIPT + "\n"
    assert "maintainer: a&b <x>" in apptainer(g, places, "inspect", sandbox).stdout
    assert apptainer(g, places, "run-help", sandbox).stdout == "Says hello.\n"
    # an existing target is refused (Apptainer's words) unless --force
    r = apptainer(g, places, "build", "--sandbox", sandbox, sif, check=False)
    assert r.returncode == 5 and "already exists" in r.stderr, r.stderr
    # back to a SIF: the reference's tool reads it, and it runs
    out = places["cwd"] / "from-sandbox.sif"
    apptainer(g, places, "build", out, sandbox)
    listing = subprocess.run(["siftool", "list", str(out)], check=True, capture_output=True,
                             text=True).stdout
    assert "Squashfs" in listing and "System" in listing, listing
    assert apptainer(g, places, "run", out, "z").stdout == "runscript hello args: z\n"
    # --writable of a SIF: refused with Apptainer's reason
    r = apptainer(g, places, "exec", "--writable", out, "true", check=False)
    assert r.returncode == 2 and "no SIF writable overlay partition found" in r.stderr, r.stderr
    # a definition file as the source: built as a SIF, then unpacked
    d = places["cwd"] / "on-sif.def"
    d.write_text(f"Bootstrap: localimage\nFrom: {sif}\n%runscript\n  echo from-def\n")
    sb2 = places["cwd"] / "sb2"
    apptainer(g, places, "build", "--sandbox", sb2, d)
    assert apptainer(g, places, "run", sb2).stdout == "from-def\n"
    assert apptainer(g, places, "inspect", "--deffile", sb2).stdout == d.read_text()
    # a sandbox from a sandbox; --force replaces it
    apptainer(g, places, "build", "--force", "--sandbox", sb2, sandbox)
    assert apptainer(g, places, "run", sb2, "y").stdout == "runscript hello args: y\n"


def test_sandbox_writable_and_hostile_links(g, sandbox, places, tmp_path):
    # --writable: the directory itself is the root; what the run writes stays
    sb = places["base"] / "w"
    shutil.copytree(sandbox, sb, symlinks=True)
    p = apptainer(g, places, "exec", "--writable", sb, "sh", "-c", "echo kept > /made")
    assert (sb / "made").read_text() == "kept\n"
    # binds whose mount point it lacks are skipped, as Apptainer's (the working directory)
    assert "doesn't exist in container" in p.stderr
    r = apptainer(g, places, "exec", "--writable", "--writable-tmpfs", sb, "true", check=False)
    assert r.returncode == 2
    # links that point out of the tree lead back into it: the runscript and labels.json at
    # host files, /dev at a host directory (a mount point the run makes)
    secret = places["base"] / "secret"
    secret.write_text("host secret\n")
    outside = places["base"] / "outside"
    outside.mkdir()
    meta = sb / ".singularity.d"
    for name in ("runscript", "labels.json"):
        (meta / name).unlink()
        (meta / name).symlink_to(secret)
    shutil.rmtree(sb / "dev")
    (sb / "dev").symlink_to(outside)
    assert "host secret" not in apptainer(g, places, "inspect", "--runscript", "--json",
                                          sb).stdout
    for flags in ([], ["--writable"]):
        # no runscript there: Apptainer's run action starts /bin/sh with the arguments
        r = apptainer(g, places, "run", *flags, sb, "-c",
                      "cat /.singularity.d/runscript; exit 7", check=False)
        assert "host secret" not in r.stdout + r.stderr
        assert r.returncode != 0, (r.stdout, r.stderr)
    assert os.listdir(outside) == []
    assert secret.read_text() == "host secret\n"


def namespace_pids(pid):
    """The host pids of the processes in PID's pid namespace."""
    ns = os.readlink(f"/proc/{pid}/ns/pid")
    out = set()
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and os.readlink(f"/proc/{d}/ns/pid") == ns:
                out.add(int(d))
        except OSError:
            pass
    return out


def test_instance_start_list_exec_stop(g, sif, places):
    out = places["cwd"]  # bound: the working directory
    name = f"inst{os.getpid()}"
    p = apptainer(g, places, "instance", "start", sif, name, str(out))
    assert "instance started successfully" in p.stderr
    deadline = time.monotonic() + 30
    while not (out / "started").exists():
        assert time.monotonic() < deadline, "the startscript never ran"
        time.sleep(0.05)
    assert (out / "started").read_text() == f"started {name} {out}\n"
    cid = g.run("ps", "-q", "--no-trunc", "--filter", f"label=org.apptainer.instance={name}").out
    try:
        listing = apptainer(g, places, "instance", "list").stdout.splitlines()
        assert listing[0].split() == ["INSTANCE", "NAME", "PID", "IP", "IMAGE"]
        row = next(line.split() for line in listing[1:] if line.startswith(name + " "))
        assert row[2] == str(sif)
        j = json.loads(apptainer(g, places, "instance", "list", "--json", name).stdout)
        assert [i["instance"] for i in j["instances"]] == [name]
        init = j["instances"][0]["pid"]
        # the startscript returned (the file is written after the fork): the daemon it left is
        # held by the instance's init (Apptainer's appinit), and exec joins them
        r = apptainer(g, places, "exec", f"instance://{name}", "sh", "-c",
                      'echo "$GREETING $APPTAINER_INSTANCE"; readlink /proc/self/ns/pid; '
                      'cat /proc/[0-9]*/comm')
        lines = r.stdout.splitlines()
        assert lines[0] == f"hello {name}" and lines[1] != os.readlink("/proc/self/ns/pid")
        assert "sleep" in lines[2:] and "startscript" not in lines[2:], lines
        held = namespace_pids(init)
        assert init in held and len(held) >= 2, held
    finally:
        # SIGINT (Apptainer's default), which a daemon started with & ignores: SIGKILL after -t
        apptainer(g, places, "instance", "stop", "-t", "1", name)
    # nothing left: no process, no mount naming the container, no record
    assert not [pid for pid in held if os.path.exists(f"/proc/{pid}")], held
    assert cid.strip() and cid.strip() not in Path("/proc/self/mountinfo").read_text()
    assert name not in apptainer(g, places, "instance", "list").stdout
    assert g.run("ps", "-aq", "--filter", f"label=org.apptainer.instance={name}").out == ""
    r = apptainer(g, places, "instance", "stop", name, check=False)
    assert r.returncode == 3
    # --signal: TERM reaches the daemon
    apptainer(g, places, "instance", "start", sif, name, str(out))
    r = apptainer(g, places, "instance", "stop", "--signal", "TERM", name)
    assert f"Stopping {name} instance" in r.stderr
    assert name not in apptainer(g, places, "instance", "list").stdout
    r = apptainer(g, places, "instance", "stop", "--signal", "NOPE", name, check=False)
    assert r.returncode == 2 and "--signal" in r.stderr, r.stderr


def test_rootless_identity_fakeroot_and_the_apptainer_name(rootless, sif, fuse_open):
    home = rootless.base / "home"
    home.mkdir()
    os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    places = {"home": home, "cwd": rootless.base}
    copy = rootless.base / "app.sif"  # pytest's directories are root's alone
    shutil.copy(sif, copy)
    os.chmod(copy, 0o644)
    sif = copy
    show = ["sh", "-c", 'echo "$(id -u) $(id -g) $HOME $(id -un)"']
    # the caller's passwd entry added to the image's (Apptainer's `config passwd`)
    p = apptainer(rootless, places, "exec", sif, *show)
    assert p.stdout == f"{NOBODY.pw_uid} {NOBODY.pw_gid} {home} {NOBODY.pw_name}\n"
    p = apptainer(rootless, places, "exec", "--fakeroot", sif, *show)
    assert p.stdout == "0 0 /root root\n"
    # a rootless sandbox: every file the caller's (Apptainer's unprivileged build), written
    # in place with --writable
    sb = rootless.base / "sb"
    apptainer(rootless, places, "build", "--sandbox", sb, sif)
    assert {(sb / f).stat().st_uid for f in ("usr/bin/busybox", ".singularity.d/runscript",
                                              "etc/passwd")} == {NOBODY.pw_uid}
    apptainer(rootless, places, "exec", "--writable", sb, "sh", "-c", "id -u > /made")
    assert (sb / "made").read_text() == f"{NOBODY.pw_uid}\n"
    assert (sb / "made").stat().st_uid == NOBODY.pw_uid
    # a rootless writable overlay directory: the caller's files in its upper/
    ov = rootless.base / "ov"
    ov.mkdir()
    os.chown(ov, NOBODY.pw_uid, NOBODY.pw_gid)
    apptainer(rootless, places, "exec", "--overlay", ov, sif, "sh", "-c", "id -u > /made")
    assert (ov / "upper" / "made").read_text() == f"{NOBODY.pw_uid}\n"
    assert (ov / "upper" / "made").stat().st_uid == NOBODY.pw_uid
    # a rootless instance of it: held by its init after the startscript returned, joined by
    # exec (through a process of the container: the init is not dumpable), stopped
    name = f"rl{os.getpid()}"
    apptainer(rootless, places, "instance", "start", sb, name, str(rootless.base))
    try:
        deadline = time.monotonic() + 30
        while not (rootless.base / "started").exists():
            assert time.monotonic() < deadline, "the startscript never ran"
            time.sleep(0.05)
        r = apptainer(rootless, places, "exec", f"instance://{name}", "sh", "-c",
                      "id -u; cat /proc/[0-9]*/comm")
        assert r.stdout.split()[0] == str(NOBODY.pw_uid), r.stdout
        assert "sleep" in r.stdout.split() and "startscript" not in r.stdout.split(), r.stdout
    finally:
        apptainer(rootless, places, "instance", "stop", "-s", "TERM", name)
    assert name not in apptainer(rootless, places, "instance", "list").stdout
    # called as `apptainer` (the link the package installs): gantry apptainer
    link = rootless.base / "apptainer"
    link.symlink_to(rootless.bin)
    r = subprocess.run(["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
                        "--clear-groups", "--", str(link), "run", str(sif), "z"],
                       cwd=rootless.base, env={**rootless.environ(), "HOME": str(home)},
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, "runscript hello args: z\n"), r.stderr


def test_oras_round_trip_with_apptainers_media_types(g, sif, places, mk, tmp_path):
    # `apptainer push x.sif oras://...` and `pull oras://...` against a local registry: the
    # manifest Apptainer's ORAS client writes (internal/pkg/client/oras/image.go)
    need_tool("docker-registry")
    need_tool("skopeo")
    from fixtures.registry.harness import Registry
    from registry_common import publish
    reg = Registry(tmp_path / "reg").start()
    try:
        ref = f"oras://{reg.addr}/lab/app:1.0"
        apptainer(g, places, "push", "--no-https", sif, ref)
        req = urllib.request.Request(f"http://{reg.addr}/v2/lab/app/manifests/1.0", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"})
        m = json.loads(urllib.request.urlopen(req, timeout=30).read())
        assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert m["config"]["mediaType"] == "application/vnd.sylabs.sif.config.v1+json"
        assert m["config"]["size"] == 2  # the empty JSON object {}
        [layer] = m["layers"]
        assert layer["mediaType"] == "application/vnd.sylabs.sif.layer.v1.sif"
        assert layer["annotations"] == {"org.opencontainers.image.title": "app.sif"}
        assert layer["size"] == sif.stat().st_size
        out = places["cwd"] / "pulled.sif"
        apptainer(g, places, "pull", "--no-https", out, ref)
        assert out.read_bytes() == sif.read_bytes()
        assert apptainer(g, places, "run", out, "back").stdout == "runscript hello args: back\n"
        # an existing file stays unless --force; the default name is NAME_TAG.sif
        r = apptainer(g, places, "pull", "--no-https", out, ref, check=False)
        assert r.returncode == 5 and "already exists" in r.stderr
        apptainer(g, places, "pull", "--no-https", ref)
        assert (places["cwd"] / "app_1.0.sif").read_bytes() == sif.read_bytes()
        # an ORAS artifact as a sandbox's source
        sb = places["cwd"] / "from-oras"
        apptainer(g, places, "build", "--no-https", "--sandbox", sb, ref)
        assert apptainer(g, places, "run", sb, "o").stdout == "runscript hello args: o\n"
        # Bootstrap: oras builds on the pushed SIF (registries.conf lets it speak plain http)
        conf = tmp_path / "registries.conf"
        conf.write_text(f'[[registry]]\nlocation = "{reg.addr}"\ninsecure = true\n')
        d = places["cwd"] / "on-oras.def"
        d.write_text(f"Bootstrap: oras\nFrom: {reg.addr}/lab/app:1.0\n"
                     "%post\n  echo built > /built\n%runscript\n  cat /built\n")
        built = places["cwd"] / "on-oras.sif"
        apptainer(g, places, "build", built, d, env={"CONTAINERS_REGISTRIES_CONF": str(conf)})
        assert apptainer(g, places, "run", built).stdout == "built\n"
        # a registry image is no SIF artifact: refused naming its layer's media type
        publish(mk, tmp_path, f"{reg.addr}/lab/img:1")
        r = apptainer(g, places, "pull", "--no-https", places["cwd"] / "x.sif",
                      f"oras://{reg.addr}/lab/img:1", check=False)
        assert r.returncode == 4 and "invalid layer media type" in r.stderr, r.stderr
        # the site's policy.json applies as to an image's pull
        policy = tmp_path / "policy.json"
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}],
                                      "transports": {"docker": {f"{reg.addr}/lab": [
                                          {"type": "reject"}]}}}))
        r = apptainer(g, places, "pull", "--no-https", "--force", out, ref,
                      env={"CONTAINERS_POLICY_JSON": str(policy)}, check=False)
        assert r.returncode == 11, r.stderr
    finally:
        reg.stop()
