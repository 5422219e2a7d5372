"""How runs start and end on the host: nothing left behind after 1000 runs or after rootless
runs that fail anywhere, the rootless early start (runtime::EarlyStart) and the CPUs it hands
on, and a caller or host that restricts the start (an older seccomp profile, a kernel without
mount_setattr, no user namespaces left, an unmapped caller, an ignored SIGCHLD)."""
import errno
import os
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import Gantry, gantry_copy, load_busybox, need_tool
from run_common import runner, trash_settled  # noqa: F401 (runner: a pytest fixture)


def refusing(errors):
    """A preexec_fn that installs a seccomp filter failing the given system calls (number ->
    errno), as an outer container's older profile does. The numbers used here (>= 424) are the
    same on every architecture."""
    import ctypes

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]

    insns = [Insn(0x20, 0, 0, 0)]  # A = seccomp_data.nr
    for nr, err in errors.items():
        insns += [Insn(0x15, 0, 1, nr), Insn(0x06, 0, 0, 0x00050000 | err)]  # ERRNO(err)
    insns.append(Insn(0x06, 0, 0, 0x7FFF0000))  # ALLOW
    table = (Insn * len(insns))(*insns)
    prog = Prog(len(insns), table)
    libc = ctypes.CDLL(None, use_errno=True)

    def install():
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "seccomp")
    return install


CLOSE_RANGE, PIDFD_OPEN, MOUNT_SETATTR = 436, 434, 442


def test_run_under_a_seccomp_profile_without_close_range_or_pidfd_open(runner):
    """gantry inside a container whose seccomp profile predates close_range and pidfd_open:
    an fd the caller leaked to gantry still does not reach the workload (each fd is marked
    close-on-exec instead), and the run works without the keeper (which needs a pidfd)."""
    rd, wr = os.pipe()
    try:
        p = subprocess.run(runner.cmd("run", runner.image, "ls", "/proc/self/fd"), pass_fds=(wr,),
                           env=runner.environ(), capture_output=True, text=True, timeout=60,
                           preexec_fn=refusing({CLOSE_RANGE: errno.EPERM, PIDFD_OPEN: errno.ENOSYS}))
    finally:
        os.close(rd)
        os.close(wr)
    assert p.returncode == 0, p.stderr
    assert sorted(int(x) for x in p.stdout.split()) == [0, 1, 2, 3], p.stdout  # 3: ls's own


def test_run_on_a_kernel_without_mount_setattr_says_which_kernel(runner):
    p = subprocess.run(runner.cmd("run", runner.image, "true"), env=runner.environ(),
                       capture_output=True, text=True, timeout=60,
                       preexec_fn=refusing({MOUNT_SETATTR: errno.ENOSYS}))
    assert p.returncode == 125, p
    assert "Function not implemented" in p.stderr and "Linux 5.12 or newer" in p.stderr, p.stderr


def mounts_and_procs(store, binary):
    """Mounts in our namespace, and processes still tied to gantry or to the store (exe, cwd or
    root there): a machine-wide process count would see unrelated work."""
    mounts = {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    tied = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        for link in ("exe", "cwd", "root"):
            try:
                target = os.readlink(p / link)
            except OSError:
                continue
            if target.startswith(str(store)) or (link == "exe" and target == str(binary)):
                tied.append((p.name, link, target))
    return mounts, tied


def test_leak_1000_runs(g, mk, tmp_path):
    # its own gantry: the processes left behind are told by their executable, and other tests
    # (pytest -n) run the shared one meanwhile
    (tmp_path / "bin").mkdir()
    g = Gantry(g.root, binary=gantry_copy(tmp_path / "bin" / "gantry"))
    load_busybox(g, mk, tmp_path)
    before = mounts_and_procs(g.root, g.bin)
    script = f'for i in $(seq 1000); do "{g.bin}" run sample:latest true || exit 1; done'
    r = subprocess.run(["bash", "-c", script], env=g.environ(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    trash_settled(g.root)  # deletion is deferred to a detached reaper: it must finish
    after = mounts_and_procs(g.root, g.bin)
    # mount points that appeared meanwhile, by gantry (other work on the machine may mount too)
    new = [m for m in after[0] - before[0] if str(g.root) in m]
    assert new == [], f"mounts left behind: {new}"
    assert after[1] == [], f"processes left behind: {after[1]}"
    containers = g.root / "containers"
    assert not containers.exists() or list(containers.iterdir()) == []
    assert list((g.root / "holds").iterdir()) == []
    assert list((g.root / "tmp").iterdir()) == []


def test_rootless_runs_that_fail_anywhere_leave_nothing_behind(rootless, mk):
    """A rootless run's container process is made before the command line is even parsed
    (the early start, runtime::EarlyStart): every run that then fails (a usage error, a missing
    image, a bad user, an unreadable env-file) must kill and reap it, and one that succeeds or
    whose command fails must leave nothing either."""
    img = load_busybox(rootless, mk, rootless.base)
    before = mounts_and_procs(rootless.root, rootless.bin)
    g = shlex.quote(str(rootless.bin))
    checks = [(f"{g} run {img} true", 0), (f"{g} run {img} sh -c 'exit 3'", 3),
              (f"{g} run {img} no-such-command", 127), (f"{g} run missing:1 true", 125),
              (f"{g} run -u nosuchuser {img} true", 125), (f"{g} run --bogus {img} true", 2),
              (f"{g} run --env-file /nonexistent {img} true", 125)]
    body = "; ".join(f'{c} 2>/dev/null; r=$?; [ $r -eq {code} ] || {{ echo "{c}: $r"; exit 1; }}'
                     for c, code in checks)
    script = f"for i in $(seq 60); do {body}; done"
    argv = ["bash", "-c", script]
    if rootless.user is not None:
        argv = ["setpriv", f"--reuid={rootless.user.pw_uid}", f"--regid={rootless.user.pw_gid}",
                "--clear-groups", "--"] + argv
    r = subprocess.run(argv, env=rootless.environ(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    after = mounts_and_procs(rootless.root, rootless.bin)
    assert [m for m in after[0] - before[0] if str(rootless.root) in m] == []
    assert after[1] == [], f"processes left behind: {after[1]}"


def test_rootless_start_overlaps_the_image_lookup_and_hands_the_workload_our_cpus(rootless, mk):
    """With a second CPU, a rootless run makes its container process (namespaces, id maps) on
    it while the image is read (runtime::EarlyStart): before the line is parsed when a scan
    of it allows, else right after. The helper that made it was pinned to that CPU, and the
    workload must still get every CPU the caller may use, an empty signal mask and uid 0.
    --init (PID 1 forks) and a caller with one CPU start after the spec, as before."""
    img = load_busybox(rootless, mk, rootless.base)
    probe = ["sh", "-c", "grep -E '^(Cpus_allowed_list|SigBlk|Uid):' /proc/self/status"]

    def status(prefix, *args, command=()):
        argv = list(prefix) + rootless.cmd("--debug", "run", *args, img, *probe, *command)
        p = subprocess.run(argv, env=rootless.environ(), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return dict(line.split(":\t") for line in p.stdout.splitlines()), p.stderr

    mine = dict(line.split(":\t") for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("Cpus_allowed_list"))["Cpus_allowed_list"]
    early = len(os.sched_getaffinity(0)) >= 2
    # before the parse; after it (--network and --userns change the namespaces and ids, and a
    # "-d" in the command's own arguments keeps the scan from telling it from run's -d)
    for args, command in (([], ()), (["--network", "none"], ()), (["--userns", "single"], ()),
                          ([], ("-d",))):
        st, err = status((), *args, command=command)
        assert ("started early" in err) == early, (args, command, err)
        assert ("started after the spec" in err) != early, (args, command, err)
        assert st["Cpus_allowed_list"] == mine
        assert st["SigBlk"] == "0000000000000000"
        assert st["Uid"].split()[0] == "0"
    st, err = status((), "--init")
    assert "started after the spec" in err and "started early" not in err, err
    assert st["Cpus_allowed_list"] == mine
    need_tool("taskset")
    one = str(min(os.sched_getaffinity(0)))
    st, err = status(["taskset", "-c", one])
    assert "started after the spec" in err, err
    assert st["Cpus_allowed_list"] == one


def test_no_user_namespaces_left_is_one_clear_error(g, mk, tmp_path):
    """A host that allows no more user namespaces (user.max_user_namespaces, here 1 in a
    namespace of our own, already used by the caller's): the run says so and how to fix it,
    whether the namespaces are made early by a helper (the plain rootless line) or at the
    launch (--init)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (to set the limit in a user namespace of its own)")
    need_tool("unshare")
    load_busybox(g, mk, tmp_path)
    for extra in ([], ["--init"]):
        line = " ".join(shlex.quote(a) for a in g.cmd("run", *extra, "sample:latest", "true"))
        p = subprocess.run(["unshare", "-U", "--map-root-user", "sh", "-c",
                            f"echo 1 > /proc/sys/user/max_user_namespaces && exec unshare -U {line}"],
                           env=g.environ(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 125, p.stderr
        # the limit (1) is the outer namespace's: the caller's own reads the default
        assert "cannot create the container's namespaces: No space left on device: the limit " \
               "of user namespaces is reached (user.max_user_namespaces" in p.stderr, p.stderr
        assert "or a lower one in an outer namespace" in p.stderr, p.stderr
        assert "hint: raise the limit" in p.stderr, p.stderr


def test_a_caller_with_no_id_in_its_user_namespace_is_told_so(g, mk, tmp_path):
    """`unshare -U` without a mapping leaves the caller's own ID unmapped, and the kernel lets
    no such process create a user namespace (EPERM). gantry used to blame a disabled sysctl;
    it names the cause and the fix, from the early start (plain line) and the launch (--init)
    alike."""
    need_tool("unshare")
    load_busybox(g, mk, tmp_path)
    for extra in ([], ["--init"]):
        p = subprocess.run(["unshare", "-U", *g.cmd("run", *extra, "sample:latest", "true")],
                           env=g.environ(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 125, p.stderr
        assert "cannot create the container's namespaces: Operation not permitted: gantry runs " \
               "in a user namespace that maps no user or group ID" in p.stderr, p.stderr
        assert "hint: map your user and group IDs in that namespace (unshare -r" in p.stderr
        assert "max_user_namespaces" not in p.stderr, p.stderr
    # the user ID mapped, the group ID not: refused all the same
    uid = os.geteuid()
    p = subprocess.run(["unshare", "-U", f"--map-user={uid}",
                        *g.cmd("run", "sample:latest", "true")],
                       env=g.environ(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 125, p.stderr
    assert "maps no group ID" in p.stderr, p.stderr


def test_a_caller_that_ignores_sigchld_still_gets_the_exit_status(runner):
    """exec keeps an ignored SIGCHLD (some process managers and `trap '' CHLD` shells leave it
    so): the kernel would reap the container itself, and gantry waited forever for it."""
    p = subprocess.run(runner.cmd("run", runner.image, "sh", "-c", "exit 7"),
                       env=runner.environ(), capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
    assert p.returncode == 7, p.stderr
