#!/usr/bin/env python3
"""`make test` (and so .ci/run): every stage of the test suite in order, each one timed, then a
table of the stages (wall time, CPU time, what ran, result) and one closing line with the counts.

Every stage runs even when an earlier one failed, except those that need a build that failed;
the exit status is 1 when any stage failed. docs/testing.md explains each stage, what it costs
and how to run one alone (each is a make target: `make e2e`, `make unit-san`, ...).

Environment: BUILD, SAN_BUILD, JOBS (from the Makefile); TEST_STAGES="e2e stress" runs only
those stages (their builds must be there).
"""
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name, command, the stages it needs, what it runs
STAGES = [
    ("deps", ["./scripts/install-deps.sh"], [], "Debian packages"),
    ("format", ["make", "-s", "format-check"], ["deps"], "clang-format"),
    ("build", ["make", "-s", "build-gantry"], ["deps"], "gcc release: gantry, Slurm plugin"),
    ("build-san", ["make", "-s", "build-san"], ["deps"],
     "clang ASan+UBSan+fuzzer: gantry, unit, fuzz"),
    ("unit-san", ["make", "-s", "unit-san"], ["build-san"], "ctest under ASan+UBSan"),
    # after build-san: a fixture test runs one case of build-san's gantry_unit
    ("e2e", ["make", "-s", "e2e"], ["build"], "pytest tests/e2e tests/fixtures"),
    ("stress", ["make", "-s", "stress"], ["build"], "pytest tests/stress"),
    ("fuzz-smoke", ["make", "-s", "fuzz-smoke"], ["build-san"], "every fuzz target"),
    ("e2e-san", ["make", "-s", "e2e-asan-ci"], ["build-san"], "e2e subset under ASan+UBSan"),
]


def counts(text):
    """(passed, failed, skipped, note) from the last summary a test runner printed in TEXT."""
    m = None
    for m in re.finditer(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text):
        pass
    if m:  # ctest
        failed, total = int(m.group(2)), int(m.group(3))
        return total - failed, failed, 0, f"{total} ctest cases"
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


def run_stage(name, cmd, env):
    print(f"\n=== stage {name}: {' '.join(cmd)}", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    tail = []
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    for raw in proc.stdout:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        tail.append(raw.decode(errors="replace"))
        if len(tail) > 400:
            del tail[:100]
    rc = proc.wait()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return rc, wall, cpu, counts("".join(tail))


# Made in the background while the builds run, so that no test waits for it: the Debian 12
# base of gantry build's tests (debootstrap from Debian's archive, ~2 minutes on a fresh
# machine; cached in /var/cache/gantry-tests after). A test that needs it waits on its lock.
PREFETCH = ["/usr/bin/python3", "tests/fixtures/debian_base.py"]


def main():
    env = dict(os.environ)
    only = set(os.environ.get("TEST_STAGES", "").split())
    rows, status, total = [], {}, [0, 0, 0]
    prefetch = None
    load0 = os.getloadavg()
    start = time.monotonic()
    for name, cmd, needs, what in STAGES:
        if only and name not in only:
            continue
        broken = [n for n in needs if status.get(n, "ok") != "ok"]
        if broken:
            status[name] = "not run"
            rows.append((name, None, None, f"not run: {', '.join(broken)} failed", what))
            continue
        rc, wall, cpu, c = run_stage(name, cmd, env)
        status[name] = "ok" if rc == 0 else "FAILED"
        if name == "deps" and rc == 0:
            env["GANTRY_DEPS_CHECKED"] = "1"  # the later stages' `make` need not check again
            if not only:
                log = open(REPO / ".test-prefetch.log", "wb")
                prefetch = (subprocess.Popen(PREFETCH, cwd=REPO, env=env, stdout=log,
                                             stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL), time.monotonic())
        detail = ""
        if c:
            passed, failed, skipped, note = c
            total[0] += passed
            total[1] += failed
            total[2] += skipped
            detail = f"{note}: {passed} passed, {failed} failed" + \
                (f", {skipped} skipped" if skipped else "")
        elif rc != 0:
            total[1] += 1  # a stage that failed without a count (a build) counts as one
        result = "ok" if rc == 0 else f"FAILED (exit {rc})"
        rows.append((name, wall, cpu, result + (f"; {detail}" if detail else ""), what))
    if prefetch is not None:  # long done unless every stage failed fast
        rc = prefetch[0].wait()
        print(f"prefetch {' '.join(PREFETCH)}: exit {rc} (log: .test-prefetch.log)")
    elapsed = time.monotonic() - start
    load1 = os.getloadavg()

    print("\n=== make test: stages (docs/testing.md)")
    print(f"{'stage':<11} {'wall s':>8} {'CPU s':>8}  result")
    for name, wall, cpu, result, what in rows:
        w = f"{wall:8.1f}" if wall is not None else f"{'-':>8}"
        c = f"{cpu:8.1f}" if cpu is not None else f"{'-':>8}"
        print(f"{name:<11} {w} {c}  {result}  [{what}]")
    print(f"{'total':<11} {elapsed:8.1f} {sum(r[2] or 0 for r in rows):8.1f}  "
          f"{os.cpu_count()} CPUs; load average {load0[0]:.2f} at the start, "
          f"{load1[0]:.2f} at the end")
    failed = [n for n, s in status.items() if s != "ok"]
    if failed:
        print(f"failed stages: {', '.join(failed)}")
    print(f"test: {total[0]} passed, {total[1]} failed" +
          (f", {total[2]} skipped" if total[2] else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
