#!/usr/bin/python3
"""What the disk and the CPUs do while a command runs: every 250 ms, the MiB read and written by
DEVICE (/sys/block/DEVICE/stat) and how busy all CPUs were (/proc/stat). A durable `gantry load`
on this project's VM showed whole quarter-seconds with both idle, after each large write burst:
the extraction waiting on the disk's flush (issue 56, docs/storage.md).

    sudo bench/io_timeline.py [--device vda] [--drop] COMMAND [ARG...]

--drop: sync and drop the page cache first (root)."""
import argparse
import subprocess
import sys
import time


def disk(device):
    f = open(f"/sys/block/{device}/stat").read().split()
    return int(f[2]), int(f[6])  # sectors read, written (512 bytes each)


def cpu():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v[:3]) + v[5] + v[6], v[3] + v[4]  # busy, idle + iowait


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="vda")
    ap.add_argument("--drop", action="store_true")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if not a.command:
        ap.error("a command to run")
    if a.drop:
        subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
    r0, w0 = disk(a.device)
    b0, i0 = cpu()
    t0 = time.monotonic()
    p = subprocess.Popen(a.command, stdout=subprocess.DEVNULL)
    print("    s  read MiB  written MiB  CPUs busy")
    while p.poll() is None:
        time.sleep(0.25)
        r, w = disk(a.device)
        b, i = cpu()
        busy = (b - b0) / max(1, b - b0 + i - i0)
        print(f"{time.monotonic() - t0:5.2f}  {(r - r0) / 2048:8.1f}  {(w - w0) / 2048:11.1f}  {busy:8.0%}")
        r0, w0, b0, i0 = r, w, b, i
    print(f"exit status {p.returncode}, {time.monotonic() - t0:.2f} s")
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
