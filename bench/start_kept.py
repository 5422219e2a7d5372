#!/usr/bin/python3
"""What a start of a created container costs, two gantry binaries against the same container
(issue 74: the Engine API's create+start prepares once). `gantry create` is made once by the
second binary (AFTER, which keeps prepared.json); then `gantry start -a` of it (the command the
Engine API's start helper runs for `docker run`) is timed alternately with BEFORE (which prepares
the container again from its request.json: the image read, the spec built, the GPU step) and
AFTER (which runs what create kept). Wall time and CPU time (user+sys of gantry and what it
forked) per start: medians (min-max) of the rounds' medians. With --gpus, on the simulated
two-GPU NVIDIA host of tests/fixtures/gpuhost and its CUDA probe image, `--gpus all`; the
container runs `true`.

    bench/start_kept.py --before OLD_GANTRY [--after build/gantry] [--rounds 5] [--runs 10]
                        [--gpus]

A measurement, not a test: exits 0 whatever the figures.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "fixtures", "gpuhost"))
from fixtures import mkimage as mk  # noqa: E402


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default="build/gantry")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--gpus", action="store_true")
    a = ap.parse_args()
    bins = {"before": os.path.abspath(a.before), "after": os.path.abspath(a.after)}
    work = tempfile.mkdtemp(prefix="gantry-bench-start-", dir=os.environ.get("BENCH_DIR"))
    name = f"bench-start-{os.getpid()}"
    env = dict(os.environ)
    flags = []
    try:
        root = os.path.join(work, "store")
        archive = os.path.join(work, "image.tar")
        if a.gpus:
            import cuda_image as ci
            import gpuhost as gh
            host = gh.build_host(os.path.join(work, "host"), gh.preset(2))
            env["FAKE_DEVICE_ROOT"] = str(host.dev_root)
            mk.write_docker_archive(archive, [(ci.cuda_image(), ["bench/start:1"])])
            flags = ["--gpus", "all", "--driver-root", str(host.driver_root), "--dev-root",
                     str(host.dev_root)]
        else:
            mk.write_docker_archive(archive, [(mk.busybox_image(cmd=["true"]), ["bench/start:1"])])
        g = [bins["after"], "--root", root]
        subprocess.run([*g, "load", "-q", archive], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run([*g, "create", "--name", name, *flags, "bench/start:1", "true"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        wall = {k: [] for k in bins}
        cpu = {k: [] for k in bins}
        load0 = os.getloadavg()[0]
        for rnd in range(a.rounds):
            order = list(bins) if rnd % 2 == 0 else list(reversed(bins))
            for k in order:
                w, c = [], []
                for _ in range(a.runs):
                    c0, t0 = children_cpu(), time.monotonic()
                    r = subprocess.run([bins[k], "--root", root, "start", "-a", name], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    w.append(time.monotonic() - t0)
                    c.append(children_cpu() - c0)
                    if r.returncode != 0:
                        sys.exit(f"{k}: start failed: {r.stderr.decode().strip()}")
                wall[k].append(statistics.median(w))
                cpu[k].append(statistics.mean(c))  # a mean: CPU is counted in clock ticks

        def spread(xs):
            return (f"{statistics.median(xs) * 1000:.1f} ms ({min(xs) * 1000:.1f}-"
                    f"{max(xs) * 1000:.1f})")

        print(f"gantry start -a of a created container{' with --gpus all' if a.gpus else ''}; "
              f"{a.rounds} rounds x {a.runs} starts, alternated; load average {load0:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after; medians (min-max) of the rounds")
        for k in bins:
            print(f"  {k:7} {bins[k]}: wall {spread(wall[k])}, CPU {spread(cpu[k])}")
        ratio = [x / y for x, y in zip(cpu["after"], cpu["before"]) if y]
        if ratio:
            print(f"  CPU after / before: {statistics.median(ratio):.2f}x "
                  f"({min(ratio):.2f}-{max(ratio):.2f})")
    finally:
        subprocess.run([bins["after"], "--root", os.path.join(work, "store"), "rm", "-f", name],
                       capture_output=True, env=env)
        subprocess.run(["chmod", "-R", "u+rwX", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
