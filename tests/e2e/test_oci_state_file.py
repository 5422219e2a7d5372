"""`gantry oci` reads a container's state.json back from --root as untrusted input (issue 36,
ocirt/state_file.cpp; fuzz_oci_state): a state whose pid is not a process (kill(2) of -1 would
signal every process the caller may signal), that names another container, or whose config is
not a runtime spec is refused as damaged, exit 1 (every `gantry oci` error, as runc), naming the
directory to remove; nothing is signalled."""
import json
import subprocess

import pytest

STATE = {"id": "ctr", "bundle": "/nonexistent", "rootfs": "/nonexistent/rootfs",
         "created": "2026-11-25T12:00:00.000000000Z", "pid": 4242, "pid_start": 1,
         "config": {"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"},
                    "root": {"path": "rootfs"}}}


@pytest.mark.parametrize("change, says", [
    ({"pid": -1}, "its pid -1 is not a process"),
    ({"pid": 0}, "its pid 0 is not a process"),
    ({"id": "other"}, 'it names container "other"'),
    ({"config": {"process": {"args": "not-a-list"}}}, "is damaged"),
    ({"config": []}, "its config is not a JSON object"),
    # fuzz_oci_state's finding: get<unsigned long long>() of 1.2e120 was undefined behaviour
    # (UBSan: "outside the range of representable values"); the plain build took it as a
    # start time. fuzz/regressions/oci_state/crash-ff4fb8cb...
    ({"pid_start": 1.23e120}, "its pid_start 1.23e+120 is not a start time"),
    ({"pid_start": -5}, "its pid_start -5 is not a start time"),
    ({"pid": 4242.0}, "its pid 4242.0 is not a number"),
    ({"pid": 2 ** 40}, f"its pid {2 ** 40} is not a process"),
])
def test_a_damaged_state_is_refused_and_nothing_is_signalled(g, tmp_path, change, says):
    root = tmp_path / "oci-root"
    (root / "ctr").mkdir(parents=True)
    (root / "ctr" / "state.json").write_text(json.dumps(dict(STATE, **change)))
    for cmd in (["kill", "ctr", "KILL"], ["state", "ctr"]):
        r = subprocess.run([str(g.bin), "oci", "--root", str(root), *cmd], env=g.environ(),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r
        assert "the state of container ctr is damaged" in r.stderr and says in r.stderr, r
        assert str(root / "ctr") in r.stderr, r  # the fix: remove that directory
