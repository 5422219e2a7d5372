#!/usr/bin/python3
"""Issue 24's benchmark: single-file squashfs images against the store's unpacked layers.

    /usr/bin/python3 bench/sqsh.py [--quick] [--rounds N] [--images small,cuda] [--no-drop]

Run as root (caches are dropped between runs: echo 3 > /proc/sys/vm/drop_caches). For each
image (built once under $BENCH_DIR/sqsh, deterministic):

  small  ~60k files, ~1 GB (--quick: 6k files, ~100 MB): text-like content cut from
         /usr/include and /usr/share at seeded offsets, log-normal sizes; busybox for the tools
  cuda   the CUDA toolkit's libraries (/usr/local/cuda/lib64, up to 1.5 GB; skipped if absent)

it measures, in alternated rounds (each round runs every variant once, in the same order), with
caches dropped before each timed command (cold) and again without dropping (warm):

  start   `gantry run --rm IMG /bin/true`: store image; .sqsh with the kernel's squashfs (root's
          path); .sqsh over gantry's FUSE (GANTRY_SQSH_FUSE=1); `ch-run FILE.sqsh -- /bin/true`
  read    every file read once (busybox find + cat): the unpacked tree on the host; the store
          image; the .sqsh (kernel, FUSE); ch-run; squashfuse_ll mounted by hand
  save    `gantry save --format squashfs` against `mksquashfs` of the unpacked tree (same zstd
          level and block size)

Wall time and the children's CPU time (user+system) per command; medians and min-max over the
rounds. Prints a table and writes $BENCH_DIR/results/sqsh-<time>.json. A measurement, not a
test: exits 0 whatever the ratios (non-zero only when a command fails)."""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import mkimage as mk  # noqa: E402

BENCH = Path(os.environ.get("BENCH_DIR", "/var/tmp/gantry-bench"))
GANTRY = Path(os.environ.get("GANTRY", HERE.parent / "build" / "gantry")).resolve()
READ = "find /data -type f -exec cat {} + > /dev/null"


def corpus():
    """~4 MB of text from this machine's headers and docs, the source of every small file."""
    parts, size = [], 0
    for root in ("/usr/include", "/usr/share/doc", "/usr/lib/python3"):
        for dirpath, _, files in sorted(os.walk(root)):
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                if os.path.islink(p) or not f.endswith((".h", ".py", ".txt", "copyright")):
                    continue
                try:
                    b = open(p, "rb").read(65536)
                except OSError:
                    continue
                parts.append(b)
                size += len(b)
                if size > 4 << 20:
                    return b"".join(parts)
    return b"".join(parts)


def make_small_tree(tree, files):
    rng = random.Random(24)
    text = corpus()
    for i in range(files):
        d = tree / "data" / f"d{i // 500:03d}" / f"e{(i // 50) % 10}"
        d.mkdir(parents=True, exist_ok=True)
        n = min(int(rng.lognormvariate(9.2, 1.0)), 1 << 20)  # median ~10 KB, mean ~16 KB
        off = rng.randrange(0, max(1, len(text) - n))
        (d / f"f{i}.txt").write_bytes(text[off:off + n])


def make_cuda_tree(tree, cap=1536 << 20):
    src = Path("/usr/local/cuda/lib64")
    dst = tree / "data"
    dst.mkdir(parents=True)
    total = 0
    for p in sorted(src.iterdir()):
        if p.is_symlink() or not p.is_file():
            continue
        if total + p.stat().st_size > cap:
            continue
        shutil.copy2(p, dst / p.name)
        total += p.stat().st_size


def build(name, quick):
    """(tree dir, docker archive) of the image, built once."""
    d = BENCH / "sqsh" / (name + ("-quick" if quick else ""))
    tree, archive = d / "tree", d / "image.tar"
    if archive.exists():
        return tree, archive
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    if name == "small":
        make_small_tree(tree, 6000 if quick else 60000)
    else:
        make_cuda_tree(tree, (150 << 20) if quick else (1536 << 20))
    layer_tar = d / "layer.tar"
    subprocess.run(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                    "-C", tree, "-cf", layer_tar, "data"], check=True)
    layer = mk.Layer.raw(layer_tar.read_bytes(), compression="gzip")
    layer_tar.unlink()
    img = mk.busybox_image(extra_layers=[layer])
    mk.write_docker_archive(archive, [(img, [f"bench/{name}:1"])])
    # the tree the host-side baselines read: busybox beside it, as in the image
    return tree, archive


def drop_caches():
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed(argv, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(map(str, argv))}\n{p.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


class Fuse:
    """squashfuse_ll mounted by hand on a directory, for the host-side read."""

    def __init__(self, sqsh):
        self.dir = Path(tempfile.mkdtemp(prefix="sqfuse-", dir=BENCH))
        subprocess.run(["squashfuse_ll", str(sqsh), str(self.dir)], check=True)

    def close(self):
        subprocess.run(["fusermount3", "-u", str(self.dir)], check=False)
        self.dir.rmdir()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--images", default="small,cuda")
    ap.add_argument("--no-drop", action="store_true", help="skip the cold (caches dropped) runs")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: caches are dropped and root's kernel path is measured")
    os.environ.setdefault("USER", "root")
    work = BENCH / "sqsh" / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    gantry = work / "gantry"
    shutil.copy2(GANTRY, gantry)  # a rebuild during the run does no harm
    env = dict(os.environ, GANTRY_ROOT=str(work / "store"))
    fuse_env = dict(env, GANTRY_SQSH_FUSE="1")
    results = {"machine": os.uname().release, "cpus": os.cpu_count(),
               "load": os.getloadavg(), "images": {}}
    for name in a.images.split(","):
        if name == "cuda" and not Path("/usr/local/cuda/lib64").is_dir():
            print("cuda: /usr/local/cuda/lib64 is missing: skipped")
            continue
        tree, archive = build(name, a.quick)
        subprocess.run([gantry, "load", "-q", archive], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        ref = f"bench/{name}:1"
        sq = work / f"{name}.sqsh"
        msq = work / f"{name}.mksquashfs.sqsh"
        cmds = {
            "start": {
                "store": ([gantry, "run", "--rm", ref, "/bin/true"], env),
                "sqsh-kernel": ([gantry, "run", "--rm", sq, "/bin/true"], env),
                "sqsh-fuse": ([gantry, "run", "--rm", sq, "/bin/true"], fuse_env),
                "ch-run": (["ch-run", sq, "--", "/bin/true"], env),
            },
            "read": {
                "unpacked-tree": (["sh", "-c", READ.replace("/data", str(tree / "data"))], env),
                "store": ([gantry, "run", "--rm", ref, "sh", "-c", READ], env),
                "sqsh-kernel": ([gantry, "run", "--rm", sq, "sh", "-c", READ], env),
                "sqsh-fuse": ([gantry, "run", "--rm", sq, "sh", "-c", READ], fuse_env),
                "ch-run": (["ch-run", sq, "--", "sh", "-c", READ], env),
                "squashfuse_ll": None,  # mounted per run below
            },
            "save": {
                "gantry-save": ([gantry, "save", ref, "--format", "squashfs", "-o", sq], env),
                "mksquashfs": (["mksquashfs", tree, msq, "-comp", "zstd", "-Xcompression-level",
                                "3", "-b", "131072", "-noappend", "-quiet", "-no-progress"], env),
            },
        }
        timed(*cmds["save"]["gantry-save"])  # the file the other measurements read
        rows = {}
        modes = ["warm"] if a.no_drop else ["cold", "warm"]
        for r in range(a.rounds):
            for kind in ("save", "start", "read"):
                for mode in modes if kind != "save" else ["warm"]:
                    for var, c in cmds[kind].items():
                        if mode == "cold":
                            drop_caches()
                        if var == "squashfuse_ll":
                            f = Fuse(sq)
                            try:
                                w = timed(["sh", "-c", READ.replace("/data", str(f.dir / "data"))])
                            finally:
                                f.close()
                        else:
                            w = timed(*c)
                        rows.setdefault((kind, mode, var), []).append(w)
            print(f"{name}: round {r + 1}/{a.rounds} done", file=sys.stderr)
        out = {}
        print(f"\n{name} ({archive.stat().st_size >> 20} MiB archive, "
              f"{sq.stat().st_size >> 20} MiB squashfs); load {os.getloadavg()[0]:.2f}")
        print(f"{'what':34} {'median':>9} {'min-max':>17} {'cpu':>8}")
        for (kind, mode, var), vals in rows.items():
            walls = sorted(v[0] for v in vals)
            cpus = [v[1] for v in vals]
            key = f"{kind} {mode} {var}"
            out[key] = {"wall": walls, "cpu": cpus}
            print(f"{key:34} {statistics.median(walls) * 1000:8.1f}ms "
                  f"{walls[0] * 1000:7.1f}-{walls[-1] * 1000:7.1f}ms "
                  f"{statistics.median(cpus) * 1000:7.1f}ms")
        results["images"][name] = out
    (BENCH / "results").mkdir(parents=True, exist_ok=True)
    dest = BENCH / "results" / time.strftime("sqsh-%Y%m%d-%H%M%S.json")
    dest.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {dest}")


if __name__ == "__main__":
    main()
