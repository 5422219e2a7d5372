"""The rest of runc's ground (issue 52's list from crun's suite, reproduced here): `update` of
cpu shares and of several resources at once, tmpfs permissions from its options, a bind onto a
target that does not exist yet through a symlink, bind mounts in a user namespace, a device
path with a trailing slash, `--log` at a path that cannot be opened, hooks without `env`, exec's
errors and the process group (idmapped mounts: test_oci_idmap.py). Each case runs the same
bundle under Debian's runc 1.1.5 (as root) and gantry oci and compares what was observed;
linux.personality and rootfsPropagation unbindable, which runc 1.1.5 does not apply, against
Debian's crun 1.8.1."""
import json
import os
import subprocess
import time
from pathlib import Path

import shutil

import pytest

import host_setup
from conftest import need_tool
from ocidiff import (ROOT, bundle, edit_config, oci_bin, run_both, runtimes,  # noqa: F401
                     set_process)
from test_oci_mounts import MAPPED, reachable, userns
from test_oci_resources import cgroup_dir, started  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not ROOT, reason="compares with runc, which runs as root here")
MB = 1024 * 1024


def cgroup_values(pid):
    """The v1 files update writes, read on the host."""
    cpu, mem, pids = (cgroup_dir(pid, c) for c in ("cpu", "memory", "pids"))
    return {"shares": (cpu / "cpu.shares").read_text().strip(),
            "quota": (cpu / "cpu.cfs_quota_us").read_text().strip(),
            "memory": (mem / "memory.limit_in_bytes").read_text().strip(),
            "reservation": (mem / "memory.soft_limit_in_bytes").read_text().strip(),
            "pids": (pids / "pids.max").read_text().strip()}


@pytest.mark.skipif(Path("/sys/fs/cgroup/cgroup.controllers").exists(), reason="v1 files")
def test_update_cpu_share_and_several_resources_at_once_as_runc(started, tmp_path):
    """runc's `--cpu-share` (gantry also takes `--cpu-shares`), then four flags in one update,
    then a file with cpu, memory and pids: the container's cgroup files are the same under
    both runtimes after each."""
    s = started(["sleep", "60"])
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"cpu": {"shares": 512, "quota": 30000, "period": 100000},
                               "memory": {"limit": 100 * MB, "reservation": 50 * MB},
                               "pids": {"limit": 33}}))
    seen = {}
    for name in s.c:
        steps = []
        for args in (["--cpu-share", "1000"],
                     ["--cpu-share", "700", "--cpu-quota", "20000", "--memory", "90M",
                      "--pids-limit", "12"],
                     ["-r", str(res)]):
            r = s.oci(name, "update", *args, "ID")
            assert r.returncode == 0, f"{name} {args}: {r.stderr}"
            steps.append(cgroup_values(s.pid(name)))
        seen[name] = steps
    assert seen["gantry"] == seen["runc"]
    assert [st["shares"] for st in seen["gantry"]] == ["1000", "700", "512"]
    assert seen["gantry"][1]["memory"] == str(90 * MB) and seen["gantry"][1]["pids"] == "12"
    assert seen["gantry"][2] == {"shares": "512", "quota": "30000", "memory": str(100 * MB),
                                 "reservation": str(50 * MB), "pids": "33"}


def test_tmpfs_mode_uid_and_gid_from_its_options_as_runc(oci_bin, bundle, tmp_path):
    """The options' mode, uid and gid; without mode=, a tmpfs on a directory of the root takes
    its mode (0712: crun's mount-tmpfs-permissions), and a read-only one is so per mount."""
    (bundle / "rootfs" / "t3").mkdir()
    (bundle / "rootfs" / "t3").chmod(0o712)

    def edit(cfg):
        cfg["mounts"] += [{"destination": d, "type": "tmpfs", "source": "tmpfs",
                           "options": ["ro"]} for d in ("/t3",)]
        cfg["mounts"].append({"destination": "/t1", "type": "tmpfs", "source": "tmpfs",
                              "options": ["mode=1770", "uid=1000", "gid=1001", "size=1m"]})
        cfg["mounts"].append({"destination": "/t2", "type": "tmpfs", "source": "tmpfs",
                              "options": ["mode=700", "nosuid"]})

    runs = run_both(oci_bin, bundle, tmp_path,
                    ["sh", "-c", "stat -c '%n %a %u %g' /t3 /t1 /t2; "
                                 "grep -o ' /t[1-3] .*' /proc/self/mountinfo"], edit=edit)
    assert runs["runc"].returncode == 0, runs["runc"]
    assert runs["gantry"].stdout.startswith(
        "/t3 712 0 0\n/t1 1770 1000 1001\n/t2 700 0 0\n /t3 ro,")
    assert runs["gantry"].stdout == runs["runc"].stdout, runs


def test_bind_onto_a_dangling_link_is_made_where_it_leads_as_runc(oci_bin, bundle, tmp_path):
    """crun's mount-symlink-not-existing: the destination is a link to what the root lacks
    (/etc/dangling -> ../foo/bar/not/here): the file is made there, in the root, and bound;
    each runtime from the same root (what the one before made removed)."""
    rootfs = bundle / "rootfs"
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc" / "dangling").symlink_to("../foo/bar/not/here")
    src = tmp_path / "src"
    src.write_text("bound\n")
    set_process(bundle, ["sh", "-c", "cat /foo/bar/not/here; ls -l /etc/dangling | wc -l"])
    edit_config(bundle, lambda cfg: cfg["mounts"].append(
        {"destination": "/etc/dangling", "type": "bind", "source": str(src),
         "options": ["bind", "ro"]}))
    seen = {}
    for name, binary in runtimes(oci_bin):
        shutil.rmtree(rootfs / "foo", ignore_errors=True)
        r = subprocess.run([binary, "--root", str(tmp_path / name), "run", "--bundle",
                            str(bundle), f"dl{os.getpid()}{name}"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        seen[name] = (r.returncode, r.stdout, (rootfs / "foo/bar/not/here").is_file())
    assert seen["gantry"] == (0, "bound\n1\n", True), seen
    assert seen["gantry"] == seen.get("runc", seen["gantry"])


def test_bind_onto_a_missing_target_through_a_symlink_stays_in_the_root(oci_bin, bundle,
                                                                        tmp_path):
    """/lnk -> /var/notyet (absent) and /abs -> /../../tmp/NAME: the bind's missing directories
    are made inside the root through the links, as runc makes them, never on the host."""
    rootfs = bundle / "rootfs"
    name = f"gantry-escape-{os.getpid()}"
    (rootfs / "lnk").symlink_to("/var/notyet")
    (rootfs / "abs").symlink_to(f"/../../../tmp/{name}")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("dir\n")
    one = tmp_path / "one"
    one.write_text("file\n")

    def edit(cfg):
        cfg["mounts"] += [
            {"destination": "/lnk/sub/dir", "type": "bind", "source": str(src),
             "options": ["rbind"]},
            {"destination": "/abs/x/file", "type": "bind", "source": str(one),
             "options": ["rbind"]}]

    runs = run_both(oci_bin, bundle, tmp_path,
                    ["sh", "-c", f"cat /var/notyet/sub/dir/f /tmp/{name}/x/file; "
                                 "stat -c '%F %a' /var/notyet/sub /tmp/" + name + "/x/file"],
                    edit=edit)
    assert not os.path.exists(f"/tmp/{name}"), "a mount target was made on the host"
    assert runs["gantry"].stdout == "dir\nfile\ndirectory 755\nregular file 644\n", runs
    assert runs["gantry"].stdout == runs["runc"].stdout, runs


def test_bind_mounts_in_a_user_namespace_as_runc(oci_bin, bundle, tmp_path):
    """Binds (a directory, /dev/shm recursively, a file) with ro, nosuid, nodev, noexec in a
    user namespace whose root is host 100000: the flags locked by the host's mount are kept,
    the others applied, as runc applies them. /b4's source is under a directory only the host's
    root may enter (mode 0, as kubelet's pod directories are 0750): bound, as runc opens the
    sources before the user namespace (crun's mount-userns-bind-mount)."""
    reachable(tmp_path)
    subprocess.run(["chown", "-hR", f"{MAPPED}:{MAPPED}", str(bundle / "rootfs")], check=True)
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("hi\n")
    (tmp_path / "shut" / "m").mkdir(parents=True)
    (tmp_path / "shut" / "m" / "g").write_text("shut\n")
    (tmp_path / "shut").chmod(0)

    def edit(cfg):
        userns(cfg)
        cfg["mounts"] += [
            {"destination": "/b1", "type": "bind", "source": str(src), "options": ["bind", "ro"]},
            {"destination": "/b2", "type": "bind", "source": "/dev/shm",
             "options": ["rbind", "ro", "nosuid"]},
            {"destination": "/b3", "type": "bind", "source": str(src / "f"),
             "options": ["bind", "ro", "nodev", "noexec"]},
            {"destination": "/b4", "type": "bind", "source": str(tmp_path / "shut" / "m"),
             "options": ["bind", "ro"]}]

    runs = run_both(oci_bin, bundle, tmp_path,
                    ["sh", "-c", "cat /b1/f /b3 /b4/g; (touch /b1/new) 2>/dev/null || echo ro; "
                                 "grep -o ' /b[123] [^ ]*' /proc/self/mountinfo"], edit=edit)
    assert runs["gantry"].stdout.startswith("hi\nhi\nshut\nro\n /b1 ro,"), runs["gantry"]
    assert runs["gantry"].stdout == runs["runc"].stdout, runs


def test_device_path_with_a_trailing_slash_as_runc(oci_bin, bundle, tmp_path):
    """linux.devices[].path "/dev/gnull/": the node /dev/gnull, as runc's filepath.Join makes it
    (gantry refused it, naming no file)."""
    def edit(cfg):
        cfg["linux"]["devices"] = [{"path": "/dev/gnull/", "type": "c", "major": 1, "minor": 3,
                                    "fileMode": 0o666, "uid": 0, "gid": 0}]

    runs = run_both(oci_bin, bundle, tmp_path,
                    ["sh", "-c", "stat -c '%n %F %t:%T %a' /dev/gnull; echo x > /dev/gnull"],
                    edit=edit)
    assert runs["gantry"].returncode == 0, runs["gantry"]
    assert runs["gantry"].stdout == "/dev/gnull character special file 1:3 666\n"
    assert runs["gantry"].stdout == runs["runc"].stdout, runs


def test_log_that_cannot_be_opened_fails_every_command_as_runc(oci_bin, tmp_path):
    """`--log` in a directory that does not exist: exit 1 naming it before the command runs
    (runc: "open PATH: no such file or directory"), for `list` as for `state`."""
    bad = tmp_path / "no-such-dir" / "log"
    for name, binary in runtimes(oci_bin):
        for args in (["list"], ["state", "nope"], ["delete", "-f", "nope"]):
            r = subprocess.run([binary, "--root", str(tmp_path / name), "--log", str(bad), *args],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 1 and r.stdout == "", (name, args, r)
            assert str(bad) in r.stderr and "no such file" in r.stderr.lower(), (name, args, r)
    good = tmp_path / "ok.log"
    r = subprocess.run([str(oci_bin), "--root", str(tmp_path / "g"), "--log", str(good), "list"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and good.exists(), r


def test_hooks_without_env_get_the_runtimes_environment_as_runc(oci_bin, bundle, tmp_path):
    """A prestart and a poststop hook without `env` see the runtime's environment (runc: Go's
    nil Cmd.Env); one with `env` sees exactly it."""
    seen = {}
    for name, binary in runtimes(oci_bin):
        out = tmp_path / f"env-{name}"

        def edit(cfg, out=out):
            cfg["process"]["args"] = ["true"]
            cfg["process"]["terminal"] = False
            cfg["hooks"] = {
                "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"env > {out}.pre"]}],
                "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"env > {out}.stop"]},
                             {"path": "/bin/sh", "args": ["sh", "-c", f"env > {out}.only"],
                              "env": ["ONLY=this"]}]}
        edit_config(bundle, edit)
        env = dict(os.environ, GANTRY_HOOK_PROBE=f"from-{name}")
        r = subprocess.run([binary, "--root", str(tmp_path / name), "run", "--bundle",
                            str(bundle), f"hk{os.getpid()}{name}"], capture_output=True,
                           text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0, (name, r)

        def names(suffix, out=out):
            return {ln.split("=", 1)[0]: ln.split("=", 1)[1]
                    for ln in Path(f"{out}.{suffix}").read_text().splitlines() if "=" in ln}
        seen[name] = (names("pre"), names("stop"), names("only"))
    for name, (pre, stop, only) in seen.items():
        assert pre["GANTRY_HOOK_PROBE"] == stop["GANTRY_HOOK_PROBE"] == f"from-{name}"
        assert pre["PATH"] == os.environ["PATH"], name
        assert set(only) - {"PWD", "SHLVL", "_"} == {"ONLY"}, (name, only)


def test_hooks_run_in_runcs_working_directories_as_runc(oci_bin, bundle, tmp_path):
    """Each hook stage's working directory, create called from /, start from /usr, delete from
    the test's directory: runc enters the bundle for create, so prestart, createRuntime and
    poststart run there; createContainer in the bundle's root as the host names it (before
    pivot_root), startContainer in process.cwd in the container, poststop in the directory
    `delete` was called from."""
    stages = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
    seen = {}
    for name, binary in runtimes(oci_bin):
        out = tmp_path / f"cwd-{name}"
        out.mkdir()

        def edit(cfg, out=out):
            cfg["process"].update(args=["true"], terminal=False, cwd="/hk")
            cfg["mounts"].append({"destination": "/hk", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
            cfg["hooks"] = {s: [{"path": "/bin/sh", "args": ["sh", "-c", f"pwd -P > {d}/{s}"]}]
                            for s, d in [(s, out) for s in stages] + [("startContainer", "/hk")]}
        edit_config(bundle, edit)
        cid = f"cwd{os.getpid()}{name}"

        def oci(*args, cwd, stdout=subprocess.PIPE, binary=binary):
            return subprocess.run([binary, "--root", str(tmp_path / f"{name}-st"), *args],
                                  cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.DEVNULL, timeout=60)
        with open(tmp_path / f"{name}.out", "w") as f:  # the container keeps create's stdio
            assert oci("create", "--bundle", str(bundle), cid, cwd="/", stdout=f).returncode == 0
        assert oci("start", cid, cwd="/usr").returncode == 0
        deadline = time.time() + 15  # start returns before the hook, in the container, ran
        while not ((out / "startContainer").exists() and
                   (out / "startContainer").read_text().endswith("\n")):
            assert time.time() < deadline, f"{name}: no startContainer hook"
            time.sleep(0.02)
        r = oci("delete", "-f", cid, cwd=str(tmp_path))
        assert r.returncode == 0, (name, r)
        seen[name] = {s: (out / s).read_text().strip() for s in stages + ("startContainer",)}
    assert seen["gantry"] == {"prestart": str(bundle), "createRuntime": str(bundle),
                              "createContainer": str(bundle / "rootfs"),
                              "poststart": str(bundle), "startContainer": "/hk",
                              "poststop": str(tmp_path)}
    if "runc" in seen:
        assert seen["gantry"] == seen["runc"]


def test_run_keep_leaves_the_stopped_container_as_runc(oci_bin, bundle, tmp_path):
    """`run --keep` (runc's; crun's test suite uses it): the container stays after its exit,
    stopped, until `delete`."""
    set_process(bundle, ["true"])
    for name, binary in runtimes(oci_bin):
        def oci(*args, binary=binary):
            return subprocess.run([binary, "--root", str(tmp_path / f"{name}-keep"), *args],
                                  capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
        cid = f"keep{os.getpid()}{name}"
        r = oci("run", "--keep", "--bundle", str(bundle), cid)
        assert r.returncode == 0, (name, r)
        assert json.loads(oci("state", cid).stdout)["status"] == "stopped", name
        assert oci("delete", cid).returncode == 0, name
        assert oci("state", cid).returncode == 1, name


def test_exec_errors_reach_the_caller_as_runc(started):
    """exec of a missing program (by path, by PATH), of a file that is no program, in a
    working directory that does not exist (gantry made it), with --detach: 255 and the
    program or directory named, under both; a process's own status is the caller's."""
    s = started(["sleep", "60"])
    for name in s.c:
        for flags, args, word in (([], ["/no/such"], "/no/such"),
                                  ([], ["nosuch"], "nosuch"),
                                  ([], ["/etc/passwd"], "permission denied"),
                                  (["--cwd", "/no/such/dir"], ["true"], "/no/such/dir"),
                                  (["-d"], ["/no/such"], "/no/such")):
            r = s.oci(name, "exec", *flags, "ID", *args)
            assert r.returncode == 255, (name, args, r)
            assert word in r.stderr.lower(), (name, args, r)
        r = s.oci(name, "exec", "ID", "sh", "-c", "exit 3")
        assert r.returncode == 3, (name, r)
        assert s.oci(name, "exec", "ID", "test", "-e", "/no/such/dir").returncode == 1, name


def test_processes_lead_their_own_session_as_runc(started):
    """The first process and an exec'ed one each lead a session and process group of their own
    (runc's nsexec calls setsid): pid, pgrp and session in /proc/PID/stat are the same."""
    s = started(["sleep", "60"])
    script = "cut -d' ' -f1,5,6 /proc/$$/stat; cut -d' ' -f1,5,6 /proc/1/stat"
    out = {}
    for name in s.c:
        r = s.oci(name, "exec", "ID", "sh", "-c", script)
        assert r.returncode == 0, (name, r)
        out[name] = r.stdout.split("\n")
    for name, (me, first, _) in out.items():
        assert len(set(me.split())) == 1, (name, me)  # the shell: "6 6 6"
        assert first == "1 1 1", (name, first)


def test_personality_sets_the_execution_domain_as_crun(oci_bin, bundle, tmp_path):
    """linux.personality (runtime-spec 1.2, runc 1.2): LINUX32 makes `uname -m` say i686 in the
    container and in an exec'ed process, LINUX leaves x86_64, as Debian's crun 1.8.1 (runc
    1.1.5 does not read the field); flags (runtime-spec defines none) and another domain are
    refused, named."""
    if os.uname().machine != "x86_64":
        pytest.skip("the i686 answer is x86_64's")
    for domain, machine in (("LINUX32", "i686"), ("LINUX", "x86_64")):
        runs = run_with_crun(oci_bin, bundle, tmp_path / domain, ["uname", "-m"],
                             lambda c, d=domain: c["linux"].__setitem__("personality",
                                                                        {"domain": d}))
        for name, r in runs.items():
            assert (r.returncode, r.stdout) == (0, machine + "\n"), (name, domain, r)
    cid = f"pex{os.getpid()}"
    root = tmp_path / "ex"
    edit_config(bundle, lambda c: (c["linux"].__setitem__("personality", {"domain": "LINUX32"}),
                                   c["process"].update(args=["sleep", "30"])))
    with open(tmp_path / "ex.out", "w") as out:  # the container keeps it: a file, not a pipe
        r = subprocess.run([str(oci_bin), "--root", str(root), "run", "-d", "--bundle",
                            str(bundle), cid], stdout=out, stderr=out, timeout=60,
                           stdin=subprocess.DEVNULL)
    try:
        assert r.returncode == 0, (tmp_path / "ex.out").read_text()
        r = subprocess.run([str(oci_bin), "--root", str(root), "exec", cid, "uname", "-m"],
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stdout) == (0, "i686\n"), r
    finally:
        subprocess.run([str(oci_bin), "--root", str(root), "delete", "-f", cid],
                       capture_output=True, timeout=60)
    for bad, named in (({"domain": "LINUX64"}, 'linux.personality.domain "LINUX64"'),
                       ({"domain": "LINUX", "flags": ["X"]}, "linux.personality.flags")):
        edit_config(bundle, lambda c, b=bad: c["linux"].__setitem__("personality", b))
        r = subprocess.run([str(oci_bin), "--root", str(tmp_path / "st"), "run", "--bundle",
                            str(bundle), f"pbad{os.getpid()}"], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and named in r.stderr, (bad, r)


def run_with_crun(oci_bin, bundle, tmp_path, args, edit):
    """The bundle under crun (which applies idmapped mounts; runc 1.1.5 ignores them) and gantry
    oci: {"crun": CompletedProcess, "gantry": CompletedProcess}."""
    need_tool("crun")
    if not host_setup.crun_hybrid_workaround():  # made at the session's start; needs root
        pytest.skip("crun refuses this hybrid cgroup host and the workaround needs root")

    def apply(cfg):
        cfg["process"]["args"] = args
        cfg["process"]["terminal"] = False
        edit(cfg)
    edit_config(bundle, apply)
    out = {}
    for name, binary in (("crun", shutil.which("crun")), ("gantry", str(oci_bin))):
        out[name] = subprocess.run([binary, "--root", str(tmp_path / f"{name}-state"), "run",
                                    "--bundle", str(bundle), f"idm{os.getpid()}{name}"],
                                   capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
    return out


def test_unbindable_root_propagation_as_crun(oci_bin, bundle, tmp_path):
    """linux.rootfsPropagation unbindable (crun's test suite): "/" of the container's mount
    namespace made so before the root is bound, whose own mount is then made private to be
    bound (crun's make_parent_mount_private): the container runs under crun and gantry oci;
    runc 1.1.5 fails to bind the root (EINVAL). runbindable makes every host mount unbindable:
    the bundle's bind of /sys fails under both, gantry naming the mount and why."""
    runs = run_with_crun(oci_bin, bundle, tmp_path, ["ls", "/bin/sh"],
                         lambda cfg: cfg["linux"].update(rootfsPropagation="unbindable"))
    assert runs["crun"].returncode == 0, runs
    assert runs["gantry"].returncode == 0 and runs["gantry"].stdout == runs["crun"].stdout, runs
    if ROOT:
        r = subprocess.run(["runc", "--root", str(tmp_path / "runc-state"), "run", "--bundle",
                            str(bundle), f"ub{os.getpid()}"], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode != 0 and "invalid argument" in r.stderr, r
    runs = run_with_crun(oci_bin, bundle, tmp_path, ["ls", "/bin/sh"],
                         lambda cfg: cfg["linux"].update(rootfsPropagation="runbindable"))
    assert runs["crun"].returncode != 0, runs
    g = runs["gantry"]
    assert g.returncode == 1 and "cannot bind /sys to /sys: its mount is unbindable" in g.stderr, g


def test_features_list_idmapped_mounts_and_the_default_options(oci_bin):
    """`features`: linux.mountExtensions.idmap.enabled (runtime-spec's field for idmapped
    mounts), the mount options runc lists that gantry applies (the defaults exec, suid, dev
    and norelatime included) also in gantry's list, every field runc's document has, and the
    shapes runtime-spec's features.md gives the rest (ociVersionMax: the newest spec whose
    fields gantry applies or refuses by name; the annotations that change what a container
    gets)."""
    r = subprocess.run([str(oci_bin), "features"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    f = json.loads(r.stdout)
    assert f["linux"]["mountExtensions"] == {"idmap": {"enabled": True}}
    for o in ("exec", "suid", "dev", "norelatime", "rshared", "rslave", "rprivate", "ro"):
        assert o in f["mountOptions"], o
    # runtime-spec features.md's shapes (crun's test suite reads ociVersionMin and Max)
    assert f["ociVersionMin"] == "1.0.0" and f["ociVersionMax"] == "1.3.0"
    assert f["linux"]["intelRdt"] == {"enabled": False} == f["linux"]["netDevices"]
    assert {"cdi.k8s.io/", "run.oci.keep_original_groups"} <= set(
        f["potentiallyUnsafeConfigAnnotations"])
    assert all(isinstance(v, bool) for v in f["linux"]["cgroup"].values())
    assert isinstance(f["linux"]["seccomp"]["enabled"], bool)
    assert set(f["linux"]["memoryPolicy"]) == {"modes", "flags"}
    if ROOT:
        runc = json.loads(subprocess.run(["runc", "features"], capture_output=True, text=True,
                                         timeout=30, check=True).stdout)
        assert set(f["mountOptions"]) <= set(runc["mountOptions"])
        assert set(runc) <= set(f) and set(runc["linux"]) <= set(f["linux"])  # runc's fields
        for k in ("cgroup", "seccomp", "apparmor", "selinux"):
            assert set(runc["linux"][k]) <= set(f["linux"][k]), k
