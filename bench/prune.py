#!/usr/bin/python3
"""`gantry system prune` on a store of 20 images and 200 layers (issue 56: <= 2 s).

Builds the store cheaply: one docker archive of 20 images with 10 small synthetic layers each
(200 distinct layers, 20 files per layer), loaded once per round into a fresh store. Then, per
round: a prune with nothing to remove (the scan: references, manifests, configs, meta.json), and
a prune after half the images lost their names behind gantry's back (refs.json edited, as a
crash between an untag and its collection leaves it): 10 images, 100 layer trees and their blobs
removed. Prints each round and the medians. A measurement, not a test: exits 0 whatever the
figures (non-zero only when a command fails).

    bench/prune.py [--rounds 5] [--gantry build/gantry]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from fixtures import mkimage as mk  # noqa: E402

IMAGES, LAYERS, FILES = 20, 10, 20


def make_archive(path):
    items = []
    for i in range(IMAGES):
        layers = []
        for j in range(LAYERS):
            files = {f"img{i}/layer{j}/f{k}": (f"{i} {j} {k}\n" * 50).encode()
                     for k in range(FILES)}
            layers.append(mk.Layer.from_files(files, compression="gzip"))
        items.append((mk.Image(layers=layers), [f"bench/prune{i}:latest"]))
    mk.write_docker_archive(path, items)


def gantry(binary, root, *args):
    t = time.monotonic()
    r = subprocess.run([binary, "--root", root, *args], capture_output=True, text=True)
    dt = time.monotonic() - t
    if r.returncode != 0:
        sys.exit(f"gantry {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return dt, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gantry", default="build/gantry")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gantry-bench-prune-", dir=os.environ.get("BENCH_DIR"))
    try:
        archive = os.path.join(work, "images.tar")
        make_archive(archive)
        scan, half = [], []
        for rnd in range(a.rounds):
            root = os.path.join(work, f"store{rnd}")
            gantry(a.gantry, root, "load", "-q", archive)
            dt0, _ = gantry(a.gantry, root, "system", "prune")
            refs_path = os.path.join(root, "refs.json")
            doc = json.load(open(refs_path))
            for i in range(IMAGES // 2):
                del doc["refs"][f"docker.io/bench/prune{i}:latest"]
            json.dump(doc, open(refs_path, "w"))
            dt1, out = gantry(a.gantry, root, "system", "prune")
            layers = sum(1 for l in out.splitlines() if l.startswith("deleted: "))
            print(f"round {rnd + 1}: prune, nothing to remove {dt0:.3f} s; "
                  f"prune of {IMAGES // 2} images ({layers} blobs and trees) {dt1:.3f} s",
                  flush=True)
            scan.append(dt0)
            half.append(dt1)
            shutil.rmtree(root)
        load = os.getloadavg()[0]
        print(f"store: {IMAGES} images, {IMAGES * LAYERS} layers; load average {load:.1f}")
        print(f"median prune, nothing to remove: {statistics.median(scan):.3f} s "
              f"({min(scan):.3f}-{max(scan):.3f})")
        print(f"median prune of half the store:  {statistics.median(half):.3f} s "
              f"({min(half):.3f}-{max(half):.3f}); target <= 2 s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
