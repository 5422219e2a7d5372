#!/usr/bin/python3
"""Issue 26's benchmark: `gantry build` against `podman build` of the same Dockerfile and context.

    /usr/bin/python3 bench/build.py [--rounds N] [--load]

Run as root. The project (built under $BENCH_DIR/build): FROM the Debian 12 base of the tests
(tests/fixtures/debian_base.py, debootstrap'd once), a dependency step that writes ~8,200 files
(90 MB cut from cc1plus, as a pip or apt step would), a COPY of the sources and a g++ compile of them. In
alternated rounds (gantry, then podman, each round) it measures:

  cold       --no-cache: every step runs
  rebuild    after changing one source file: the COPY and the compile run again
  no-change  nothing changed: every step is a cache hit

Wall time and the children's CPU time (user+system: gantry's or podman's whole process tree);
medians and min-max. --load runs two busy loops (one per core) during every command. podman:
overlay storage in $BENCH_DIR, runtime runc (crun 1.8 refuses this VM's hybrid cgroups), host
network. Prints a table and writes $BENCH_DIR/results/build-<time>.json. A measurement, not a
test: exits 0 whatever the ratios (non-zero only when a command fails)."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from fixtures import debian_base as deb  # noqa: E402

BENCH = Path(os.environ.get("BENCH_DIR", "/var/tmp/gantry-bench"))
GANTRY = Path(os.environ.get("GANTRY", HERE.parent / "build" / "gantry")).resolve()
WORK = BENCH / "build"

DOCKERFILE = """\
FROM debian-base:bookworm
ENV APP=/opt/app
RUN mkdir -p /opt/deps && cd /opt/deps && cc1=/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus \\
    && cat $cc1 $cc1 $cc1 | head -c 90000000 | split -b 11000 -a 4 - dep-
WORKDIR $APP
COPY src/ src/
RUN g++ -O1 -o app src/*.cpp
CMD ["/opt/app/app"]
"""

SOURCE = """\
#include <cstdio>
int helper_%d(int x) { return x * %d; }
"""

MAIN = """\
#include <cstdio>
int main() { std::printf("app %s\\n"); return 0; }
"""


def timed(cmd, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def setup():
    ctx = WORK / "ctx"
    (ctx / "src").mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for i in range(4):
        (ctx / "src" / f"helper{i}.cpp").write_text(SOURCE % (i, i + 1))
    (ctx / "src" / "main.cpp").write_text(MAIN % "v0")
    archive = deb.debian_archive()
    genv = dict(os.environ, GANTRY_ROOT=str(WORK / "gantry-store"))
    subprocess.run([GANTRY, "load", archive], check=True, capture_output=True, env=genv)
    conf = WORK / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    penv = dict(os.environ, CONTAINERS_CONF=str(conf))
    pod = ["podman", "--root", str(WORK / "pod-root"), "--runroot", "/run/gantry-bench-pod",
           "--storage-driver", "overlay", "--runtime", "runc"]
    subprocess.run(pod + ["load", "-i", archive], check=True, capture_output=True, env=penv)
    gantry = lambda *a: ([str(GANTRY), "build", "-q", *a, "-t", "bench:app", str(ctx)], genv)
    podman = lambda *a: (pod + ["build", "-q", "--network", "host", *a, "-t", "bench:app",
                                str(ctx)], penv)
    return ctx, {"gantry": gantry, "podman": podman}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--load", action="store_true")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    ctx, tools = setup()
    hogs = []
    if args.load:
        hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
    results = {t: {k: [] for k in ("cold", "rebuild", "no-change")} for t in tools}
    try:
        for name, make in tools.items():  # warm both caches once
            subprocess.run(make()[0], check=True, capture_output=True, env=make()[1])
        for r in range(args.rounds):
            for name, make in tools.items():
                cmd, env = make("--no-cache")
                results[name]["cold"].append(timed(cmd, env))
                (ctx / "src" / "main.cpp").write_text(MAIN % f"{name}-{r}-{time.time_ns()}")  # never seen
                cmd, env = make()
                results[name]["rebuild"].append(timed(cmd, env))
                results[name]["no-change"].append(timed(cmd, env))
    finally:
        for h in hogs:
            h.kill()
    print(f"gantry build vs podman build, {args.rounds} alternated rounds"
          f"{' under load (2 busy loops)' if args.load else ''}: median wall [min-max], CPU")
    summary = {}
    for case in ("cold", "rebuild", "no-change"):
        row = {}
        for name in tools:
            walls = [w for w, _ in results[name][case]]
            cpus = [c for _, c in results[name][case]]
            row[name] = {"wall_median": statistics.median(walls), "wall_min": min(walls),
                         "wall_max": max(walls), "cpu_median": statistics.median(cpus)}
        g, p = row["gantry"], row["podman"]
        row["podman_over_gantry"] = p["wall_median"] / g["wall_median"]
        summary[case] = row
        print(f"  {case:10s} gantry {g['wall_median']:7.3f}s [{g['wall_min']:.3f}-"
              f"{g['wall_max']:.3f}] cpu {g['cpu_median']:6.3f}s | podman "
              f"{p['wall_median']:7.3f}s [{p['wall_min']:.3f}-{p['wall_max']:.3f}] cpu "
              f"{p['cpu_median']:6.3f}s | podman/gantry {row['podman_over_gantry']:.2f}x")
    out = BENCH / "results"
    out.mkdir(parents=True, exist_ok=True)
    f = out / f"build-{time.strftime('%Y%m%d-%H%M%S')}.json"
    f.write_text(json.dumps({"rounds": args.rounds, "load": args.load, "results": summary,
                             "raw": results}, indent=1))
    print(f"wrote {f}")


if __name__ == "__main__":
    main()
