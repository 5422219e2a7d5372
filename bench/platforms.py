#!/usr/bin/python3
"""Issue 80's figure: `build --platform linux/amd64,linux/arm64` of one Dockerfile by gantry and
by podman 4.3 (`--manifest`), in alternated rounds.

    /usr/bin/python3 bench/platforms.py [--rounds N] [--load]

Run as root. The base is a two-platform busybox index in a local docker-registry (this host's
busybox-static for amd64, Debian's arm64 busybox-static for arm64: tests/fixtures/
arm64_busybox.py); the Dockerfile is the e2e test's (tests/e2e/test_platform_index.py): FROM
that index, the predefined TARGET*/BUILD* args, one RUN step writing `uname -m` and the args,
which runs natively for amd64 and under qemu-aarch64 (registered with binfmt_misc for the run
when it is not, under the e2e tests' lock) for arm64. Both tools pull the base once (a warm-up
build, not measured), then every round builds both platforms with --no-cache: gantry `-t
bench:both` (checked: the tag holds two images), podman `--manifest` (overlay driver, runtime
runc, its own store under $BENCH_DIR). Wall time and the children's CPU time (user + system of
the tool's process tree as far as it waits for it: podman's conmon is not used by a build);
medians and min-max. --load runs two busy loops (one per core) during every command. Prints a
table and writes $BENCH_DIR/results/platforms-<time>.json. A measurement, not a test: exits 0
whatever the ratios (non-zero only when a command fails)."""
import argparse
import contextlib
import fcntl
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
from fixtures import mkimage as mk  # noqa: E402
from fixtures import arm64_busybox as arm64_deb  # noqa: E402
from fixtures.arm64_busybox import arm64_busybox, arm64_busybox_image  # noqa: E402
from fixtures.registry.harness import Registry, skopeo_push_all  # noqa: E402

BENCH = Path(os.environ.get("BENCH_DIR", "/var/tmp/gantry-bench"))
GANTRY = Path(os.environ.get("GANTRY", HERE.parent / "build" / "gantry")).resolve()
WORK = BENCH / "platforms"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
DOCKERFILE = """\
FROM {base}
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDARCH
RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] \
$BUILDPLATFORM $BUILDARCH" > /args
"""


def timed(cmd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@contextlib.contextmanager
def qemu_aarch64():
    """qemu-aarch64 registered for the block (as the e2e tests' fixture registers it)."""
    lock = open("/tmp/gantry-e2e-binfmt.lock", "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    mine = not (BINFMT / "qemu-aarch64").exists()
    if mine:
        (BINFMT / "register").write_text(
            Path("/usr/lib/binfmt.d/qemu-aarch64.conf").read_text().strip())
    fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        yield
    finally:
        if mine:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                (BINFMT / "qemu-aarch64").write_text("-1")
        lock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--load", action="store_true")
    args = ap.parse_args()
    busybox = arm64_busybox()
    if busybox is None:
        sys.exit(f"bench/platforms.py: no arm64 busybox: {arm64_deb.REASON}")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    reg = Registry(WORK / "reg").start()
    pod = ["podman", "--root", str(WORK / "pod-root"), "--runroot", "/run/gantry-bench-plat",
           "--storage-driver", "overlay", "--runtime", "runc"]
    conf = WORK / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    penv = dict(os.environ, CONTAINERS_CONF=str(conf))
    genv = dict(os.environ, GANTRY_ROOT=str(WORK / "gantry-store"))
    hogs = []
    try:
        base = f"{reg.addr}/base/busybox:multi"
        layout = WORK / "base-layout"
        mk.write_oci_layout(layout, [(mk.Index([mk.busybox_image(),
                                                arm64_busybox_image(mk, busybox)]), ["latest"])])
        skopeo_push_all(layout, base)
        ctx = WORK / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        both = ["--platform", "linux/amd64,linux/arm64"]
        tools = {
            "gantry": ([str(GANTRY), "build", "-q", "--tls-verify=false", *both, "-t",
                        "bench:both", str(ctx)], genv),
            "podman": (pod + ["build", "-q", "--tls-verify=false", "--network", "host", *both,
                              "--manifest", "localhost/bench:both", str(ctx)], penv),
        }
        with qemu_aarch64():
            for cmd, env in tools.values():  # the base pulled once by each, not measured
                timed(cmd, env)
            if args.load:
                hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
            results = {t: [] for t in tools}
            load_before = os.getloadavg()
            for _ in range(args.rounds):
                for name, (cmd, env) in tools.items():
                    if name == "podman":  # a fresh list each round (--manifest adds to one)
                        subprocess.run(pod + ["manifest", "rm", "localhost/bench:both"],
                                       capture_output=True, env=penv)
                    at = cmd.index("build") + 1
                    results[name].append(timed(cmd[:at] + ["--no-cache"] + cmd[at:], env))
            load_after = os.getloadavg()
        listed = subprocess.run([str(GANTRY), "images", "--json"], capture_output=True,
                                text=True, env=genv, check=True).stdout
        held = sorted(i["platform"] for i in json.loads(listed)
                      if i["reference"] == "docker.io/library/bench:both")
        if held != ["linux/amd64", "linux/arm64/v8"]:  # arm64: its base's variant
            sys.exit(f"bench/platforms.py: gantry's bench:both holds {held}")
    finally:
        for h in hogs:
            h.kill()
        subprocess.run(pod + ["system", "reset", "-f"], capture_output=True, env=penv)
        reg.stop()
    print(f"build --platform linux/amd64,linux/arm64 --no-cache, {args.rounds} alternated rounds"
          f"{' under load (2 busy loops)' if args.load else ''}; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")
    summary = {}
    for name, runs in results.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        summary[name] = {"wall_median": statistics.median(walls), "wall_min": min(walls),
                         "wall_max": max(walls), "cpu_median": statistics.median(cpus),
                         "cpu_min": min(cpus), "cpu_max": max(cpus)}
        s = summary[name]
        print(f"  {name:7s} wall {s['wall_median']:6.3f} s [{s['wall_min']:.3f}-"
              f"{s['wall_max']:.3f}]  cpu {s['cpu_median']:6.3f} s [{s['cpu_min']:.3f}-"
              f"{s['cpu_max']:.3f}]")
    ratio = summary["podman"]["wall_median"] / summary["gantry"]["wall_median"]
    print(f"  podman/gantry wall {ratio:.2f}x")
    out = BENCH / "results"
    out.mkdir(parents=True, exist_ok=True)
    f = out / f"platforms-{time.strftime('%Y%m%d-%H%M%S')}.json"
    f.write_text(json.dumps({"rounds": args.rounds, "load": args.load, "results": summary,
                             "raw": results, "loadavg": [load_before, load_after]}, indent=1))
    print(f"wrote {f}")


if __name__ == "__main__":
    main()
