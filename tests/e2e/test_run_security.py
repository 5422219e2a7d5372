"""gantry run's confinement: docker's default capabilities and seccomp profile, and the escape
reproductions that apply to a runtime (CVE-2024-21626 working directories, CVE-2019-5736 writes
to the runtime's binary, CVE-2024-45310 racing a shared volume)."""
import os
import shutil
import time
from pathlib import Path

import pytest

from run_common import runner  # noqa: F401 (runner: a pytest fixture)


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_cve_2024_21626_workdir_proc_self_fd(runner, fd):
    # A working directory through a leaked fd would land in the host's mount namespace.
    r = runner.run("run", "-w", f"/proc/self/fd/{fd}", runner.image, "sh", "-c",
                   "pwd; ls /", check=False)
    if r.code == 0:
        assert "bin" in r.out and not r.out.startswith("(unreachable)")
        assert "/proc/self/fd" in r.out.splitlines()[0]  # created inside the container
    else:
        assert r.code == 125


def test_host_binary_not_writable_from_container(runner):
    import hashlib
    h = hashlib.sha256(runner.bin.read_bytes()).hexdigest()
    # CVE-2019-5736 shape: try to open every visible process' exe for writing.
    runner.run("run", "--init", runner.image, "sh", "-c",
               "for p in /proc/[0-9]*; do echo x > $p/exe 2>/dev/null; done; true")
    assert hashlib.sha256(runner.bin.read_bytes()).hexdigest() == h


def test_default_capabilities_match_docker(runner):
    caps = dict(line.split(":\t") for line in runner.run(
        "run", runner.image, "grep", "^Cap", "/proc/self/status").out.splitlines())
    # docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    # NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    assert caps["CapEff"] == "00000000a80425fb"
    assert caps["CapBnd"] == "00000000a80425fb"
    assert caps["CapAmb"] == "0000000000000000"
    nnp = runner.run("run", runner.image, "grep", "NoNewPrivs", "/proc/self/status").out
    assert nnp.split()[-1] == "1"
    seccomp = runner.run("run", runner.image, "grep", "^Seccomp:", "/proc/self/status").out
    assert seccomp.split()[-1] == "2"
    off = runner.run("run", "--security-opt", "seccomp=unconfined", runner.image, "grep",
                     "^Seccomp:", "/proc/self/status").out
    assert off.split()[-1] == "0"


def test_seccomp_refuses_namespace_and_mount_syscalls(runner):
    r = runner.run("run", runner.image, "busybox", "unshare", "-U", "true", check=False)
    assert r.code != 0
    r = runner.run("run", "--security-opt", "seccomp=unconfined", runner.image,
                   "busybox", "unshare", "-U", "true", check=False)
    # without seccomp the kernel still allows a nested user namespace: the profile is what refused
    assert r.code == 0


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_cve_2024_21626_exec_workdir(runner, fd):
    name = f"cwd{os.getpid()}{fd}"
    runner.run("run", "-d", "--name", name, runner.image, "sleep", "30")
    try:
        r = runner.run("exec", "-w", f"/proc/self/fd/{fd}", name, "sh", "-c", "pwd; ls /",
                       check=False)
        if r.code == 0:
            assert "bin" in r.out and not r.out.startswith("(unreachable)")
        else:
            assert r.code == 125
    finally:
        runner.run("rm", "-f", name, check=False)


def test_cve_2019_5736_exec_cannot_reach_gantry_binary(runner):
    import hashlib
    h = hashlib.sha256(runner.bin.read_bytes()).hexdigest()
    name = f"exe{os.getpid()}"
    runner.run("run", "-d", "--name", name, runner.image, "sh", "-c",
               "while :; do for p in /proc/[0-9]*; do "
               "(echo x > $p/exe) 2>/dev/null; cat $p/exe > /dev/null 2>&1; done; done")
    try:
        for _ in range(20):
            runner.run("exec", name, "true")
    finally:
        runner.run("rm", "-f", name, check=False)
    assert hashlib.sha256(runner.bin.read_bytes()).hexdigest() == h


def test_cve_2024_45310_racing_shared_volume(runner):
    """runc CVE-2024-45310: container A flips vol/x between a directory and a symlink to a host
    path while container B mounts onto vol/x/y/z. A runtime creating mount targets with host-side
    path strings follows the link and creates y/z on the host. gantry resolves targets inside the
    container's root (openat2 RESOLVE_IN_ROOT): the link can only lead into B's own root."""
    vol = runner.where / "shared-vol"
    vol.mkdir()
    src = runner.where / "src"
    src.mkdir()
    escape = Path("/tmp") / f"gantry-45310-{os.getpid()}-{runner.user is not None}"
    escape.mkdir()
    os.chmod(escape, 0o777)  # writable by anyone: a naive runtime would succeed in writing here
    for p in (vol, src):
        os.chmod(p, 0o777)
    flip = (f"while :; do rm -rf /vol/x; mkdir -p /vol/x/y; rm -rf /vol/x; "
            f"ln -s {escape} /vol/x; done")
    name = f"flipper-{os.getpid()}"
    runner.run("run", "-d", "--name", name, "-v", f"{vol}:/vol", runner.image, "sh", "-c", flip)
    try:
        outcomes = {"ok": 0, "refused": 0}
        seen = set()  # the race must really run: vol/x seen as a link and as a directory
        # the flipper is running once both states have been seen (on a busy machine it may take
        # a while to start): wait for that event, then race it
        end = time.monotonic() + 60
        while not {"link", "dir"} <= seen and time.monotonic() < end:
            x = vol / "x"
            seen.add("link" if x.is_symlink() else "dir" if x.is_dir() else "none")
            time.sleep(0.001)
        assert {"link", "dir"} <= seen, f"the flipper did not flip within 60 s: {seen}"
        for _ in range(60):
            x = vol / "x"
            seen.add("link" if x.is_symlink() else "dir" if x.is_dir() else "none")
            r = runner.run("run", "-v", f"{vol}:/vol", "-v", f"{src}:/vol/x/y/z", runner.image,
                           "true", check=False)
            # Either the target was created inside the root (the volume or, through the link,
            # B's own root) or the mount was refused with a clear error; never anything else.
            assert r.code in (0, 125), r
            outcomes["ok" if r.code == 0 else "refused"] += 1
            if r.code == 125:
                assert "vol/x" in r.err or "mount" in r.err, r
        assert list(escape.iterdir()) == [], "a mount target was created on the host"
        assert not Path("/y").exists()
        assert outcomes["ok"] > 0, outcomes
        assert {"link", "dir"} <= seen, f"the flipper did not flip: {seen}"
    finally:
        runner.run("rm", "-f", name, check=False)
        shutil.rmtree(escape, ignore_errors=True)
