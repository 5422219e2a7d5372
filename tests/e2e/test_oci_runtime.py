"""`gantry oci` as an OCI runtime (issue 25): runc's command line on bundles written by `gantry
bundle` (create, start, state, kill, delete, run, exec, ps, list, features), then driven by the
real peers that call a runtime: podman (`--runtime PATH/gantry-oci`, as root) and containerd
(`ctr run --runc-binary PATH/gantry-oci` through io.containerd.runc.v2's shim, a containerd
started by the test). Slurm's own `srun --container` is in test_slurm_options.py."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import load_busybox, need_tool
from ocidiff import (ROOT, bundle, oci, oci_bin, run_both, same_as_runc,  # noqa: F401 (fixtures)
                     set_process)


def test_lifecycle_create_start_state_kill_delete(oci_bin, bundle, tmp_path):
    root = tmp_path / "state"
    set_process(bundle, ["sh", "-c", "echo started > /tmp/marker; exec sleep 60"])
    pidfile = tmp_path / "pid"
    # the container keeps create's stdio (as runc's does): files, not pipes to wait on
    with open(tmp_path / "out", "w") as out:
        p = subprocess.run([str(oci_bin), "--root", str(root), "create", "--bundle", str(bundle),
                            "--pid-file", str(pidfile), "c1"], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, timeout=60)
    assert p.returncode == 0, (tmp_path / "out").read_text()
    st = json.loads(oci(oci_bin, root, "state", "c1").stdout)
    assert st["ociVersion"] and st["id"] == "c1" and st["status"] == "created"
    assert st["bundle"] == str(bundle) and st["pid"] == int(pidfile.read_text())
    oci(oci_bin, root, "start", "c1")
    deadline = time.time() + 10
    while json.loads(oci(oci_bin, root, "state", "c1").stdout)["status"] != "running":
        assert time.time() < deadline
        time.sleep(0.05)
    listed = oci(oci_bin, root, "list", "--format", "json", check=False)
    if listed.returncode == 0:
        assert any(c["id"] == "c1" for c in json.loads(listed.stdout))
    ps = json.loads(oci(oci_bin, root, "ps", "--format", "json", "c1").stdout)
    assert st["pid"] in ps
    ex = oci(oci_bin, root, "exec", "c1", "cat", "/tmp/marker")
    assert ex.stdout == "started\n"
    assert oci(oci_bin, root, "delete", "c1", check=False).returncode != 0  # still running
    oci(oci_bin, root, "kill", "c1", "KILL")
    deadline = time.time() + 10
    while json.loads(oci(oci_bin, root, "state", "c1").stdout)["status"] != "stopped":
        assert time.time() < deadline
        time.sleep(0.05)
    oci(oci_bin, root, "delete", "c1")
    gone = oci(oci_bin, root, "state", "c1", check=False)
    assert gone.returncode != 0 and "does not exist" in gone.stderr


def test_run_returns_the_exit_status_and_features(oci_bin, bundle, tmp_path):
    root = tmp_path / "state"
    set_process(bundle, ["sh", "-c", "echo out; exit 7"])
    r = oci(oci_bin, root, "run", "--bundle", bundle, "r1", check=False,
            stdin=subprocess.DEVNULL)  # run waits: its pipes close with the container
    assert r.returncode == 7 and r.stdout == "out\n", r
    feats = json.loads(oci(oci_bin, root, "features").stdout)
    assert feats["ociVersionMin"] and "user" in feats["linux"]["namespaces"]


def test_errors_name_the_container(oci_bin, tmp_path):
    root = tmp_path / "state"
    r = oci(oci_bin, root, "state", "nope", check=False)
    assert r.returncode == 1 and "container does not exist: nope" in r.stderr  # runc's 1
    r = oci(oci_bin, root, "create", "--bundle", tmp_path / "no-bundle", "x", check=False)
    assert r.returncode != 0 and "no-bundle" in r.stderr


@pytest.fixture
def podman(tmp_path, oci_bin):
    need_tool("podman")
    if not ROOT:
        pytest.skip("podman is driven as root here (rootless podman needs subordinate ids)")
    base = Path(tempfile.mkdtemp(prefix="gpod-", dir="/tmp"))  # runroot: at most 50 chars
    conf = base / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    cmd = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
           "--storage-driver", "overlay", "--runtime", str(oci_bin)]
    env = dict(os.environ, CONTAINERS_CONF=str(conf))

    def run(*args, check=True, **kw):
        # cwd: conmon writes an `oom` file into its working directory (one was committed once)
        p = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env,
                           timeout=120, cwd=base, **kw)
        if check:
            assert p.returncode == 0, f"podman {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    run.cmd, run.env, run.cwd = cmd, env, base  # for a podman process of a test's own
    yield run
    run("rm", "-a", "-f", check=False)
    run("rmi", "-a", "-f", check=False)
    # a podman process still ending keeps a mount busy (mounts left under /tmp after a CI run):
    # then detach them lazily, which the kernel finishes once the last user is gone
    if subprocess.run(["umount", "-R", str(base / "root" / "overlay")],
                      capture_output=True).returncode != 0:
        subprocess.run(["umount", "-R", "-l", str(base / "root" / "overlay")], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def test_podman_runs_containers_with_gantry_oci(podman, g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    podman("load", "-i", tmp_path / "bb.tar")
    r = podman("run", "--rm", "sample:latest", "sh", "-c", "echo hi from podman; id -u")
    assert r.stdout == "hi from podman\n0\n"
    assert podman("run", "--rm", "sample:latest", "sh", "-c", "exit 7", check=False).returncode == 7
    assert podman("run", "-i", "--rm", "sample:latest", "cat", input="piped\n").stdout == "piped\n"
    tty = podman("run", "--rm", "-t", "sample:latest", "sh", "-c",
                 "test -t 0 && test -t 1 && echo a-terminal", stdin=subprocess.DEVNULL)
    assert tty.stdout.strip() == "a-terminal"
    podman("run", "-d", "--name", "bg", "sample:latest", "sleep", "60")
    ex = podman("exec", "bg", "sh", "-c", "echo exec-ok; cat /proc/1/cmdline")
    assert ex.stdout.startswith("exec-ok\nsleep")
    assert "bg" in podman("ps", "--format", "{{.Names}}").stdout
    podman("kill", "bg")
    podman("wait", "bg", check=False)
    assert "Exited" in podman("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
    podman("rm", "bg")
    # podman's spec: seccomp without no_new_privileges, cgroup mount, its mount options
    caps = podman("run", "--rm", "--cap-drop", "all", "sample:latest", "grep", "CapEff",
                  "/proc/self/status").stdout
    assert caps.split()[1] == "0000000000000000"
    assert podman("run", "--rm", "sample:latest", "ls", "/sys/fs/cgroup").stdout.strip()


def test_podman_device_opens_under_gantry_oci(podman, g, mk, tmp_path):
    """`podman run --device HOST:CTR`: podman lists the node in linux.devices and adds its allow
    rule to linux.resources.devices (after a deny-all); gantry oci gives a listed node no rule of
    its own (as runc 1.1), so the node opens through podman's rule: ENXIO here (major 240 has no
    driver), never the device cgroup's EPERM."""
    load_busybox(g, mk, tmp_path)
    podman("load", "-i", tmp_path / "bb.tar")
    node = tmp_path / "gnode"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(240, 7))
    r = podman("run", "--rm", "--device", f"{node}:/dev/gnode", "sample:latest", "sh", "-c",
               "ls -ln /dev/gnode; cat /dev/gnode; echo rc=$?", check=False)
    assert r.returncode == 0, r
    assert "No such device or address" in r.stderr and "not permitted" not in r.stderr, r
    assert "240," in r.stdout and r.stdout.strip().endswith("rc=1"), r


@pytest.fixture
def containerd(tmp_path):
    need_tool("containerd")
    need_tool("ctr")
    if not ROOT:
        pytest.skip("containerd runs as root")
    base = Path(tempfile.mkdtemp(prefix="gctd-", dir="/tmp"))
    sock = base / "containerd.sock"
    (base / "config.toml").write_text(
        f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
        f'[grpc]\n  address = "{sock}"\n'
        '[plugins."io.containerd.grpc.v1.cri"]\n  disable_cgroup = true\n')
    log = open(base / "log", "w")
    proc = subprocess.Popen(["containerd", "--config", str(base / "config.toml")], stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while not sock.exists():
        assert proc.poll() is None and time.time() < deadline, (base / "log").read_text()
        time.sleep(0.1)

    def ctr(*args, check=True, **kw):
        p = subprocess.run(["ctr", "--address", str(sock), "-n", "gantry", *map(str, args)],
                           capture_output=True, text=True, timeout=120, **kw)
        if check:
            assert p.returncode == 0, f"ctr {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    ctr.address = sock  # for other clients of the same containerd (ctr-remote)
    yield ctr
    for t in ctr("task", "ls", "-q", check=False).stdout.split():
        ctr("task", "kill", "-s", "SIGKILL", t, check=False)
        ctr("task", "rm", "-f", t, check=False)
    for c in ctr("containers", "ls", "-q", check=False).stdout.split():
        ctr("containers", "rm", c, check=False)
    proc.terminate()
    proc.wait(timeout=20)
    # the namespace's parent cgroup the runtime made for /gantry/ID (runc leaves it too)
    for d in Path("/sys/fs/cgroup").glob("*/gantry"):
        try:
            d.rmdir()
        except OSError:  # not empty: in use by another run
            pass
    subprocess.run(["sh", "-c", f"grep ' {base}' /proc/mounts | cut -d' ' -f2 | sort -r | "
                    "xargs -r umount -l"], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def test_containerd_runc_shim_runs_gantry_oci(containerd, oci_bin, g, mk, tmp_path):
    ctr = containerd
    load_busybox(g, mk, tmp_path)
    ctr("images", "import", "--all-platforms", tmp_path / "bb.tar")
    img = "docker.io/library/sample:latest"
    r = ctr("run", "--rm", "--runc-binary", oci_bin, img, "t1", "sh", "-c",
            "echo hi from containerd; id -u")
    assert r.stdout == "hi from containerd\n0\n"
    r = ctr("run", "--rm", "--runc-binary", oci_bin, img, "t2", "sh", "-c", "exit 5", check=False)
    assert r.returncode == 5
    ctr("run", "-d", "--runc-binary", oci_bin, img, "t3", "sleep", "60")
    deadline = time.time() + 10
    while "RUNNING" not in ctr("task", "ls").stdout:
        assert time.time() < deadline
        time.sleep(0.1)
    ex = ctr("task", "exec", "--exec-id", "e1", "t3", "cat", "/proc/1/cmdline")
    assert ex.stdout.startswith("sleep")
    assert ctr("task", "ps", "t3").stdout.count("\n") >= 2
    ctr("task", "kill", "-s", "SIGKILL", "t3")
    deadline = time.time() + 10
    while "STOPPED" not in ctr("task", "ls").stdout:
        assert time.time() < deadline
        time.sleep(0.1)
    ctr("task", "rm", "t3")
    ctr("containers", "rm", "t3")


def gpu_bundle(g, mk, tmp_path, env=(), annotations=None):
    ref = load_busybox(g, mk, tmp_path)
    b = tmp_path / "gpu-bundle"
    g.run("bundle", ref, b)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = ["sh", "-c", "ls /dev | grep nvidia; "
                              "ls /usr/lib/x86_64-linux-gnu | grep libcuda.so.1"]
    cfg["process"]["terminal"] = False
    cfg["process"]["env"] += list(env)
    if annotations:
        cfg["annotations"] = annotations
    (b / "config.json").write_text(json.dumps(cfg))
    return b


@pytest.fixture
def gpuhost(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "gpuhost"))
    import gpuhost as gh
    return gh.build_host(tmp_path / "gpuhost", gh.preset(2, cc="8.0"))


def host_env(host, **extra):
    return dict(os.environ, GANTRY_DRIVER_ROOT=str(host.driver_root),
                GANTRY_DEV_ROOT=str(host.dev_root), FAKE_DEVICE_ROOT=str(host.dev_root), **extra)


def test_nvidia_env_in_the_bundle_gets_the_gpu(oci_bin, g, mk, tmp_path, gpuhost):
    b = gpu_bundle(g, mk, tmp_path, env=["NVIDIA_VISIBLE_DEVICES=1",
                                         "NVIDIA_DRIVER_CAPABILITIES=compute,utility"])
    r = oci(oci_bin, tmp_path / "state", "run", "--bundle", b, "n1", check=False,
            stdin=subprocess.DEVNULL, env=host_env(gpuhost))
    assert r.returncode == 0, r
    devs = r.stdout.split()
    assert "nvidia1" in devs and "nvidia0" not in devs and "nvidiactl" in devs, r.stdout
    assert "libcuda.so.1" in devs
    # the bundle itself is left as it was
    assert "NVIDIA_VISIBLE_DEVICES=1" in (b / "config.json").read_text()
    assert "hooks" not in json.loads((b / "config.json").read_text())


def test_a_cuda_requirement_the_driver_cannot_meet_is_refused_at_create(oci_bin, g, mk,
                                                                        tmp_path, gpuhost):
    """The compatibility policy is one step of every door: gantry oci (containerd, CRI-O, the
    CRI) refuses a container whose NVIDIA_REQUIRE_CUDA the host's driver cannot meet, before
    anything is made, as gantry run does; NVIDIA_DISABLE_REQUIRE=true runs it anyway."""
    b = gpu_bundle(g, mk, tmp_path, env=["NVIDIA_VISIBLE_DEVICES=0",
                                         "NVIDIA_REQUIRE_CUDA=cuda>=99.0"])
    state = tmp_path / "state"
    r = oci(oci_bin, state, "run", "--bundle", b, "q1", check=False,
            stdin=subprocess.DEVNULL, env=host_env(gpuhost))
    assert r.returncode != 0, r
    assert "NVIDIA_REQUIRE_CUDA" in r.stderr and "cuda>=99.0" in r.stderr, r.stderr
    # the ways out this door has, named (gantry run's --no-require is not one)
    assert "NVIDIA_DISABLE_REQUIRE" in r.stderr and "GANTRY_NO_REQUIRE=1" in r.stderr, r.stderr
    assert "q1" not in oci(oci_bin, state, "list", check=False).stdout  # nothing left made
    # near miss: the same container with the check turned off gets its GPU
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["env"].append("NVIDIA_DISABLE_REQUIRE=true")
    (b / "config.json").write_text(json.dumps(cfg))
    r = oci(oci_bin, state, "run", "--bundle", b, "q2", check=False,
            stdin=subprocess.DEVNULL, env=host_env(gpuhost))
    assert r.returncode == 0, r
    assert "nvidia0" in r.stdout.split(), r.stdout


def test_cdi_annotation_gets_the_device(oci_bin, g, mk, tmp_path, gpuhost):
    specs = tmp_path / "cdi"
    specs.mkdir()
    g.env["FAKE_DEVICE_ROOT"] = str(gpuhost.dev_root)
    g.run("cdi", "generate", "--driver-root", gpuhost.driver_root, "--dev-root",
          gpuhost.dev_root, "--output", specs / "nvidia.yaml")
    b = gpu_bundle(g, mk, tmp_path, annotations={"cdi.k8s.io/gpu": "nvidia.com/gpu=0"})
    r = oci(oci_bin, tmp_path / "state", "run", "--bundle", b, "c1", check=False,
            stdin=subprocess.DEVNULL, env=host_env(gpuhost, GANTRY_CDI_SPEC_DIRS=str(specs)))
    assert r.returncode == 0, r
    devs = r.stdout.split()
    assert "nvidia0" in devs and "nvidia1" not in devs and "libcuda.so.1" in devs, r.stdout
    cfg = json.loads((b / "config.json").read_text())
    cfg["annotations"] = {"cdi.k8s.io/gpu": "nvidia.com/gpu=9"}
    (b / "config.json").write_text(json.dumps(cfg))
    b2 = b
    r = oci(oci_bin, tmp_path / "state", "run", "--bundle", b2, "c2", check=False,
            stdin=subprocess.DEVNULL, env=host_env(gpuhost, GANTRY_CDI_SPEC_DIRS=str(specs)))
    assert r.returncode != 0 and "nvidia.com/gpu=9" in r.stderr, r


def test_rootless_podman_runs_gantry_oci(subid_user, mk, tmp_path):
    """Rootless podman (a user with subordinate ids) runs its runtime inside its own user
    namespace, as uid 0 there: gantry-oci must not take that for the host's root."""
    need_tool("podman")
    g = subid_user
    user = g.user
    base = Path(g.base)
    load_busybox(g, mk, base)  # writes base/bb.tar
    run_dir = base / "xdg"
    run_dir.mkdir(mode=0o700)
    conf = base / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    for p in (run_dir, conf, base / "bb.tar"):
        os.chown(p, user.pw_uid, user.pw_gid)
    oci = Path(str(g.bin) + "-oci")
    oci.symlink_to(g.bin)
    pod = (f"podman --root {base}/pod --runroot {run_dir}/pod --runtime {oci} ")
    env = (f"HOME={base} XDG_RUNTIME_DIR={run_dir} CONTAINERS_CONF={conf} "
           "PATH=/usr/sbin:/usr/bin:/sbin:/bin")

    def podman(args, check=True):
        p = subprocess.run(["runuser", "-u", user.pw_name, "--", "sh", "-c",
                            f"cd {base} && env {env} {pod}{args}"], capture_output=True,
                           text=True, timeout=180)
        if check:
            assert p.returncode == 0, f"podman {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    try:
        podman(f"load -i {base}/bb.tar")
        r = podman("run --rm --network none sample:latest sh -c 'id -u; cat /proc/self/uid_map'")
        lines = r.stdout.split("\n")
        assert lines[0] == "0" and len([l for l in lines[1:] if l.strip()]) >= 2, r.stdout
        assert podman("run --rm --network none sample:latest sh -c 'exit 3'",
                      check=False).returncode == 3
        podman("run -d --network none --name bg sample:latest sleep 60")
        assert podman("exec bg sh -c 'echo exec-ok'").stdout == "exec-ok\n"
        podman("kill bg")
        podman("rm -f bg")
    finally:
        podman("rm -a -f", check=False)
        podman("system reset -f", check=False)


def test_amd_env_in_the_bundle_gets_the_gpu(oci_bin, g, mk, tmp_path):
    if not ROOT:
        pytest.skip("the simulated AMD host's device nodes need root")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "amdhost"))
    import amdhost
    out = tmp_path / "amdhost"
    amdhost.build(out, "mi300x", devices="nodes")
    ref = load_busybox(g, mk, tmp_path)
    b = tmp_path / "amd-bundle"
    g.run("bundle", ref, b)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = ["sh", "-c", "ls /dev/kfd; ls /dev/dri; echo ROCR=$ROCR_VISIBLE_DEVICES"]
    cfg["process"]["terminal"] = False
    cfg["process"]["env"].append("AMD_VISIBLE_DEVICES=1")
    (b / "config.json").write_text(json.dumps(cfg))
    env = dict(os.environ, GANTRY_DRIVER_ROOT=str(tmp_path / "no-nvidia"),
               GANTRY_DEV_ROOT=str(out / "dev"), GANTRY_SYS_ROOT=str(out / "sys"))
    r = oci(oci_bin, tmp_path / "state", "run", "--bundle", b, "a1", check=False,
            stdin=subprocess.DEVNULL, env=env)
    assert r.returncode == 0, r
    words = r.stdout.split()
    assert "/dev/kfd" in words, r.stdout
    renders = [w for w in words if w.startswith("renderD")]
    assert len(renders) == 1, r.stdout  # one GPU of eight
    # (as amd-ctk's CDI edits: device nodes only; `gantry run` also sets ROCR_VISIBLE_DEVICES)


# ---- linux.seccomp (issue 37): the bundle's own profile, as runc loads it ----
# Each case runs one bundle under the real runc and under gantry oci and compares what the
# container observes (its output and exit status) with the expected values. runc needs root
# here; rootless, gantry alone is checked against the same values.

PODMAN_PROFILE = Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "seccomp_spec" / \
    "containers_common_default.json"  # containers/common's default, as podman ships it


def seccomp_runs(oci_bin, bundle, tmp_path, args, seccomp):
    """Runs ARGS with linux.seccomp = SECCOMP (None: no linux.seccomp) under runc (as root) and
    gantry oci: {"runc": CompletedProcess, "gantry": CompletedProcess}."""
    def edit(cfg):
        if seccomp is None:
            cfg["linux"].pop("seccomp", None)
        else:
            cfg["linux"]["seccomp"] = seccomp
    return run_both(oci_bin, bundle, tmp_path, args, edit)


def deny(names, action="SCMP_ACT_ERRNO", **rule):
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [dict(names=names, action=action, **rule)]}


MKDIR = ["sh", "-c", "mkdir /tmp/sc-dir 2>&1; echo rc=$?; rmdir /tmp/sc-dir 2>/dev/null; true"]


def test_seccomp_errno_ret_of_the_bundles_profile(oci_bin, bundle, tmp_path):
    runs = seccomp_runs(oci_bin, bundle, tmp_path, MKDIR, deny(["mkdir", "mkdirat"]))
    same_as_runc(runs, 0, "mkdir: can't create directory '/tmp/sc-dir': Operation not "
                          "permitted\nrc=1\n")
    runs = seccomp_runs(oci_bin, bundle, tmp_path, MKDIR,
                        deny(["mkdir", "mkdirat"], errnoRet=38))
    same_as_runc(runs, 0, "mkdir: can't create directory '/tmp/sc-dir': Function not "
                          "implemented\nrc=1\n")


def test_seccomp_argument_conditions(oci_bin, bundle, tmp_path):
    # MASKED_EQ (value: the mask, valueTwo: the value) on chmod's mode: 0700 refused, 0755 not
    rule = {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
            "args": [{"index": 1, "value": 0o777, "valueTwo": 0o700, "op": "SCMP_CMP_MASKED_EQ"}]}
    at = dict(rule, names=["fchmodat"], args=[dict(rule["args"][0], index=2)])
    # EQ on personality's argument: PER_LINUX32 (8) refused, PER_LINUX (0) not
    per = {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
           "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule, at, per]}
    args = ["sh", "-c", "touch /tmp/sc-f; chmod 700 /tmp/sc-f 2>/dev/null; echo a=$?; "
            "chmod 755 /tmp/sc-f; echo b=$?; busybox linux32 true 2>/dev/null; echo c=$?; "
            "busybox linux64 true; echo d=$?; rm -f /tmp/sc-f"]
    runs = seccomp_runs(oci_bin, bundle, tmp_path, args, profile)
    same_as_runc(runs, 0, "a=1\nb=0\nc=1\nd=0\n")


def test_seccomp_default_errno_with_an_allow_list(oci_bin, bundle, tmp_path):
    # containers/common's allow list (what podman allows by default) without mkdir
    common = json.loads(PODMAN_PROFILE.read_text())
    def for_amd64(s):  # unconditional, or only for this architecture (arch_prctl)
        inc = s.get("includes") or {}
        return not s.get("args") and set(inc) <= {"arches"} and "amd64" in inc.get("arches",
                                                                                 ["amd64"])
    allowed = [n for s in common["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" and for_amd64(s)
               for n in s["names"]]
    allowed = [n for n in allowed if n not in ("mkdir", "mkdirat")]
    assert len(allowed) > 300
    profile = {"defaultAction": "SCMP_ACT_ERRNO",
               "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    runs = seccomp_runs(oci_bin, bundle, tmp_path, MKDIR, profile)
    same_as_runc(runs, 0, "mkdir: can't create directory '/tmp/sc-dir': Operation not "
                          "permitted\nrc=1\n")
    profile["defaultErrnoRet"] = 38
    runs = seccomp_runs(oci_bin, bundle, tmp_path, MKDIR, profile)
    same_as_runc(runs, 0, "mkdir: can't create directory '/tmp/sc-dir': Function not "
                          "implemented\nrc=1\n")


def test_seccomp_kill_process_and_unknown_names(oci_bin, bundle, tmp_path):
    runs = seccomp_runs(oci_bin, bundle, tmp_path, ["mkdir", "/tmp/sc-dir"],
                        deny(["mkdir", "mkdirat"], "SCMP_ACT_KILL_PROCESS"))
    same_as_runc(runs, 128 + 31)  # SIGSYS
    # a name libseccomp does not know is skipped; the rest of the profile applies
    runs = seccomp_runs(oci_bin, bundle, tmp_path, MKDIR,
                        deny(["no_such_syscall_gantry", "mkdir", "mkdirat"], errnoRet=38))
    same_as_runc(runs, 0, "mkdir: can't create directory '/tmp/sc-dir': Function not "
                          "implemented\nrc=1\n")


def test_seccomp_none_without_linux_seccomp(oci_bin, bundle, tmp_path):
    args = ["grep", "^Seccomp:", "/proc/self/status"]
    same_as_runc(seccomp_runs(oci_bin, bundle, tmp_path, args, None), 0, "Seccomp:\t0\n")
    same_as_runc(seccomp_runs(oci_bin, bundle, tmp_path, args, deny(["mkdir"])), 0,
                 "Seccomp:\t2\n")


def test_seccomp_invalid_profile_is_refused(oci_bin, bundle, tmp_path):
    runs = seccomp_runs(oci_bin, bundle, tmp_path, ["true"],
                        deny(["mkdir"], "SCMP_ACT_EXPLODE"))
    same_as_runc(runs, 1)  # runc: "string SCMP_ACT_EXPLODE is not a valid action for seccomp"
    assert "linux.seccomp.syscalls[0].action" in runs["gantry"].stderr
    assert "SCMP_ACT_EXPLODE" in runs["gantry"].stderr
    runs = seccomp_runs(oci_bin, bundle, tmp_path, ["true"], deny(["mkdir"], "SCMP_ACT_NOTIFY"))
    assert runs["gantry"].returncode == 1 and "SCMP_ACT_NOTIFY" in runs["gantry"].stderr


def test_seccomp_exec_gets_the_containers_profile(oci_bin, bundle, tmp_path):
    root = tmp_path / "state"
    seccomp_runs(oci_bin, bundle, tmp_path, ["true"], deny(["mkdir", "mkdirat"], errnoRet=38))
    set_process(bundle, ["sleep", "60"])
    with open(tmp_path / "out", "w") as out:
        subprocess.run([str(oci_bin), "--root", str(root), "run", "-d", "--bundle", str(bundle),
                        "sx"], stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60,
                       check=True)
    try:
        ex = oci(oci_bin, root, "exec", "sx", *MKDIR)
        assert ex.stdout == ("mkdir: can't create directory '/tmp/sc-dir': Function not "
                             "implemented\nrc=1\n")
    finally:
        oci(oci_bin, root, "delete", "--force", "sx", check=False)


def test_seccomp_features(oci_bin, tmp_path):
    feats = json.loads(oci(oci_bin, tmp_path / "state", "features").stdout)
    sc = feats["linux"]["seccomp"]
    assert sc["enabled"] and "SCMP_ACT_KILL_PROCESS" in sc["actions"]
    assert "SCMP_ACT_NOTIFY" not in sc["actions"] and "SCMP_CMP_MASKED_EQ" in sc["operators"]
    assert "SCMP_ARCH_X86_64" in sc["archs"]
    assert "io.github.gantry.seccomp" not in feats.get("annotations", {})
