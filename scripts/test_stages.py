#!/usr/bin/env python3
"""`make test` (and so .ci/run): every stage of the test suite, each one timed, then a table of
the stages (wall time, CPU time, what ran, result) and one closing line with the counts.

The stages run in three steps. Within a step, chains of stages run side by side: the e2e suite
waits on processes, daemons and disks more than it computes (about 40% of two cores), so the
instrumented build runs beside it, and the CPU-bound unit, fuzz and e2e-san stages share the last
step. A stage that runs beside others has its output printed when it ends; a stage alone streams.
Only the build stages configure and build; the test stages run make with PREBUILT=1 (on the
builds that are there), since stages side by side that each configured the same build directory
raced in cmake. Every stage runs even when an earlier one failed, except those that need a build that failed;
the exit status is 1 when any stage failed. docs/testing.md explains each stage, what it costs
and how to run one alone (each is a make target: `make e2e`, `make unit-san`, ...).

Environment: BUILD, SAN_BUILD, JOBS (from the Makefile); TEST_STAGES="e2e stress" runs only
those stages (their builds must be there).
"""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AMD_UNIT_TEST = "tests/fixtures/amdhost/test_amdhost.py::test_gantry_unit_reads_the_tree"

# name -> (command, the stages it needs, what it runs)
STAGES = {
    "deps": (["./scripts/install-deps.sh"], [], "Debian packages"),
    "format": (["make", "-s", "format-check"], ["deps"], "clang-format"),
    "build": (["make", "-s", "build-gantry"], ["deps"], "gcc release: gantry, Slurm plugin"),
    # at a lower priority beside the e2e suite and stress: they wait on processes, daemons and
    # the disk more than they compute, and get the CPU first when they do; build-san takes what
    # they leave
    "build-san": (["nice", "-n", "10", "make", "-s", "build-san"], ["deps"],
                  "clang ASan+UBSan+fuzzer: gantry, unit, fuzz"),
    # gantry cross-compiled for aarch64 at -O0 -g0 (no code generation worth the name, no debug
    # information: the cheapest compile that still sees every line), then its arm64 package
    # checked (tests/aarch64): that it keeps compiling for Grace and Jetson hosts, which CI's
    # amd64 machine is not. Beside build-san at the same low priority (docs/aarch64.md)
    "aarch64": (["nice", "-n", "10", "make", "-s", "build-aarch64", "aarch64-package-check"],
                ["deps"], "aarch64 cross build (-O0): gantry, arm64 .deb"),
    # the fixture test that runs build-san's gantry_unit goes with e2e-san (built by then)
    # a worker more than the cores (three on two): the suite is latency-bound (366 CPU-s in
    # 469 s on two workers; 296 s on three, docs/testing.md)
    "e2e": (["make", "-s", "PREBUILT=1", "e2e",
             f"E2E_WORKERS={int(os.environ.get('JOBS') or os.cpu_count() or 1) + 1}",
             f"E2E_ARGS=--deselect {AMD_UNIT_TEST}"],
            ["build"], "pytest tests/e2e tests/fixtures"),
    "stress": (["make", "-s", "PREBUILT=1", "stress"], ["build"], "pytest tests/stress"),
    # beside fuzz-smoke at a lower priority: each fuzz target runs a fixed 5 s of wall time and
    # gets the CPU first (beside them at equal priority they made a third of the executions);
    # these two take what the fuzzers leave, and their normal priority back once the fuzzers are
    # done (UNNICE_AFTER)
    "unit-san": (["nice", "-n", "10", "make", "-s", "PREBUILT=1", "unit-san"], ["build-san"],
                 "ctest under ASan+UBSan"),
    "fuzz-smoke": (["make", "-s", "PREBUILT=1", "fuzz-smoke"], ["build-san"], "every fuzz target"),
    "e2e-san": (["nice", "-n", "10", "make", "-s", "PREBUILT=1", "e2e-asan-ci"], ["build-san"],
                "e2e subset under ASan+UBSan"),
}
# steps, in order; a step's chains run side by side, a chain's stages one after another
# stress beside e2e and build-san: it counts only its own stores' gantry processes (beside e2e
# it once counted e2e's: 3 of 21 failed), and e2e then stress was the longer chain of step 2 in
# CI (492 + 109 s against build-san's 531); in the last step beside the fuzzers, a trial command
# timed while they ran and killed after they ended was never hit (load: 0 of 30 kills).
STEPS = [
    [["deps", "format", "build"]],
    [["build-san"], ["e2e"], ["stress"], ["aarch64"]],
    [["unit-san"], ["fuzz-smoke"], ["e2e-san"]],
]


def counts(text):
    """(passed, failed, skipped, note) from the last summary a test runner printed in TEXT."""
    unit = re.findall(r"^unit: (\d+) cases in (\d+) ctest suites: (\d+) passed, (\d+) failed, "
                      r"(\d+) skipped$", text, re.M)
    if unit:  # scripts/unit_summary.py: the GoogleTest cases (ctest counts suites)
        total, suites, passed, failed, skipped = map(int, unit[-1])
        return passed, failed, skipped, f"{total} unit cases in {suites} ctest suites"
    m = None
    for m in re.finditer(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text):
        pass
    if m:  # ctest: its "passed" includes the cases that skipped themselves (GTEST_SKIP)
        failed, total = int(m.group(2)), int(m.group(3))
        skipped = len(re.findall(r"^\s*\d+ - \S+ \(Skipped\)$", text, re.M))
        return total - failed - skipped, failed, skipped, f"{total} ctest cases"
    lines = [l for l in text.splitlines()
             if re.search(r"\d+ (passed|failed|error)", l) and re.search(r" in [\d.]+s", l)]
    if lines:  # pytest's last line
        line = lines[-1]
        n = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|"
                                               r"xpassed|deselected)", line)}
        failed = n.get("failed", 0) + n.get("error", 0) + n.get("errors", 0)
        return (n.get("passed", 0), failed, n.get("skipped", 0),
                f"{sum(n.values())} pytest tests")
    fuzz = re.findall(r"^(\S+)\s+(\d+|\?)\s+(\d+)\s+(\d+)\s+(ok|no binary|FOUND.*)$", text, re.M)
    if fuzz:  # fuzz/run.sh's table
        ok = sum(1 for f in fuzz if f[4] == "ok")
        execs = sum(int(f[1]) for f in fuzz if f[1].isdigit())
        return ok, len(fuzz) - ok, 0, f"{len(fuzz)} fuzz targets, {execs:,} execs"
    return None


# Stages started at nice 10 beside fuzz-smoke get their normal priority back when it ends: on a
# machine that is busy with other work at nice 0, they would otherwise get a tenth of its share.
UNNICE_AFTER = {"fuzz-smoke": ["unit-san", "e2e-san"]}
RUNNING = {}  # stage name -> pid of its command, while it runs


def descendants(pid):
    """PID and every process below it (from /proc's parent links)."""
    children = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def renice_tree(pid, value):
    """Sets the nice value of PID's process tree (and so of what it starts later). Lowering it
    needs root or RLIMIT_NICE: elsewhere the stages keep their nice 10."""
    for p in descendants(pid):
        try:
            os.setpriority(os.PRIO_PROCESS, p, value)
        except OSError:
            pass


def run_stage(name, cmd, env, alone, lock):
    """Runs one stage; returns (exit status, wall s, CPU s, counts or None)."""
    with lock:
        print(f"\n=== stage {name}: {' '.join(cmd)}" + ("" if alone else " (beside others)"),
              flush=True)
    out = None if alone else tempfile.TemporaryFile()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE if alone else out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    with lock:
        RUNNING[name] = proc.pid
    tail = []
    if alone:
        for raw in proc.stdout:
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            tail.append(raw.decode(errors="replace"))
            if len(tail) > 400:
                del tail[:100]
    # wait4: this stage's own CPU time (its process and every descendant it waited for)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    with lock:
        del RUNNING[name]
        for other in UNNICE_AFTER.get(name, []):
            if other in RUNNING:
                renice_tree(RUNNING[other], 0)
    if out is not None:
        out.seek(0)
        text = out.read()
        with lock:
            print(f"\n=== stage {name}: output", flush=True)
            sys.stdout.buffer.write(text)
            sys.stdout.flush()
        tail = [text[-60000:].decode(errors="replace")]
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, counts("".join(tail))


# Made in the background while the builds run, so that no test waits for it: the Debian 12
# base of gantry build's tests (debootstrap from Debian's archive, ~2 minutes on a fresh
# machine; cached in /var/cache/gantry-tests after). A test that needs it waits on its lock.
PREFETCH = ["/usr/bin/python3", "tests/fixtures/debian_base.py"]


def main():
    env = dict(os.environ)
    only = set(os.environ.get("TEST_STAGES", "").split())
    results, status, total = {}, {}, [0, 0, 0]
    prefetch = None
    lock = threading.Lock()
    load0 = os.getloadavg()
    start = time.monotonic()

    def chain(names, alone):
        nonlocal prefetch
        for name in names:
            cmd, needs, _ = STAGES[name]
            broken = [n for n in needs if status.get(n, "ok") != "ok"]
            if broken:
                status[name] = "not run"
                results[name] = (None, None, None, f"not run: {', '.join(broken)} failed")
                continue
            rc, wall, cpu, c = run_stage(name, cmd, env, alone, lock)
            status[name] = "ok" if rc == 0 else "FAILED"
            if name == "deps" and rc == 0:
                env["GANTRY_DEPS_CHECKED"] = "1"  # the later stages' `make` need not check
                if not only:
                    log = open(REPO / ".test-prefetch.log", "wb")
                    prefetch = subprocess.Popen(PREFETCH, cwd=REPO, env=env, stdout=log,
                                                stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL)
            results[name] = (rc, wall, cpu, c)

    # what the suites change on the host, made once for all of them after the first step (its
    # deps stage installs what it needs) and undone at the end: the e2e and stress sessions side
    # by side each making and undoing it raced (tests/host_setup.py)
    sys.path.insert(0, str(REPO / "tests"))
    import host_setup
    saved = None
    try:
        for step_no, step in enumerate(STEPS):
            if step_no == 1:
                saved = host_setup.make_subid_user()
                host_setup.crun_hybrid_workaround()
                host_setup.tun_for_users()
                env[host_setup.HOST_SETUP_BY_RUNNER] = "1"
            chains = [[n for n in c if not only or n in only] for c in step]
            chains = [c for c in chains if c]
            threads = [threading.Thread(target=chain, args=(c, len(chains) == 1))
                       for c in chains]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
    finally:
        if saved is not None:
            host_setup.undo_subid_user(saved)
    if prefetch is not None:  # long done unless every stage failed fast
        rc = prefetch.wait()
        print(f"prefetch {' '.join(PREFETCH)}: exit {rc} (log: .test-prefetch.log)")
    elapsed = time.monotonic() - start
    load1 = os.getloadavg()

    print("\n=== make test: stages (docs/testing.md)")
    print(f"{'stage':<11} {'wall s':>8} {'CPU s':>8}  result")
    cpu_sum = 0.0
    for step_no, step in enumerate(STEPS, 1):
        for c in step:
            for name in c:
                if name not in results:
                    continue
                rc, wall, cpu, detail = results[name]
                what = STAGES[name][2]
                if rc is None:
                    print(f"{name:<11} {'-':>8} {'-':>8}  {detail}  [{what}]")
                    total[1] += 1
                    continue
                cpu_sum += cpu
                line = "ok" if rc == 0 else f"FAILED (exit {rc})"
                if detail:
                    passed, failed, skipped, note = detail
                    total[0] += passed
                    total[1] += failed
                    total[2] += skipped
                    line += f"; {note}: {passed} passed, {failed} failed" + \
                        (f", {skipped} skipped" if skipped else "")
                elif rc != 0:
                    total[1] += 1  # a stage that failed without a count (a build) counts as one
                side = "" if len(step) == 1 else f" (step {step_no}, beside others)"
                print(f"{name:<11} {wall:8.1f} {cpu:8.1f}  {line}  [{what}]{side}")
    print(f"{'total':<11} {elapsed:8.1f} {cpu_sum:8.1f}  {os.cpu_count()} CPUs; load average "
          f"{load0[0]:.2f} at the start, {load1[0]:.2f} at the end")
    failed = [n for n, s in status.items() if s != "ok"]
    if failed:
        print(f"failed stages: {', '.join(failed)}")
    print(f"test: {total[0]} passed, {total[1]} failed" +
          (f", {total[2]} skipped" if total[2] else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
