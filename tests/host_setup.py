"""What the test suites change on the host for a whole run, made once and undone once.

make test runs the e2e and stress suites side by side, as two pytest sessions (scripts/
test_stages.py): each session making and undoing these itself raced (the session that made the
subordinate-id user removed it, and restored /etc/subuid, while the other still ran its tests:
CI on 2026-11-27). scripts/test_stages.py therefore makes them before the suites start and
undoes them after all of them, and sets HOST_SETUP_BY_RUNNER so that the sessions leave them
alone; a pytest session run on its own makes and undoes them itself (tests/conftest.py).
Plain Python: no pytest."""
import os
import shutil
import subprocess
from pathlib import Path

SUBID_USER = "gantry-subid"
SUBID_RANGE = "300000:65536"
HOST_SETUP_BY_RUNNER = "GANTRY_HOST_SETUP_BY_RUNNER"  # set by scripts/test_stages.py


def make_subid_user():
    """Adds SUBID_USER with SUBID_RANGE in /etc/subuid and /etc/subgid (root, with useradd and
    newuidmap; else nothing). Returns what undo_subid_user needs to restore."""
    saved = {}
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("newuidmap"):
        return saved
    if subprocess.run(["id", SUBID_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false",
                        SUBID_USER], check=True)
        saved["user"] = True
    for f in ("/etc/subuid", "/etc/subgid"):
        text = Path(f).read_text() if os.path.exists(f) else None
        lines = [l for l in (text or "").splitlines() if not l.startswith(SUBID_USER + ":")]
        Path(f).write_text("\n".join(lines + [f"{SUBID_USER}:{SUBID_RANGE}"]) + "\n")
        saved[f] = text
    return saved


def undo_subid_user(saved):
    for f in ("/etc/subuid", "/etc/subgid"):
        if f in saved:
            text = saved.pop(f)
            if text is None:
                os.unlink(f)
            else:
                Path(f).write_text(text)
    if saved.pop("user", False):
        subprocess.run(["userdel", SUBID_USER], capture_output=True)


def tun_for_users():
    """/dev/net/tun as systemd's udev rules make it (50-udev-default.rules: MODE 0666), which a
    container runtime's /dev may not (this VM's is 0600): rootless --network bridge needs it
    (pasta opens it as the user, docs/networks.md). Made once for the run, as root; it stays."""
    tun = "/dev/net/tun"
    if os.geteuid() == 0 and os.path.exists(tun) and (os.stat(tun).st_mode & 0o666) != 0o666:
        os.chmod(tun, 0o666)


def crun_hybrid_workaround():
    """crun 1.8 refuses cgroup "hybrid" hosts whose cgroup v2 has controllers (this VM: hugetlb;
    reference/this-machine.md): as root, hugetlb's v1 hierarchy is mounted, which takes the
    controller off v2. Returns False when it is needed and cannot be done (not root). Made once
    for the run (it stays mounted): done by a test only, tests that ran crun before it failed
    (CI on 2026-11-27)."""
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if not unified.exists() or not unified.read_text().strip():
        return True
    if os.geteuid() != 0:
        return False
    Path("/sys/fs/cgroup/hugetlb").mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", "/sys/fs/cgroup/hugetlb"],
                   capture_output=True)
    return not unified.read_text().strip()
