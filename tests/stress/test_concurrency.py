"""Concurrency: runs of one image while rmi, prune and load of other images churn; parallel pulls
of images that share layers; two `run -d --name` with the same name at once.

Everything completes, or fails with a clear one-line error; afterwards nothing leaks: no mount
under the store, no gantry process, no container directory, hold or temporary (as
tests/e2e/test_run_start.py's test_leak_1000_runs checks).
"""
import os
import shlex
import signal
import subprocess
import time

import pytest
from stresslib import (INSECURE, TRIALS, check_intact, check_pruned, check_store, mounts_under,
                       names, new_store, registry, rng_for, samples, wait_no_procs)

__all__ = ["registry", "samples"]  # fixtures


def shell(g, script, timeout=240):
    """Starts a bash script running gantry commands against G's store (gantry is $G)."""
    return subprocess.Popen(["bash", "-c", script], env={**g.environ(), "G": str(g.bin)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p, what, timeout=240):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"{what} failed ({p.returncode}):\n{out[-2000:]}\n{err[-2000:]}"
    return out


def assert_no_leaks(g):
    left = wait_no_procs(g.bin, g.root, timeout=30)  # a trash reaper may still be deleting
    assert left == [], f"gantry processes left: {left}"
    assert mounts_under(g.root) == [], f"mounts left: {mounts_under(g.root)}"
    assert names(g.root / "containers") == set(), names(g.root / "containers")
    assert names(g.root / "holds") == set(), names(g.root / "holds")
    check_pruned(g, "after the concurrent commands")


def test_runs_while_rmi_prune_and_load_churn(g, samples):
    small, big, a = samples["small"], samples["big"], samples["a"]
    g.run("load", small.archive)
    rounds = max(2, TRIALS // 10)
    runner = (f'for i in $(seq {rounds * 4}); do out=$("$G" run {small.ref} cat /hello) || '
              f'exit 1; [ "$out" = hi ] || {{ echo "got: $out"; exit 1; }}; done')
    churn = (f'for i in $(seq {rounds}); do "$G" load {big.archive} >/dev/null && '
             f'"$G" load {a.archive} >/dev/null && "$G" rmi {big.ref} >/dev/null && '
             f'"$G" system prune >/dev/null && "$G" rmi {a.ref} >/dev/null || exit 1; done')
    runners = [shell(g, runner) for _ in range(4)]
    churners = [shell(g, churn), shell(g, f'for i in $(seq {rounds * 2}); do '
                                          f'"$G" system prune >/dev/null || exit 1; done')]
    for i, p in enumerate(runners):
        finish(p, f"runner {i}")
    for i, p in enumerate(churners):
        finish(p, f"churn {i}")
    check_store(g, "after the churn")
    assert set(g.refs()) == {small.ref}
    check_intact(g, small)
    assert_no_leaks(g)


def test_run_of_an_image_being_removed_fails_clearly(g, samples):
    """A run racing an rmi of its own image either runs or says the image is gone. Regression:
    an rmi that collected the image between the run's lookup and its hold on the image made the
    run fail with "layer … is not unpacked in the store; run `gantry system fsck`", as if the
    store were damaged (the hold is now taken under the writer lock, and a removed image is
    reported as removed)."""
    a = samples["a"]
    rng = rng_for("run-vs-rmi")
    g.run("load", a.archive)
    t0 = time.monotonic()
    g.run("run", a.ref, "true")
    dur = time.monotonic() - t0
    for i in range(max(6, TRIALS // 2)):
        g.run("load", a.archive)
        run = g.popen("run", "--pull", "never", a.ref, "cat", "/only-a", stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, dur))
        rmi = g.run("rmi", a.ref, check=False)
        out, err = run.communicate(timeout=60)
        if run.returncode == 0:
            assert out == "a\n"
        else:
            assert run.returncode == 125 and err.startswith("gantry: error: "), (out, err)
            # the lookup failed, or the image went before the run's hold on it
            assert "is not in the store" in err or "was removed" in err, err
        # rmi refuses while the run holds the image, or removes it
        assert rmi.code in (0, 5), rmi
        if rmi.code == 5:
            assert "used by a running container" in rmi.err, rmi
            g.run("rmi", a.ref)
        check_store(g, f"round {i}")
    assert_no_leaks(g)


def test_parallel_pulls_of_overlapping_images(tmp_path, samples, registry):
    src = new_store(tmp_path, "src")
    refs = {}
    for name in ("a", "b", "big"):
        s = samples[name]
        src.run("load", s.archive)
        refs[name] = f"{registry.addr}/stress/{name}:1"
        src.run("push", INSECURE, "-q", s.ref, refs[name])
    for rnd in range(max(2, TRIALS // 10)):
        g = new_store(tmp_path, f"store{rnd}")
        order = ["a", "b", "a", "big", "b"] if rnd % 2 == 0 else ["big", "b", "a", "b", "a"]
        procs = [g.popen("pull", INSECURE, "-q", refs[n], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True) for n in order]
        for n, p in zip(order, procs):
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, f"round {rnd}: pull {n} failed: {err}"
        check_store(g, f"round {rnd}")
        for n in ("a", "b", "big"):
            check_intact(g, samples[n], refs[n])
        assert names(g.root / "tmp") == set(), f"round {rnd}: tmp/ holds {names(g.root / 'tmp')}"
        assert_no_leaks(g)


def test_detached_runs_with_one_name(g, samples):
    """Four `run -d --name N` at once: one runs, three say the name is in use. Regression: the
    claim of a name (records::StateDir::create) took a directory without state.json for a
    crashed run's debris, so a claim in progress was deleted by the next claimant: one failed
    with "cannot create .../state.json.tmp-…: No such file or directory"; and once the first
    run's parent had returned, its state named that dead parent as the monitor until the -d
    monitor saved its own pid, so the next claimant took it for debris and two ran as N; and
    (about 1 round in 10-80) the next claimant read the state while it still named the parent
    and looked that pid up after the monitor had recorded itself, started the workload and let
    the parent return: the name's owner is now whoever holds its owner.lock. Rounds:
    STRESS_TRIALS // 3, at least 4 (STRESS_TRIALS=3000: 1000 rounds)."""
    small = samples["small"]
    g.run("load", small.archive)
    cleanup = []
    try:
        detached_rounds(g, small, cleanup)
    finally:
        for cid in cleanup:
            g.run("rm", "-f", cid, check=False)
        # a container whose claim was lost has no state left for `rm`: end its monitor (which
        # this test started) by pid, so later tests do not see it
        for pid in wait_no_procs(g.bin, g.root, timeout=2):
            try:
                if str(g.root) in open(f"/proc/{pid}/environ").read():
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def detached_rounds(g, small, cleanup):
    for rnd in range(max(4, TRIALS // 3)):
        name = f"stress{os.getpid()}-{rnd}"  # the runtime directory is shared machine-wide
        cmd = " ".join(shlex.quote(a) for a in g.cmd("run", "-d", "--name", name, small.ref,
                                                      "sleep", "30"))
        procs = [shell(g, cmd) for _ in range(4)]
        res = [(p.communicate(timeout=60), p.returncode) for p in procs]
        for (out, _), code in res:  # whatever the asserts below say, stop what started
            if code == 0:
                cleanup.append(out.strip())
        ok = [r for r in res if r[1] == 0]
        bad = [r for r in res if r[1] != 0]
        assert len(ok) == 1, f"round {rnd}: {res}"
        for (out, err), code in bad:
            assert code == 125 and err.startswith("gantry: error: ") and name in err, res
            # docker's words (moby daemon/names.go), exit 125 as `docker run`
            assert (f'Conflict. The container name "/{name}" is already in use by container '
                    in err), err
        ps = g.run("ps", "--json").json()
        assert [c["name"] for c in ps if c["name"].startswith(name)] == [name], ps
        g.run("rm", "-f", name)  # sleep as PID 1 ignores SIGTERM: no 10 s stop per round
        cleanup.clear()
    assert_no_leaks(g)
