"""`gantry apptainer` (issue 77): Apptainer's command line with Apptainer's semantics, each point
of its user guide asserted against what the container sees. One SIF, made by the reference's tool
(siftool) around a busybox root with Apptainer's /.singularity.d (apptainer_common.py), shared by
every test; one container start per group of assertions (sandboxes: test_apptainer_sandbox.py). No Apptainer is installed here: the expected values are the guide's
(docs/apptainer.md, "gantry apptainer", cites the source of each)."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from apptainer_common import (DEFFILE, RUNSCRIPT, apptainer, facts, places,  # noqa: F401
                              probe, sif)
from conftest import NOBODY, need_tool


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
