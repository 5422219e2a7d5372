"""kill -9 at seeded random moments during load, pull, push, save, slim, rmi, system prune and
system migrate.

Each command is first timed once; every trial then starts it and sends SIGKILL after a delay drawn
uniformly from [0, 1.1 x its time], so the kills spread over the whole command (a trial whose
command finished first counts as a trial, not a kill, and its time joins the estimate: the median
of all seen, stresslib.CommandTime). After each trial the store must pass
stresslib.check_store (fsck clean, nothing unverified listed), no gantry process may be left, and
the next command of the same kind must succeed and give the complete image. Every few trials the
debris is kept for the next one (a crash on top of a crash); otherwise `system prune` must leave
no temporary anywhere (stresslib.check_pruned).

STRESS_TRIALS sets the trials per command (default 30), STRESS_SEED the seed (default 27).
"""
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest
from stresslib import (INSECURE, SEED, TRIALS, Tally, blob_names, check_intact, check_pruned,
                       check_store, CommandTime, image_blobs, kill_at, layer_names, new_store, registry,
                       registry_manifest_ok, rng_for, samples, timed, wait_no_procs)

__all__ = ["registry", "samples"]  # fixtures


def no_leftover_procs(g, where):
    left = wait_no_procs(g.bin, g.root)
    assert left == [], f"{where}: gantry processes left running: {left}"


def trial_where(kind, i):
    return f"{kind} trial {i} (STRESS_SEED={SEED})"


def enough_kills(kind):
    trials, kills = Tally.counts[kind]
    # a kill that lands after the command finished is wasted; most must land inside it
    assert kills >= trials // 3, f"{kind}: only {kills}/{trials} kills hit a running command"


def test_kill9_load(g, samples):
    rng = rng_for("load")
    big, small = samples["big"], samples["small"]
    g.run("load", small.archive)  # an image already there must survive every crash
    dur = CommandTime(g, "load", big.archive)
    g.run("rmi", big.ref)
    for i in range(TRIALS):
        where = trial_where("load", i)
        Tally.add("load", kill_at(g, dur, rng, "load", big.archive))
        no_leftover_procs(g, where)
        check_store(g, where)
        if rng.random() < 0.7:
            check_pruned(g, where)
        g.run("load", big.archive)
        check_intact(g, big)
        check_intact(g, small)
        g.run("rmi", big.ref)
    check_pruned(g, "load: end")
    assert g.run("run", small.ref, "cat", "/hello").out == "hi\n"
    enough_kills("load")


def test_kill9_pull(tmp_path, samples, registry):
    rng = rng_for("pull")
    big = samples["big"]
    src = new_store(tmp_path, "src")
    src.run("load", big.archive)
    ref = f"{registry.addr}/stress/big:1"
    src.run("push", INSECURE, "-q", big.ref, ref)
    g = new_store(tmp_path)
    dur = CommandTime(g, "pull", INSECURE, "-q", ref)
    g.run("rmi", ref)
    for i in range(TRIALS):
        where = trial_where("pull", i)
        Tally.add("pull", kill_at(g, dur, rng, "pull", INSECURE, "-q", ref))
        no_leftover_procs(g, where)
        check_store(g, where)
        if rng.random() < 0.5:  # else the next pull resumes from the kept partial blobs
            check_pruned(g, where)
        g.run("pull", INSECURE, "-q", ref)
        check_intact(g, big, ref)
        g.run("rmi", ref)
    check_pruned(g, "pull: end")
    enough_kills("pull")


def test_kill9_push(tmp_path, samples, registry):
    rng = rng_for("push")
    big = samples["big"]
    g = new_store(tmp_path)
    g.run("load", big.archive)
    dur = CommandTime(g, "push", INSECURE, "-q", big.ref, f"{registry.addr}/stress/first:t")
    verify = new_store(tmp_path, "verify")
    for i in range(TRIALS):
        where = trial_where("push", i)
        repo = f"stress/p{i}"  # a new repository: every blob is uploaded again
        dest = f"{registry.addr}/{repo}:t"
        Tally.add("push", kill_at(g, dur, rng, "push", INSECURE, "-q",
                                  big.ref, dest))
        no_leftover_procs(g, where)
        check_store(g, where)
        # the registry has the tag whole or not at all
        registry_manifest_ok(registry.addr, repo, "t")
        g.run("push", INSECURE, "-q", big.ref, dest)
        assert registry_manifest_ok(registry.addr, repo, "t") is not None, where
        if i % 10 == 0:  # what was pushed pulls back whole
            verify.run("pull", INSECURE, "-q", dest)
            check_intact(verify, big, dest)
    check_pruned(g, "push: end")
    enough_kills("push")


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_kill9_save(g, samples, tmp_path, fmt):
    rng = rng_for("save-" + fmt)
    big = samples["big"]
    g.run("load", big.archive)
    whole = tmp_path / "whole.tar"
    dur = CommandTime(g, "save", "--format", fmt, "-o", whole, big.ref)
    want = hashlib.sha256(whole.read_bytes()).hexdigest()
    verify = new_store(tmp_path, "verify")
    for i in range(TRIALS // 2):
        where = trial_where(f"save ({fmt})", i)
        out = tmp_path / f"out{i}"
        out.mkdir()
        Tally.add("save", kill_at(g, dur, rng, "save", "--format", fmt,
                                  "-o", out / "img.tar", big.ref))
        no_leftover_procs(g, where)
        check_store(g, where)
        # the output is absent or complete; nothing half-written lies beside it
        left = sorted(os.listdir(out))
        assert left in ([], ["img.tar"]), f"{where}: the output directory holds {left}"
        if left:
            assert hashlib.sha256((out / "img.tar").read_bytes()).hexdigest() == want, where
        # a whole save, timed, also tells the next kill's window the command's speed now
        dur.saw(timed(g, "save", "--format", fmt, "-o", out / "img.tar", big.ref))
        assert hashlib.sha256((out / "img.tar").read_bytes()).hexdigest() == want, where
        if i % 5 == 0:
            verify.run("load", out / "img.tar")
        (out / "img.tar").unlink()
    check_pruned(g, "save: end")
    enough_kills("save")


def test_kill9_slim(g, samples):
    rng = rng_for("slim")
    big = samples["big"]
    g.run("load", big.archive)
    plain = ("slim", big.ref, "-t", "big:slim", "--remove", "none")
    # the check takes a while, so that kills land in it too (its temporary name is then set)
    checked = plain + ("--check", "sleep 0.3; test -f /data0/r0.bin")
    dur = {plain: CommandTime(g, *plain), checked: CommandTime(g, *checked)}
    g.run("rmi", "big:slim")
    for i in range(TRIALS):
        where = trial_where("slim", i)
        args = checked if i % 2 else plain
        Tally.add("slim", kill_at(g, dur[args], rng, *args))
        no_leftover_procs(g, where)
        check_store(g, where)
        check_pruned(g, where)  # also: no check's temporary name is left
        g.run(*args)
        assert g.run("run", "big:slim", "cat", "/small0/f0").out == "0-0\n"
        check_intact(g, big)
        g.run("rmi", "big:slim")
    enough_kills("slim")


def kill_when(g, args, ready, timeout=30):
    """Starts gantry ARGS and SIGKILLs it as soon as ready(pid) holds (deterministic kills)."""
    p = g.popen(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.time() + timeout
    while not ready(p.pid):
        assert p.poll() is None, f"gantry {args} ended before the kill point: {p.stderr.read()!r}"
        assert time.time() < end, f"gantry {args}: the kill point never came"
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=30) == -signal.SIGKILL


def test_save_killed_while_writing_leaves_nothing(g, samples, tmp_path):
    """Regression: save wrote OUT.tmp-<id> and renamed it; a kill left that file beside the
    output for good. Now it writes an unnamed file (O_TMPFILE) linked into place when complete."""
    g.run("load", samples["big"].archive)
    out = tmp_path / "out"
    out.mkdir()

    def writing(pid):  # an fd of the save process points into the output directory
        try:
            fds = [os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            return False
        return any(t.startswith(str(out) + "/") for t in fds)

    kill_when(g, ("save", "-o", out / "img.tar", samples["big"].ref), writing)
    assert os.listdir(out) == [], "a killed save left a partial file"
    g.run("save", "-o", out / "img.tar", samples["big"].ref)
    assert os.listdir(out) == ["img.tar"]


def test_oci_dir_save_killed_mid_write_is_reclaimed(g, samples, tmp_path):
    """Regression: `save --format oci-dir` writes OUT.tmp-<pid>-…/ and renames it into place; a
    kill while it wrote a blob left that directory beside the output for good. OUT is never
    half-written; the next save to OUT removes the temporaries whose writer is gone, and leaves
    a live writer's (here one named with this test's own pid) and other outputs' alone."""
    big = samples["big"]
    g.run("load", big.archive)
    out = tmp_path / "out"
    out.mkdir()
    live = out / f"img.tmp-{os.getpid()}-0-1"  # a save to img in progress: not debris
    live.mkdir()
    other = out / "other.tmp-999999999-0-1"  # a dead writer's, but another output's
    other.mkdir()

    def writing_blobs(pid):
        # a blob in the save's temporary directory: from the first blob to the rename (a blob
        # file held open is a window of a few ms, which a quiet machine's fast save let the
        # 2 ms polling miss: "ended before the kill point")
        for n in os.listdir(out):
            if n.startswith("img.tmp-") and out / n != live:
                try:
                    if any((out / n / "blobs" / "sha256").iterdir()):
                        return True
                except OSError:
                    pass
        return False

    kill_when(g, ("save", "--format", "oci-dir", "-o", out / "img", big.ref), writing_blobs)
    left = sorted(os.listdir(out))
    assert "img" not in left, "a killed oci-dir save left a half-written output"
    debris = [n for n in left if n.startswith("img.tmp-") and out / n != live]
    assert len(debris) == 1, left  # what the kill left (the fix reclaims it, below)
    g.run("save", "--format", "oci-dir", "-o", out / "img", big.ref)
    assert sorted(os.listdir(out)) == sorted(["img", live.name, other.name])
    verify = new_store(tmp_path, "verify")
    verify.run("load", out / "img")
    check_intact(verify, big)


def test_slim_killed_during_check_leaves_no_name(g, samples):
    """Regression: slim --check tags the new image localhost/gantry-slim-check:<id> while its
    check runs; a kill then left that unchecked image listed for good (prune kept it). The name
    is now valid only while the slim holds its lock; prune drops it and what only it named."""
    g.run("load", samples["big"].archive)
    before = blob_names(g.root)
    check_ref = lambda pid: any("gantry-slim-check" in r for r in g.refs())  # noqa: E731
    kill_when(g, ("slim", samples["big"].ref, "-t", "big:slim", "--remove", "none",
                  "--check", "sleep 1"), check_ref)
    assert wait_no_procs(g.bin, g.root) == []  # the orphaned check ends by itself
    g.run("system", "prune")
    assert list(g.refs()) == [samples["big"].ref]
    assert blob_names(g.root) == before
    assert [n for n in os.listdir(g.root / "locks") if n.startswith("tmpref-")] == []
    # a slim that ends normally leaves no lock file either
    g.run("slim", samples["big"].ref, "-t", "big:slim", "--remove", "none", "--check", "true")
    g.run("system", "prune")
    assert [n for n in os.listdir(g.root / "locks") if n.startswith("tmpref-")] == []
    assert "docker.io/library/big:slim" in g.refs()


def dead_pid():
    """A pid no process has (the one of a child that has exited and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_prune_removes_what_killed_atomic_writes_left(g, samples):
    """Regression: a kill while refs.json (or a hold) was being replaced left
    refs.json.tmp-<pid>-… in the store's root (found by test_kill9_rmi); prune never removed it.
    Prune now removes refs.json's under the refs lock, and a hold's once its writer is gone; a
    hold being written by a live process stays."""
    g.run("load", samples["small"].archive)
    pid = dead_pid()
    (g.root / f"refs.json.tmp-{pid}-0-1").write_text('{"refs": {')
    (g.root / "holds" / f"c1.tmp-{pid}-3-7").write_text("sha256:")
    live = g.root / "holds" / f"c2.tmp-{os.getpid()}-0-1"
    live.write_text("sha256:")
    check_store(g, "with leftovers")  # they never confuse a reader
    g.run("system", "prune")
    assert not (g.root / f"refs.json.tmp-{pid}-0-1").exists()
    assert not (g.root / "holds" / f"c1.tmp-{pid}-3-7").exists()
    assert live.exists(), "prune removed a hold a live process is writing"
    live.unlink()
    check_pruned(g, "after prune")
    assert list(g.refs()) == [samples["small"].ref]


def test_kill9_rmi(g, samples):
    rng = rng_for("rmi")
    a, b = samples["a"], samples["b"]  # they share two big layers
    g.run("load", b.archive)
    g.run("load", a.archive)
    dur = CommandTime(g, "rmi", a.ref)
    b_blobs, b_layers = image_blobs(g.root, g.refs()[b.ref])
    for i in range(TRIALS):
        where = trial_where("rmi", i)
        g.run("load", a.archive)
        Tally.add("rmi", kill_at(g, dur, rng, "rmi", a.ref))
        no_leftover_procs(g, where)
        check_store(g, where)
        check_intact(g, b)
        if a.ref in g.refs():
            g.run("rmi", a.ref)
        check_pruned(g, where)
        assert blob_names(g.root) == b_blobs, f"{where}: a's blobs are left"
        assert layer_names(g.root) == b_layers, f"{where}: a's layers are left"
    enough_kills("rmi")


def drop_ref(g, ref):
    """Makes an image garbage as a store written by a crashed or older gantry may hold it."""
    p = g.root / "refs.json"
    doc = json.loads(p.read_text())
    del doc["refs"][ref]
    (g.root / "refs.json.test").write_text(json.dumps(doc))
    os.replace(g.root / "refs.json.test", p)


def test_kill9_prune(g, samples):
    rng = rng_for("prune")
    big, b = samples["big"], samples["b"]
    g.run("load", b.archive)
    b_blobs, b_layers = image_blobs(g.root, g.refs()[b.ref])

    def garbage():
        g.run("load", big.archive)
        drop_ref(g, big.ref)
        junk = g.root / "tmp" / "junk"
        junk.mkdir(exist_ok=True)
        for j in range(200):
            (junk / f"f{j}").write_bytes(b"x" * 4096)

    garbage()
    dur = CommandTime(g, "system", "prune")
    for i in range(TRIALS):
        where = trial_where("prune", i)
        garbage()
        Tally.add("prune", kill_at(g, dur, rng, "system", "prune"))
        no_leftover_procs(g, where)
        check_store(g, where)
        check_intact(g, b)
        check_pruned(g, where)
        assert blob_names(g.root) == b_blobs and layer_names(g.root) == b_layers, where
    assert g.run("run", b.ref, "cat", "/only-b").out == "b\n"
    enough_kills("prune")


def test_tally_report(capsys):
    """Prints the trials and kills per command (run last: pytest keeps file order)."""
    with capsys.disabled():
        for kind, (t, k) in sorted(Tally.counts.items()):
            print(f"\nstress: {kind}: {t} trials, {k} killed mid-command")
    assert all(t > 0 for t, _ in Tally.counts.values())


def test_build_cache_prune_killed_mid_removal_leaves_a_consistent_store(g, samples):
    """`system prune --build-cache` killed while it deletes a cache mount (renamed into tmp/
    first): the store is consistent, each cache entry is whole or gone, the image whose layers
    the cache's records name is intact, and the next prune finishes the job."""
    g.run("load", samples["small"].archive)
    md = g.refs()[samples["small"].ref]
    _, diffs = image_blobs(g.root, md)
    diff = sorted(diffs)[0]
    steps = g.root / "build-cache" / "steps"
    steps.mkdir(parents=True)
    for k in "abc":  # records naming a layer an image also needs: it must stay
        (steps / (k * 64 + ".json")).write_text(
            '{"layer": "", "diff_id": "sha256:%s", "config": {}, "created_by": "RUN x"}' % diff)
    mount = g.root / "build-cache" / "mounts" / "apt"
    for d in range(40):
        (mount / str(d)).mkdir(parents=True)
        for f in range(100):
            (mount / str(d) / str(f)).write_bytes(b"x")

    def deleting(pid):  # the mount is out of build-cache/ and in tmp/, being deleted
        doomed = [n for n in os.listdir(g.root / "tmp") if n.startswith("doomed-")]
        return not mount.exists() and bool(doomed)

    kill_when(g, ("system", "prune", "--build-cache"), deleting)
    check_store(g, "build cache prune killed")
    for k in "abc":  # a record is a file: there or not, never half
        p = steps / (k * 64 + ".json")
        assert not p.exists() or p.read_text().startswith('{"layer"')
    check_intact(g, samples["small"])
    check_pruned(g, "after the killed build cache prune")  # removes the doomed mount's rest
    r = g.run("system", "prune", "--build-cache")
    assert "Total reclaimed space:" in r.out
    assert list(steps.iterdir()) == [] and not mount.exists()
    check_intact(g, samples["small"])


def test_kill9_migrate(g, samples, tmp_path):
    """`system migrate` of a store written before one copy of a layer (blob and tree, no
    tar-split): killed anywhere, the store stays valid and the image whole; run again, it
    finishes and no layer blob is left."""
    from conftest import Gantry
    rng = rng_for("migrate")
    big = samples["big"]
    cfg = tmp_path / "keep.yaml"
    cfg.write_text("store:\n  keep_compressed: true\n")
    keep = Gantry(g.root, env={"GANTRY_CONFIG": str(cfg)}, binary=g.bin)

    def old_store():
        keep.run("load", big.archive)
        for d in big.diff_ids:
            layer = g.root / "layers/sha256" / d
            (layer / "tar-split.json.zst").unlink()
            meta = json.loads((layer / "meta.json").read_text())
            for k in ("tar_split", "blob_kept", "blob_size"):
                meta.pop(k, None)
            (layer / "meta.json").write_text(json.dumps(meta))

    old_store()
    dur = CommandTime(g, "system", "migrate")
    g.run("rmi", big.ref)
    for i in range(TRIALS):
        where = trial_where("migrate", i)
        old_store()
        Tally.add("migrate", kill_at(g, dur, rng, "system", "migrate"))
        no_leftover_procs(g, where)
        check_store(g, where)
        check_intact(g, big)
        g.run("system", "migrate")
        check_store(g, where + " (migrated)")
        blobs, _ = image_blobs(g.root, g.refs()[big.ref])
        m = json.loads((g.root / "blobs/sha256" / g.refs()[big.ref].split(":")[1]).read_text())
        assert not {l["digest"].split(":")[1] for l in m["layers"]} & blob_names(g.root), where
        g.run("rmi", big.ref)
        check_pruned(g, where)
    enough_kills("migrate")
