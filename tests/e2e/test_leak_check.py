"""LeakSanitizer is on in `gantry hook` (issue 36): tools/sanitizer_defaults.cpp turns it off
only where its tracer cannot work (/proc of another PID namespace, a process that is not
dumpable), no longer for every `gantry hook`. Only the instrumented build has a leak check."""
import os
import subprocess

import pytest

from conftest import SANITIZED


@pytest.mark.skipif(not SANITIZED, reason="the plain build has no LeakSanitizer to check")
@pytest.mark.parametrize("argv", [["hook", "create-symlinks", "--link", "missing-separator"],
                                  ["--root", "/nonexistent-root", "hook", "update-ldcache",
                                   "--help"]])
def test_leak_check_runs_in_gantry_hook(g, tmp_path, argv):
    logs = tmp_path / "lsan"
    logs.mkdir()
    env = g.environ()
    # our own report directory (conftest's would count this log as a report); log_threads: the
    # leak check says which threads it stopped, so it ran (detect_leaks=0 prints nothing)
    env["ASAN_OPTIONS"] = f"log_path={logs}/report"
    env["LSAN_OPTIONS"] = "log_threads=1"
    env.pop("UBSAN_OPTIONS", None)
    r = subprocess.run([str(g.bin), *argv], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 2), r  # 86 would be a sanitizer's
    text = "".join(p.read_text() for p in logs.iterdir())
    assert "Processing thread" in text, (r, text)
    assert "ERROR: LeakSanitizer" not in text and "fatal error" not in text, text
