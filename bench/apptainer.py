#!/usr/bin/python3
"""Issue 77's benchmark: `gantry apptainer exec x.sif true` beside `gantry run --rm x.sif true`,
and `gantry apptainer exec DIR true` of the same image as a sandbox directory.

    /usr/bin/python3 bench/apptainer.py [--rounds N]

The SIF is bench/sif.py's: a busybox image saved as a squashfs by gantry and wrapped by the
reference's tool (siftool new + add). Warm (facts cached, pages in memory: one untimed start
of each first), alternated rounds (both variants once per round, in the same order), medians and
min-max of the wall time and of the children's CPU time (user+system). `gantry apptainer` does
more than `gantry run` by design: it binds /dev, /tmp, /var/tmp, $HOME, the working directory
and /etc/localtime, passes the environment in, joins the host's PID, IPC and UTS namespaces
(fewer to make) and keeps the root read-only. The sandbox (`apptainer build --sandbox DIR
x.sif`) is the overlay's lower directory instead of a mounted squashfs. Prints a table and writes
$BENCH_DIR/results/apptainer-<time>.json. A measurement, not a test: exits 0 whatever the
ratio."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sif as sifbench  # noqa: E402  (bench/sif.py: wrap_in_sif, summary, ratio, alternate)
import sqsh as sqbench  # noqa: E402  (bench/sqsh.py: mk, timed, BENCH, GANTRY)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    a = ap.parse_args()
    if not shutil.which("siftool"):
        raise SystemExit("siftool is missing")
    os.environ.setdefault("USER", "root")
    sqbench.BENCH.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="apptainer-run-", dir=sqbench.BENCH))
    try:
        gantry = work / "gantry"
        shutil.copy2(sqbench.GANTRY, gantry)  # a rebuild during the run does no harm
        env = dict(os.environ, GANTRY_ROOT=str(work / "store"))
        archive = work / "bb.tar"
        sqbench.mk.write_docker_archive(archive, [(sqbench.mk.busybox_image(), ["bench/bb:1"])])
        subprocess.run([gantry, "load", "-q", archive], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        sq, sif = work / "bb.sqsh", work / "bb.sif"
        subprocess.run([gantry, "save", "bench/bb:1", "--format", "squashfs", "-o", sq], env=env,
                       check=True)
        sifbench.wrap_in_sif(sq, sif)
        sandbox = work / "sb"
        subprocess.run([gantry, "apptainer", "build", "--sandbox", sandbox, sif], env=env,
                       check=True, stderr=subprocess.DEVNULL)
        cmds = {"apptainer exec": ([gantry, "apptainer", "exec", sif, "/bin/true"], env),
                "run --rm": ([gantry, "run", "--rm", sif, "/bin/true"], env),
                "apptainer exec DIR": ([gantry, "apptainer", "exec", sandbox, "/bin/true"], env)}
        for argv, e in cmds.values():  # warm: facts cached, pages in memory
            sqbench.timed(argv, e)
        results = {"machine": os.uname().release, "cpus": os.cpu_count(),
                   "load_before": os.getloadavg(), "uid": os.geteuid()}
        print(f"\nstart, warm, {a.rounds} rounds (busybox SIF)")
        out = sifbench.summary(sifbench.alternate(cmds, a.rounds, label="start"))
        w = out["apptainer exec"]["wall_median"] / out["run --rm"]["wall_median"]
        c = out["apptainer exec"]["cpu_median"] / out["run --rm"]["cpu_median"]
        print(f"  apptainer exec / run: wall {w:.2f}x, cpu {c:.2f}x (the issue sets no target)")
        sw = out["apptainer exec DIR"]["wall_median"] / out["apptainer exec"]["wall_median"]
        sc = out["apptainer exec DIR"]["cpu_median"] / out["apptainer exec"]["cpu_median"]
        print(f"  apptainer exec DIR / apptainer exec SIF: wall {sw:.2f}x, cpu {sc:.2f}x")
        out["ratio"] = {"wall": w, "cpu": c, "sandbox_wall": sw, "sandbox_cpu": sc}
        results["start"] = out
        results["load_after"] = os.getloadavg()
        print(f"\nload average before {results['load_before'][0]:.2f}, "
              f"after {results['load_after'][0]:.2f}")
        (sqbench.BENCH / "results").mkdir(parents=True, exist_ok=True)
        dest = sqbench.BENCH / "results" / f"apptainer-{int(time.time())}.json"
        dest.write_text(json.dumps(results, indent=2))
        print(f"results: {dest}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
