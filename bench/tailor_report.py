#!/usr/bin/python3
"""Prints bench/tailor.sh's results (its work directory as the argument): medians and spread of
the timings, sizes per result, analyze's prediction against the measured saving."""
import json
import statistics
import sys
from pathlib import Path

work = Path(sys.argv[1])
times = {}
for line in (work / "times").read_text().split("\n"):
    if line.strip():
        name, wall, cpu = line.split()
        times.setdefault(name, []).append((float(wall), float(cpu)))
du = {}
for line in (work / "du").read_text().split("\n"):
    if line.strip():
        name, apparent, allocated = line.split()
        du[name] = (int(apparent), int(allocated))


def med(name, i):
    v = [t[i] for t in times[name]]
    return statistics.median(v), min(v), max(v)


def fmt(name):
    w, wl, wh = med(name, 0)
    c, _, _ = med(name, 1)
    return f"{w:6.2f} s [{wl:.2f}-{wh:.2f}] cpu {c:6.2f} s"


print((work / "log").read_text().strip())
print(f"rounds: {len(times['read'])} (alternated: read, squash, sm_80, sm_90, sm_90 --no-ptx)")
read = med("read", 0)[0]
print(f"read the image once (analyze):        {fmt('read')}")
print(f"squash only (slim --remove none):     {fmt('squash')}")
squash = json.loads((work / "squash.json").read_text())
base_c = squash["compressed"]["after"]
print(f"\n{'result':14} {'compressed':>14} {'saving':>14} {'predicted':>14} {'err':>6} "
      f"{'apparent':>14} {'allocated':>14} {'zeroed':>14}  time")
a, al = du["squash"]
print(f"{'squash':14} {base_c:14,} {'':>14} {'':>14} {'':>6} {a:14,} {al:14,} {'':>14}  "
      f"{fmt('squash')}")
ok = True
for kind in ("sm_80", "sm_90", "sm_90_noptx"):
    r = json.loads((work / f"{kind}.json").read_text())
    p = json.loads((work / f"predict-{kind}.json").read_text())["tailor"]
    c = r["compressed"]["after"]
    saving = base_c - c
    pred = p["predicted_compressed_saving"]
    err = (pred - saving) / saving * 100 if saving else float("nan")
    ok &= abs(err) <= 5
    a, al = du[kind]
    print(f"{kind:14} {c:14,} {saving:14,} {pred:14,} {err:5.1f}% {a:14,} {al:14,} "
          f"{r['tailor']['totals']['zeroed_bytes']:14,}  {fmt(kind)}")
    extra = med(kind, 0)[0] - med("squash", 0)[0]
    print(f"{'':14} tailoring's own time {extra:.2f} s = {extra / read:.2f}x one read "
          f"({'PASS' if extra / read <= 1.5 else 'MISS'} <= 1.5x); prediction "
          f"{'PASS' if abs(err) <= 5 else 'MISS'} (within 5%); files changed "
          f"{r['tailor']['totals']['changed']}, refused {r['tailor']['totals']['refused']}")
print(f"\nbefore: {squash['compressed']['before']:,} compressed bytes in the original layer")
