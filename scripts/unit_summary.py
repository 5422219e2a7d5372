#!/usr/bin/env python3
"""The unit suite's count of GoogleTest cases, after `ctest` ran it one process per suite
(tests/unit/ctest_suites.cmake): ctest counts suites, this counts cases.

    scripts/unit_summary.py RESULTS_DIR CTEST_JUNIT

RESULTS_DIR holds cases.txt (each suite and its number of cases, written at the link), the
SUITE.json that each suite's run wrote (--gtest_output), and under an emulator
emulator-skips.txt (the cases left out there, counted as skipped by cause); CTEST_JUNIT is ctest's --output-junit
file (whether each suite's process passed). Prints one line, which scripts/test_stages.py reads:

    unit: 900 cases in 209 ctest suites: 898 passed, 0 failed, 2 skipped

A suite whose process failed without a report (it crashed, or a sanitizer ended it) counts all
its cases failed; one whose cases all passed but whose process failed after them (LeakSanitizer
at exit) counts one failed. Exit status 0 when nothing failed, 1 otherwise.
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(results_dir, junit):
    results = Path(results_dir)
    cases = {}
    for line in (results / "cases.txt").read_text().splitlines():
        suite, n = line.rsplit(" ", 1)
        cases[suite] = int(n)
    process_failed = set()
    if Path(junit).exists():
        for t in ET.parse(junit).getroot().iter("testcase"):
            if t.get("status") not in ("run", "disabled") or t.find("failure") is not None:
                process_failed.add(t.get("name"))
    passed = failed = skipped = 0
    for suite, n in cases.items():
        report = results / (suite.replace("/", "_") + ".json")
        if not report.exists():
            failed += n
            print(f"unit: {suite}: no report from its {n} cases (the process did not finish)")
            continue
        s_passed = s_failed = s_skipped = 0
        for group in json.loads(report.read_text()).get("testsuites", []):
            for case in group.get("testsuite", []):
                if case.get("failures"):
                    s_failed += 1
                elif case.get("result") == "SKIPPED":
                    s_skipped += 1
                else:
                    s_passed += 1
        if s_passed + s_failed + s_skipped != n:
            print(f"unit: {suite}: {s_passed + s_failed + s_skipped} cases reported, {n} listed")
            s_failed += max(0, n - s_passed - s_failed - s_skipped)
        if suite in process_failed and s_failed == 0:
            print(f"unit: {suite}: its cases passed but its process failed (a sanitizer at exit?)")
            s_failed, s_passed = 1, s_passed - 1
        passed, failed, skipped = passed + s_passed, failed + s_failed, skipped + s_skipped
    # under an emulator: the cases left out of their suites' filters, by cause
    # (tests/unit/emulator_skips.txt; ctest_suites.cmake wrote which)
    left_out = {}
    skips = results / "emulator-skips.txt"
    if skips.exists():
        for line in skips.read_text().splitlines():
            cause, _, case = line.partition("\t")
            if case:
                left_out[cause] = left_out.get(cause, 0) + 1
    if left_out:
        print("unit: not run under the emulator (tests/unit/emulator_skips.txt): " +
              ", ".join(f"{cause} {n}" for cause, n in sorted(left_out.items())))
    total = sum(cases.values()) + sum(left_out.values())
    skipped += sum(left_out.values())
    print(f"unit: {total} cases in {len(cases)} ctest suites: {passed} passed, "
          f"{failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
