#!/usr/bin/python3
"""What applying a rootless store's owners costs a `gantry load` (docs/storage.md, "Owners in
a rootless store"). Two images of the same shape (busybox and one layer of DIRS directories of
FILES files of 4 KiB each): in one every entry is owned by 1000:1000, in the other by root.
Loaded by a user with a subordinate range (USER, made for the run with RANGE in /etc/subuid
and /etc/subgid, removed after it), alternated rounds, a fresh store each time: the 1000-owned load pays
the owner step (a user namespace child: lchown of every entry, the tree digest walked there),
the root-owned one does not, and does what every rootless load did before owners were applied.

    sudo /usr/bin/python3 bench/owners_load.py [--gantry build/gantry] [--rounds 5] [--no-sync]
"""
import argparse
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixtures import mkimage as mk  # noqa: E402

USER = "gantry-owners-bench"
RANGE = "400000:65536"


def image(uid, dirs, files):
    E = mk.Entry
    entries = []
    for d in range(dirs):
        entries.append(E.dir(f"data/d{d}", mode=0o755, uid=uid, gid=uid))
        for f in range(files):
            entries.append(E.file(f"data/d{d}/f{f}", bytes([f % 251]) * 4096, uid=uid, gid=uid))
    entries.insert(0, E.dir("data", mode=0o755, uid=uid, gid=uid))
    return mk.busybox_image(extra_layers=[mk.Layer(entries)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default="build/gantry")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dirs", type=int, default=50)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--no-sync", action="store_true",
                    help="GANTRY_UNSAFE_NO_SYNC=1: the CPU's share, without the disk's syncs")
    a = ap.parse_args()
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false", USER],
                   check=True)
    saved = {f: Path(f).read_text() if os.path.exists(f) else None
             for f in ("/etc/subuid", "/etc/subgid")}
    for f, text in saved.items():
        Path(f).write_text((text or "") + f"{USER}:{RANGE}\n")
    try:
        run(a)
    finally:
        for f, text in saved.items():
            lines = [l for l in Path(f).read_text().splitlines() if not l.startswith(USER + ":")]
            Path(f).write_text("".join(l + "\n" for l in lines))
        subprocess.run(["userdel", USER])


def run(a):
    user = pwd.getpwnam(USER)
    base = Path(tempfile.mkdtemp(prefix="gantry-owners-bench-", dir="/tmp"))
    os.chmod(base, 0o755)
    binary = base / "gantry"
    shutil.copy2(a.gantry, binary)
    os.chmod(binary, 0o755)
    archives = {}
    for name, uid in (("owned-1000", 1000), ("owned-root", 0)):
        p = base / f"{name}.tar"
        mk.write_docker_archive(p, [(image(uid, a.dirs, a.files), [f"{name}:1"])])
        os.chmod(p, 0o644)
        archives[name] = p
    times = {n: [] for n in archives}
    steps = {n: [] for n in archives}
    try:
        for _ in range(a.rounds):
            for name, p in archives.items():
                store = base / "store"
                subprocess.run(["rm", "-rf", str(store)], check=True)
                store.mkdir()
                os.chown(store, user.pw_uid, user.pw_gid)
                argv = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                        "--clear-groups", "--", str(binary), "--root", str(store), "load", str(p)]
                env = {"PATH": os.environ["PATH"], "HOME": str(base)}
                if a.no_sync:
                    env["GANTRY_UNSAFE_NO_SYNC"] = "1"
                t = time.monotonic()
                r = subprocess.run(argv[:-2] + ["--debug"] + argv[-2:], capture_output=True,
                                   text=True, env=env)
                if r.returncode != 0:
                    raise SystemExit(f"load failed ({r.returncode}): {r.stderr[-2000:]}")
                times[name].append(time.monotonic() - t)
                # the importer's own account of the step (--debug): the owner step with its
                # digest walk, or the digest walk alone
                step = [int(x) for x in re.findall(
                    r"layer 2/2 \([^)]*\): (?:owners|tree digest)[^(]*\((\d+) us", r.stderr)]
                steps[name].append(step[0] / 1e6 if step else float("nan"))
                # the store goes the way the user removes it: system reset
                subprocess.run(argv[:-4] + ["--root", str(store), "system", "reset", "-f"],
                               check=True, capture_output=True,
                               env={"PATH": os.environ["PATH"], "HOME": str(base)})
    finally:
        subprocess.run(["rm", "-rf", str(base)])
    entries = a.dirs * (a.files + 1) + 1
    print(f"layer of {entries} entries ({a.dirs * a.files * 4 // 1024} MiB), {a.rounds} rounds")
    for name, ts in times.items():
        st = steps[name]
        print(f"{name}: load median {statistics.median(ts):.3f} s (min {min(ts):.3f}, max "
              f"{max(ts):.3f}); the layer's owner/digest step median {statistics.median(st):.3f} s "
              f"(min {min(st):.3f}, max {max(st):.3f})")


if __name__ == "__main__":
    main()
