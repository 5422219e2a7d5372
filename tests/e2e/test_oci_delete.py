"""`gantry oci delete` leaves nothing of a container (issue 57), against runc 1.1 in the same run.
crun's tests/test_delete.py starts containers whose init has children and deletes several with
one `delete -f --regex` (crun's option): gantry oci refused the option, so every container stayed
running; and a container without a PID namespace of its own whose first process had ended was
deleted with its children still running and its cgroup left (runc kills what is left in the
cgroup, as its destroy does). After each delete: no process of the container, no mount naming
its bundle or state root, no state directory, no cgroup directory of its id."""
import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from conftest import proc_cmdlines
from ocidiff import ROOT, bundle, edit_config, oci_bin, runtimes  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not ROOT, reason="compares with runc, which runs as root here")

# Each container's first process and its two children sleep for MARK seconds: MARK finds them.
SHAPES = {
    # init has children in a PID namespace of its own (crun's test: all namespaces)
    "pidns": (True, "sleep {m} & sleep {m} & exec sleep {m}"),
    # no PID namespace of its own: its children are the host's processes
    "hostpid": (False, "sleep {m} & sleep {m} & exec sleep {m}"),
    # no PID namespace, and its first process ends: "stopped", its children still running
    "orphans": (False, "sleep {m} & sleep {m} & exit 0"),
}


def marked(mark):
    """The pids whose command line holds MARK (the containers' sleeps)."""
    want = f"\0{mark}\0".encode()
    return [pid for pid, cmdline in proc_cmdlines() if want in cmdline]


def cgroup_dirs(cid):
    return [d for d, _, _ in os.walk("/sys/fs/cgroup") if os.path.basename(d) == cid]


def leftovers(name, root, bundle, mark, cids):  # noqa: F811
    """What is left of the containers CIDS: {what: [...]}, empty when nothing is."""
    deadline = time.monotonic() + 2  # a process SIGKILLed is gone from /proc a moment later
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if str(bundle) in line or str(root) in line]
    left = {"processes": marked(mark), "mounts": mounts,
            "state": [c for c in cids if (root / c).exists()],
            "cgroups": [d for c in cids for d in cgroup_dirs(c)]}
    return {k: v for k, v in left.items() if v}


class Runtime:
    def __init__(self, name, binary, tmp_path, bundle):  # noqa: F811
        self.name, self.binary, self.bundle = name, binary, bundle
        self.root = tmp_path / f"{name}-state"
        self.prefix = f"x{os.getpid()}-{tmp_path.name[-8:]}-{name}"
        self.mark = str(random.randrange(7_000_000, 8_000_000))

    def __call__(self, *args, timeout=60):
        return subprocess.run([self.binary, "--root", str(self.root), *map(str, args)],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def start(self, shape, suffix=None):
        """A running (or, for "orphans", stopped) container of SHAPE, its id PREFIX-SUFFIX
        (SUFFIX: SHAPE unless given); its id."""
        pidns, script = SHAPES[shape]

        def edit(cfg):
            cfg["process"]["args"] = ["sh", "-c", script.format(m=self.mark)]
            cfg["process"]["terminal"] = False
            ns = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
            cfg["linux"]["namespaces"] = ns + ([{"type": "pid"}] if pidns else [])
        edit_config(self.bundle, edit)
        cid = f"{self.prefix}-{suffix or shape}"
        # the container keeps run's stdio: a file, not a pipe that run's caller waits on
        err = self.root.parent / f"{cid}.err"
        with open(err, "w") as f:
            p = subprocess.run([self.binary, "--root", str(self.root), "run", "-d", "--bundle",
                                str(self.bundle), cid], stdin=subprocess.DEVNULL, stdout=f,
                               stderr=f, timeout=60)
        assert p.returncode == 0, (self.name, shape, err.read_text())
        want = "stopped" if shape == "orphans" else "running"
        deadline = time.monotonic() + 15
        while True:
            st = json.loads(self("state", cid).stdout)["status"]
            before = len(marked(self.mark))
            if st == want and (shape != "orphans" or before >= 2):
                break
            assert time.monotonic() < deadline, (self.name, shape, st)
            time.sleep(0.02)
        return cid

    def left(self, cids):
        return leftovers(self.name, self.root, self.bundle, self.mark, cids)


def each(oci_bin, bundle, tmp_path, body):  # noqa: F811
    """BODY(rt) for runc, then gantry oci; whatever it left is deleted after. {name: result}."""
    out = {}
    for name, binary in runtimes(oci_bin):
        rt = Runtime(name, binary, tmp_path, bundle)
        try:
            out[name] = body(rt)
        finally:
            for c in json.loads(rt("list", "--format", "json").stdout or "[]") or []:
                rt("delete", "-f", c["id"])
            for pid in marked(rt.mark):
                os.kill(pid, 9)
    return out


def test_delete_of_each_shape_leaves_nothing_as_runc(oci_bin, bundle, tmp_path):  # noqa: F811
    """`delete -f` of a running container whose first process has children (with and without a
    PID namespace of its own), and plain `delete` of a stopped one whose children outlived it:
    exit 0, and nothing of any of them is left."""
    def body(rt):
        steps = []
        for shape in SHAPES:
            cid = rt.start(shape)
            p = rt("delete", cid) if shape == "orphans" else rt("delete", "-f", cid)
            steps.append((shape, p.returncode, rt.left([cid])))
        return steps
    runs = each(oci_bin, bundle, tmp_path, body)
    for name, steps in runs.items():
        assert steps == [(shape, 0, {}) for shape in SHAPES], (name, steps)


def test_several_ids_are_refused_as_runc_and_nothing_is_deleted(oci_bin, bundle,  # noqa: F811
                                                               tmp_path):
    """runc 1.1's delete takes exactly one id: `delete -f A B` is a usage error (exit 1) that
    deletes neither, under both; each deleted then leaves nothing."""
    def body(rt):
        a, b = rt.start("pidns"), rt.start("hostpid")
        p = rt("delete", "-f", a, b)
        both = [json.loads(rt("state", c).stdout)["status"] for c in (a, b)]
        gone = [rt("delete", "-f", c).returncode for c in (a, b)]
        return p.returncode, both, gone, rt.left([a, b])
    runs = each(oci_bin, bundle, tmp_path, body)
    for name, got in runs.items():
        assert got == (1, ["running", "running"], [0, 0], {}), (name, got)


def test_delete_regex_deletes_every_match_and_leaves_nothing(oci_bin, bundle,  # noqa: F811
                                                             tmp_path):
    """crun's test_multiple_containers_delete: `delete -f --regex PATTERN` (crun's option; runc
    has none and refuses it) deletes every container whose id the POSIX extended expression
    matches (unanchored, as crun's regexec), of every shape, and no other; an invalid expression
    is an error that deletes nothing."""
    rt = Runtime("gantry", str(oci_bin), tmp_path, bundle)
    try:
        cids = [rt.start(shape) for shape in SHAPES]
        kept = rt.start("pidns", "kept")
        bad = rt("delete", "-f", "--regex", "(")
        assert bad.returncode == 1 and "invalid regular expression" in bad.stderr, bad
        assert len(json.loads(rt("list", "--format", "json").stdout)) == 4
        # as crun's "test-*", a pattern that matches anywhere in the id
        p = rt("delete", "-f", "--regex", "(pidns|hostpid|orph)")
        assert p.returncode == 0 and p.stderr == "", p
        assert [c["id"] for c in json.loads(rt("list", "--format", "json").stdout)] == [kept]
        assert rt.left(cids) == {"processes": marked(rt.mark)}  # the kept one's, only
        assert len(marked(rt.mark)) == 3
        assert rt("delete", "-f", "-r", "kept$").returncode == 0
        assert rt.left(cids + [kept]) == {}
    finally:
        for c in json.loads(rt("list", "--format", "json").stdout or "[]") or []:
            rt("delete", "-f", c["id"])
        for pid in marked(rt.mark):
            os.kill(pid, 9)
    if ROOT:  # runc has no --regex: a usage error, as any unknown flag
        p = subprocess.run(["runc", "--root", str(tmp_path / "r"), "delete", "-f", "--regex",
                            "x"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "regex" in p.stderr, p


def freezer():
    """(directory under which a freezer cgroup is made, v1?) or None."""
    v1 = Path("/sys/fs/cgroup/freezer")
    if (v1 / "cgroup.procs").exists():
        return v1, True
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return Path("/sys/fs/cgroup"), False
    return None


def test_delete_force_of_a_container_frozen_elsewhere_leaves_nothing(oci_bin, bundle,  # noqa: F811
                                                                     tmp_path):
    """crun's test_simple_delete: the container's first process moved into a frozen freezer
    cgroup that is not the container's (a stuck container), then `delete -f`. A frozen process
    takes SIGKILL only once thawed, so gantry oci waited on it forever; now, still there after
    1 s, it is moved back into the container's own freezer cgroup (not frozen), takes its
    SIGKILL, and nothing of the container is left; the frozen cgroup is left empty. (runc is not
    run here: its delete -f gives up on a process that does not exit only after 10 s.)"""
    where = freezer()
    if where is None:
        pytest.skip("no freezer cgroup to make")
    base, v1 = where
    frozen = base / f"gantry-test-frozen-{os.getpid()}"
    frozen.mkdir()
    rt = Runtime("gantry", str(oci_bin), tmp_path, bundle)
    try:
        cid = rt.start("pidns")
        pid = json.loads(rt("state", cid).stdout)["pid"]
        (frozen / "cgroup.procs").write_text(str(pid))
        (frozen / ("freezer.state" if v1 else "cgroup.freeze")).write_text(
            "FROZEN" if v1 else "1")
        deadline = time.monotonic() + 10
        while (frozen / "freezer.state").read_text().strip() != "FROZEN" if v1 else \
                "frozen 1" not in (frozen / "cgroup.events").read_text():
            assert time.monotonic() < deadline, "the cgroup did not freeze"
            time.sleep(0.01)
        t0 = time.monotonic()
        p = rt("delete", "-f", cid, timeout=30)
        took = time.monotonic() - t0
        assert p.returncode == 0, p
        assert took < 5, took
        assert rt.left([cid]) == {}
        assert (frozen / "cgroup.procs").read_text() == ""
    finally:
        (frozen / ("freezer.state" if v1 else "cgroup.freeze")).write_text(
            "THAWED" if v1 else "0")
        for c in json.loads(rt("list", "--format", "json").stdout or "[]") or []:
            rt("delete", "-f", c["id"])
        for pid in marked(rt.mark):
            os.kill(pid, 9)
        for _ in range(100):
            try:
                frozen.rmdir()
                break
            except OSError:
                time.sleep(0.02)
