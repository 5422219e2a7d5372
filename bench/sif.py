#!/usr/bin/python3
"""Issue 53's benchmark: Apptainer's SIF files against gantry's .sqsh files and unpacked trees.

    /usr/bin/python3 bench/sif.py [--rounds N] [--start-rounds N] [--pull-rounds N]
                                  [--profile quick|full] [--read-image quick|full]
                                  [--skip start,read,pull]

Run as root (caches are dropped for the cold read: echo 3 > /proc/sys/vm/drop_caches). Three
measurements, each in alternated rounds (every variant once per round, in the same order), with
medians, min-max and the ratio the issue sets, all from this one run:

  start  `gantry run --rm FILE.sif /bin/true` against `gantry run --rm FILE.sqsh /bin/true` of
         the same root, warm (facts cached, pages in memory): the .sqsh is `gantry save --format
         squashfs` of a busybox image, the SIF that very squashfs wrapped by the reference's
         tool (`siftool new` + `siftool add`: the partition is byte for byte the .sqsh), so the
         difference is the SIF's header and descriptor table. Target: <= 1.1x.
  read   every file read once (busybox find + cat), caches dropped before each: `gantry run
         FILE.sif` (the partition of bench/sqsh.py's small image) against the same files
         unpacked on the host. Target: <= 1.3x (as for .sqsh).
  pull   `gantry pull REF --format sif -o F.sif` against `--format squashfs -o F.sqsh` of
         bench/make_big_image.py's image (PROFILE: full ~1 GB, quick ~100 MB) from a
         docker-registry on 127.0.0.1 (tests/fixtures/registry); each pull goes through its own
         temporary store, so every round downloads and flattens the whole image. Target:
         <= 1.2x.

Wall time and the children's CPU time (user+system). Prints a table and writes
$BENCH_DIR/results/sif-<time>.json. A measurement, not a test: exits 0 whatever the ratios."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import sqsh as sqbench  # noqa: E402  (bench/sqsh.py: the small image, timed(), drop_caches())
from fixtures.registry.harness import Registry  # noqa: E402

BENCH = sqbench.BENCH
GANTRY = sqbench.GANTRY


def wrap_in_sif(sqsh: Path, sif: Path):
    """SIF_PATH holding SQSH as its primary system partition, written by the reference's tool."""
    sif.unlink(missing_ok=True)
    subprocess.run(["siftool", "new", sif], check=True, capture_output=True)
    subprocess.run(["siftool", "add", sif, sqsh, "--datatype", "4", "--parttype", "2",
                    "--partfs", "1", "--partarch", "2"], check=True, capture_output=True)


def summary(rows):
    out = {}
    for key, vals in rows.items():
        walls = sorted(v[0] for v in vals)
        cpus = sorted(v[1] for v in vals)
        out[key] = {"wall": walls, "cpu": cpus, "wall_median": statistics.median(walls),
                    "cpu_median": statistics.median(cpus)}
        print(f"  {key:28} {statistics.median(walls) * 1000:9.1f}ms "
              f"{walls[0] * 1000:8.1f}-{walls[-1] * 1000:8.1f}ms  "
              f"cpu {statistics.median(cpus) * 1000:8.1f}ms")
    return out


def ratio(out, a, b, what, target):
    w = out[a]["wall_median"] / out[b]["wall_median"]
    c = out[a]["cpu_median"] / out[b]["cpu_median"]
    print(f"  {what}: wall {w:.2f}x, cpu {c:.2f}x (target <= {target}x)")
    return {"wall": w, "cpu": c, "target": target}


def alternate(cmds, rounds, cold=False, label=""):
    rows = {}
    for r in range(rounds):
        for var, (argv, env) in cmds.items():
            if cold:
                sqbench.drop_caches()
            rows.setdefault(var, []).append(sqbench.timed(argv, env))
        print(f"{label}: round {r + 1}/{rounds}", file=sys.stderr)
    return rows


def bench_start(work, gantry, env, rounds):
    mk = sqbench.mk
    archive = work / "bb.tar"
    mk.write_docker_archive(archive, [(mk.busybox_image(), ["bench/bb:1"])])
    subprocess.run([gantry, "load", "-q", archive], env=env, check=True, stdout=subprocess.DEVNULL)
    sq, sif = work / "bb.sqsh", work / "bb.sif"
    subprocess.run([gantry, "save", "bench/bb:1", "--format", "squashfs", "-o", sq], env=env,
                   check=True)
    wrap_in_sif(sq, sif)
    cmds = {"start warm sif": ([gantry, "run", "--rm", sif, "/bin/true"], env),
            "start warm sqsh": ([gantry, "run", "--rm", sq, "/bin/true"], env)}
    for argv, e in cmds.values():  # facts cached, pages in memory
        sqbench.timed(argv, e)
    print("\nstart (busybox; the SIF wraps the .sqsh byte for byte)")
    out = summary(alternate(cmds, rounds, label="start"))
    out["ratio"] = ratio(out, "start warm sif", "start warm sqsh", "sif / sqsh", 1.1)
    return out


def bench_read(work, gantry, env, rounds, quick):
    tree, archive = sqbench.build("small", quick)
    subprocess.run([gantry, "load", "-q", archive], env=env, check=True, stdout=subprocess.DEVNULL)
    sq, sif = work / "small.sqsh", work / "small.sif"
    subprocess.run([gantry, "save", "bench/small:1", "--format", "squashfs", "-o", sq], env=env,
                   check=True)
    wrap_in_sif(sq, sif)
    read = sqbench.READ
    cmds = {"read cold unpacked-tree": (["sh", "-c", read.replace("/data", str(tree / "data"))],
                                        env),
            "read cold sif": ([gantry, "run", "--rm", sif, "sh", "-c", read], env),
            "read cold sqsh": ([gantry, "run", "--rm", sq, "sh", "-c", read], env)}
    print(f"\nread, cold (bench/sqsh.py's small image{', quick' if quick else ''}: "
          f"{sq.stat().st_size >> 20} MiB squashfs)")
    out = summary(alternate(cmds, rounds, cold=True, label="read"))
    out["ratio"] = ratio(out, "read cold sif", "read cold unpacked-tree", "sif / tree", 1.3)
    out["ratio_sqsh"] = ratio(out, "read cold sqsh", "read cold unpacked-tree", "sqsh / tree",
                              1.3)
    return out


def bench_pull(work, gantry, env, rounds, profile):
    img = BENCH / f"image-{profile}"
    subprocess.run([sys.executable, HERE / "make_big_image.py", "--profile", profile, img],
                   check=True, stdout=subprocess.DEVNULL)
    reg = Registry(work / "registry").start()
    try:
        ref = f"{reg.addr}/bench/big:1"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                        f"oci-archive:{img / 'oci-archive.tar'}", f"docker://{ref}"],
                       check=True, capture_output=True, timeout=1800)
        sif, sq = work / "big.sif", work / "big.sqsh"
        flags = [gantry, "pull", "-q", "--tls-verify=false"]
        cmds = {"pull sif": (flags + ["--format", "sif", "-o", sif, ref], env),
                "pull squashfs": (flags + ["--format", "squashfs", "-o", sq, ref], env)}

        def clean():
            sif.unlink(missing_ok=True)
            sq.unlink(missing_ok=True)

        rows = {}
        for r in range(rounds):
            for var, (argv, e) in cmds.items():
                # -o replaces; a fresh file each time, as a first pull writes it
                (sif if var == "pull sif" else sq).unlink(missing_ok=True)
                rows.setdefault(var, []).append(sqbench.timed(argv, e))
            print(f"pull: round {r + 1}/{rounds}", file=sys.stderr)
        size = (img / "oci-archive.tar").stat().st_size >> 20
        print(f"\npull ({profile} image, {size} MiB compressed; "
              f"sif {sif.stat().st_size >> 20} MiB, squashfs {sq.stat().st_size >> 20} MiB)")
        clean()
        out = summary(rows)
        out["ratio"] = ratio(out, "pull sif", "pull squashfs", "sif / squashfs", 1.2)
        return out
    finally:
        reg.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--start-rounds", type=int, default=40)
    ap.add_argument("--pull-rounds", type=int, default=3)
    ap.add_argument("--profile", default="full", choices=["quick", "full"],
                    help="the pulled image's size (make_big_image.py)")
    ap.add_argument("--read-image", default="quick", choices=["quick", "full"],
                    help="bench/sqsh.py's small image: 6k files, ~100 MB (quick) or 60k, ~1 GB")
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: caches are dropped for the cold read")
    os.environ.setdefault("USER", "root")
    for tool in ("siftool", "skopeo", "docker-registry"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing")
    BENCH.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sif-run-", dir=BENCH))
    try:
        gantry = work / "gantry"
        shutil.copy2(GANTRY, gantry)  # a rebuild during the run does no harm
        env = dict(os.environ, GANTRY_ROOT=str(work / "store"))
        results = {"machine": os.uname().release, "cpus": os.cpu_count(),
                   "load_before": os.getloadavg()}
        skip = set(a.skip.split(",")) - {""}
        if "start" not in skip:
            results["start"] = bench_start(work, gantry, env, a.start_rounds)
        if "read" not in skip:
            results["read"] = bench_read(work, gantry, env, a.rounds, a.read_image == "quick")
        if "pull" not in skip:
            results["pull"] = bench_pull(work, gantry, env, a.pull_rounds, a.profile)
        results["load_after"] = os.getloadavg()
        print(f"\nload average before {results['load_before'][0]:.2f}, "
              f"after {results['load_after'][0]:.2f}")
        (BENCH / "results").mkdir(parents=True, exist_ok=True)
        dest = BENCH / "results" / time.strftime("sif-%Y%m%d-%H%M%S.json")
        dest.write_text(json.dumps(results, indent=1))
        print(f"results: {dest}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
