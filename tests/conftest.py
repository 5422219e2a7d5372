"""Shared pytest fixtures for gantry's end-to-end tests.

Tests drive the built binary (GANTRY_BIN, default build/gantry) as a user would, each with its
own store under pytest's tmp_path. Sample images come from tests/fixtures/mkimage.py.
Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/e2e
In parallel (pytest-xdist): /usr/bin/python3 -m pytest -n 2 --dist loadfile tests/e2e tests/fixtures
Tests that change host-wide state (/dev/fuse's mode, /run/cdi, the Slurm cluster's fixed ports)
hold a `host_lock` for as long as they do; users and /etc/subuid entries are made once per run.
"""
import contextlib
import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))

from fixtures import mkimage  # noqa: E402
import host_setup  # noqa: E402

GANTRY = Path(os.environ.get("GANTRY_BIN", REPO / "build" / "gantry")).resolve()
IN_CI = os.environ.get("CI") == "true"
NOBODY = pwd.getpwnam("nobody")


def _is_sanitized(binary):
    """Whether BINARY was built with AddressSanitizer (cmake -DGANTRY_SANITIZE=ON, make test-asan):
    its instrumented code calls the ASan runtime's __asan_init."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _is_sanitized(GANTRY)
# A sanitizer report (ASan, UBSan, LeakSanitizer) fails the test whose gantry wrote it: every
# gantry process writes its reports to SANITIZER_REPORTS/report.<pid> (docs/sanitizers.md),
# checked after each test, and Gantry.run also looks for one in the stderr it captured (a
# process in a container's root after pivot_root cannot open the report file and says so there).
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
SANITIZER_REPORTS = None
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer", "AddressSanitizer:", "Can't open file: ")
if SANITIZED:
    SANITIZER_REPORTS = Path(tempfile.mkdtemp(prefix="gantry-sanitizer-", dir="/tmp"))
    os.chmod(SANITIZER_REPORTS, 0o1777)  # rootless tests run gantry as nobody
    for var in SANITIZER_ENV:  # one runtime reads all three; the last log_path wins
        opts = os.environ.get(var, "")
        os.environ[var] = f"{opts}:log_path={SANITIZER_REPORTS}/report" if opts else \
            f"log_path={SANITIZER_REPORTS}/report"


def is_controller(config):
    """Whether this process runs the session: the only one without -n, else xdist's controller
    (its workers have config.workerinput)."""
    return not hasattr(config, "workerinput")


@contextlib.contextmanager
def host_lock(name, shared=False):
    """Holds the cross-process lock NAME (flock on /tmp/gantry-e2e-NAME.lock) while the block
    runs: tests in other pytest processes (xdist workers, other sessions) that change or depend
    on the same host-wide state wait. Exclusive, or SHARED with other shared holders."""
    with open(f"/tmp/gantry-e2e-{name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def pytest_configure(config):
    if is_controller(config) and getattr(config.option, "numprocesses", None) and \
            "GPUHOST_CACHE_DIR" not in os.environ:
        # the simulated GPU hosts' compiled fakes, shared by the xdist workers (inherited)
        os.environ["GPUHOST_CACHE_DIR"] = tempfile.mkdtemp(prefix="gpuhost-cc-", dir="/tmp")
        config._gpuhost_cache_dir = os.environ["GPUHOST_CACHE_DIR"]  # removed by unconfigure
    config.addinivalue_line(
        "markers", "not_under_sanitizer(reason): skip only when GANTRY_BIN is an ASan+UBSan "
        "build (make test-asan); REASON says which property of the plain build it measures")


def pytest_unconfigure(config):
    if SANITIZER_REPORTS is not None and not any(SANITIZER_REPORTS.iterdir()):
        SANITIZER_REPORTS.rmdir()  # kept when it holds a report
    if getattr(config, "_gpuhost_cache_dir", None):
        shutil.rmtree(config._gpuhost_cache_dir, ignore_errors=True)
    # gantry_copy's shared binary: xdist's workers end without running atexit handlers
    if "path" in _SHARED_BIN:
        shutil.rmtree(_SHARED_BIN["path"].parent, ignore_errors=True)


# pytest -n N --dist loadfile (the way to run the suite in parallel: a file's module fixtures are
# made once) hands each worker whole files, in collection order. Files here are put first, the
# slowest first (measured with --durations=0 on 2 cores), so that no long file starts last.
SLOW_FIRST = ["e2e/test_build_debian.py", "e2e/test_run_cleanup.py", "e2e/test_gpu_select.py",
              "e2e/test_gpu_hostile.py", "e2e/test_doctor_matrix.py", "e2e/test_tailor.py",
              "e2e/test_slim.py", "e2e/test_build.py", "e2e/test_slurm.py",
              "e2e/test_run_start.py"]
# Files that take turns on a host-wide resource for long (host_lock) run as one unit on one
# worker rather than wait for each other on two: the Slurm cluster's fixed ports.
SAME_UNIT = {"e2e/test_slurm_options.py": "e2e/test_slurm.py"}


def _loadfile(config):
    return getattr(config.option, "dist", "no") == "loadfile" and \
        getattr(config.option, "numprocesses", None)


def _test_file(path):
    """PATH relative to tests/ ("e2e/test_run.py"), or None outside it."""
    try:
        return Path(path).resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return None


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if not _loadfile(config):
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid):
            scope = super()._split_scope(nodeid)  # the file, relative to the rootdir
            name = _test_file(config.rootpath / scope) or scope
            return SAME_UNIT.get(name, name)

    return Scheduling(config, log)


def _slow_first(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(_test_file(item.path), len(rank)))  # stable


def pytest_collection_modifyitems(config, items):
    if _loadfile(config):
        _slow_first(items)
    if not SANITIZED:
        return
    for item in items:
        mark = item.get_closest_marker("not_under_sanitizer")
        if mark is not None:
            reason = mark.args[0] if mark.args else mark.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"under ASan+UBSan: {reason}"))


def sanitizer_report(text):
    """The first sanitizer report line in TEXT, or None."""
    for line in (text or "").splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line
    return None


@pytest.fixture(autouse=True)
def _no_sanitizer_report():
    """Under a sanitizer build: fails the test during which any gantry wrote a report."""
    if SANITIZER_REPORTS is None:
        yield
        return
    before = set(os.listdir(SANITIZER_REPORTS))
    yield
    new = sorted(set(os.listdir(SANITIZER_REPORTS)) - before)
    if new:
        texts = [(SANITIZER_REPORTS / n).read_text(errors="replace") for n in new]
        pytest.fail(f"sanitizer report(s) {', '.join(new)} in {SANITIZER_REPORTS}:\n"
                    + "\n".join(texts)[:20000], pytrace=False)


def proc_cmdlines():
    """(pid, command line bytes) of every process now. Not Path("/proc").glob: pathlib's glob
    stats each match and raises ProcessLookupError for a process that exits meanwhile (a CI
    failure, stop 69's run); one gone between the listing and the read is skipped."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    yield int(name), f.read()
            except OSError:  # gone meanwhile
                pass


def need_tool(name):
    """Skip (outside CI only) when a peer tool is missing; in CI a missing tool is a failure."""
    if shutil.which(name):
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI but is not installed")
    pytest.skip(f"{name} is not installed")


def need_nvcc():
    """The CUDA toolkit's nvcc: required in CI; elsewhere its absence skips (saying so)."""
    if os.path.exists("/usr/local/cuda/bin/nvcc"):
        return
    if IN_CI:
        pytest.fail("nvcc (/usr/local/cuda/bin/nvcc) is required in CI")
    pytest.skip("the CUDA toolkit (nvcc) is not installed")


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<exit {self.code}\nstdout: {self.out}\nstderr: {self.err}>"


class Gantry:
    """Runs the gantry binary against one store; as root or as an unprivileged user."""

    def __init__(self, root, user=None, env=None, binary=None):
        self.root = Path(root)
        self.bin = Path(binary or GANTRY)
        self.user = user  # None = current user, else a pwd entry (tests run as root in CI)
        self.env = dict(env or {})

    def cmd(self, *args):
        argv = [str(self.bin), *map(str, args)]
        if self.user is not None:
            argv = ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                    "--clear-groups", "--"] + argv
        return argv

    def environ(self):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GANTRY_ROOT": str(self.root),
               "LANG": "C.UTF-8"}
        env.update({v: os.environ[v] for v in SANITIZER_ENV if v in os.environ})
        if self.user is not None:
            env["HOME"] = str(self.root.parent)
        env.update(self.env)
        return env

    def run(self, *args, check=True, timeout=300, input=None):
        proc = subprocess.run(self.cmd(*args), capture_output=True, text=True,
                              env=self.environ(), timeout=timeout, input=input)
        res = Result(proc)
        if SANITIZED and sanitizer_report(res.err):
            raise AssertionError(f"gantry {' '.join(map(str, args))}: sanitizer report: {res!r}")
        if check and res.code != 0:
            raise AssertionError(f"gantry {' '.join(map(str, args))} failed: {res!r}")
        return res

    def fail(self, *args, code=None, timeout=300):
        res = self.run(*args, check=False, timeout=timeout)
        assert res.code != 0, f"gantry {' '.join(map(str, args))} should have failed: {res!r}"
        if code is not None:
            assert res.code == code, f"expected exit {code}: {res!r}"
        return res

    def popen(self, *args, **kw):
        return subprocess.Popen(self.cmd(*args), env=self.environ(), **kw)

    def wait_logged(self, name, line, within=30):
        """Until container NAME's log holds LINE: a detached workload that traps a signal says
        so after its trap, and a signal sent before that is lost (PID 1 ignores what it does
        not handle), which a loaded machine once showed."""
        deadline = time.monotonic() + within
        while True:
            res = self.run("logs", name, check=False)
            if line in res.out.splitlines():
                return
            assert time.monotonic() < deadline, f"{name} never logged {line!r}: {res!r}"
            time.sleep(0.02)

    def refs(self):
        p = self.root / "refs.json"
        return json.loads(p.read_text())["refs"] if p.exists() else {}


_SHARED_BIN = {}


def gantry_copy(dest):
    """Puts gantry at DEST (a new path, in a directory every user can enter) for a test's own
    use: every user can run it wherever the checkout lives (it may be under a 0700 home), and
    its processes are told apart from other tests' by their executable. A hard link to one copy
    this process made in /tmp (the release binary is ~190 MB: a copy per test costs 0.2-0.5 s),
    or a copy where a link cannot be made."""
    if "path" not in _SHARED_BIN:
        d = Path(tempfile.mkdtemp(prefix="gantry-e2e-bin-", dir="/tmp"))
        os.chmod(d, 0o755)
        shutil.copy2(GANTRY, d / "gantry")
        os.chmod(d / "gantry", 0o755)
        _SHARED_BIN["path"] = d / "gantry"  # removed by pytest_unconfigure
    try:
        os.link(_SHARED_BIN["path"], dest)
    except OSError:
        shutil.copy2(GANTRY, dest)
        os.chmod(dest, 0o755)
    return Path(dest)


@pytest.fixture(scope="session")
def gantry_bin():
    assert GANTRY.exists(), f"{GANTRY} is missing: build first (make build)"
    return GANTRY


@pytest.fixture
def g(tmp_path, gantry_bin):
    """gantry as the current user (root in CI) with a fresh store."""
    return Gantry(tmp_path / "store")


@pytest.fixture
def rootless(gantry_bin):
    """gantry as the unprivileged user 'nobody' with a fresh store it owns.

    `rootless.base` is a directory nobody can read and write: put input archives there
    (pytest's tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="gantry-rootless-", dir="/tmp"))
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        # a copy nobody can execute, wherever the checkout lives (it may be under a 0700 home)
        bindir = Path(str(base) + "-bin")  # beside base: tests check base holds only the store
        bindir.mkdir(mode=0o755)
        binary = gantry_copy(bindir / "gantry")
        os.chown(base, NOBODY.pw_uid, NOBODY.pw_gid)
        gan = Gantry(base / "store", user=NOBODY, binary=binary)
    else:
        gan = Gantry(base / "store")
    gan.base = base
    yield gan
    subprocess.run(["chmod", "-R", "u+rwX", str(base)], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(str(base) + "-bin", ignore_errors=True)


SUBID_USER = host_setup.SUBID_USER
SUBID_RANGE = host_setup.SUBID_RANGE
_SUBID_SAVED = {}  # what pytest_sessionstart changed, for pytest_sessionfinish to restore


def pytest_sessionstart(session):
    """The host's changes for the run (tests/host_setup.py), made before any test, in the only
    or the controlling process, unless make test's runner made them for every suite: then
    /etc/passwd never changes while tests run (test_hostile_*.py and test_gpu_hostile check
    that it does not) and no test edits /etc/subuid while another reads it."""
    if is_controller(session.config) and not os.environ.get(host_setup.HOST_SETUP_BY_RUNNER):
        _SUBID_SAVED.update(host_setup.make_subid_user())
        host_setup.crun_hybrid_workaround()
        host_setup.tun_for_users()


def pytest_sessionfinish(session):
    if is_controller(session.config) and not os.environ.get(host_setup.HOST_SETUP_BY_RUNNER):
        host_setup.undo_subid_user(_SUBID_SAVED)


@pytest.fixture
def subid_user():
    """gantry as SUBID_USER (made for the run by pytest_sessionstart, with SUBID_RANGE in
    /etc/subuid and /etc/subgid), a fresh store in `subid_user.base` (which the user owns) and
    HOME there."""
    if os.geteuid() != 0:
        pytest.skip("creates a user with subordinate ids: needs root")
    need_tool("newuidmap")
    need_tool("useradd")
    try:
        user = pwd.getpwnam(SUBID_USER)
    except KeyError:
        pytest.fail(f"{SUBID_USER} is missing: pytest_sessionstart (tests/conftest.py) makes it")
    base = Path(tempfile.mkdtemp(prefix="gantry-subid-", dir="/tmp"))
    os.chmod(base, 0o755)
    os.chown(base, user.pw_uid, user.pw_gid)
    bindir = Path(str(base) + "-bin")
    bindir.mkdir(mode=0o755)
    g = Gantry(base / "store", user=user, binary=gantry_copy(bindir / "gantry"))
    g.base = base
    yield g
    subprocess.run(["rm", "-rf", str(base), str(bindir)], capture_output=True)


@contextlib.contextmanager
def fuse_mode(mode):
    """/dev/fuse with MODE (as root) while the block runs, restored after it; under the "fuse"
    host lock, so that no test in another process changes it meanwhile."""
    with host_lock("fuse"):
        before = os.stat("/dev/fuse").st_mode & 0o7777
        if os.geteuid() == 0:
            os.chmod("/dev/fuse", mode)
        try:
            yield
        finally:
            if os.geteuid() == 0:
                os.chmod("/dev/fuse", before)


@pytest.fixture
def fuse_open():
    """/dev/fuse mode 0666 for the test (a distribution's default), restored after it."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    with fuse_mode(0o666):
        yield


@pytest.fixture
def mk():
    return mkimage


def load_busybox(gan, mk, where, **image_kw):
    """Loads the busybox sample image as sample:latest (the archive goes to WHERE)."""
    img = mk.busybox_image(**image_kw)
    archive = Path(where) / "bb.tar"
    mk.write_docker_archive(archive, [(img, ["sample:latest"])])
    os.chmod(archive, 0o644)
    gan.run("load", archive)
    return "sample:latest"


def store_files(root):
    """Every path under a store (for "nothing half-written" assertions)."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def tmp_entries(root):
    t = Path(root) / "tmp"
    return sorted(os.listdir(t)) if t.exists() else []
