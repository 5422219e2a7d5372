#!/usr/bin/python3
"""One measurement of bench/lazy.sh: runs COMMAND (a shell line), and prints one JSON line:
the seconds to the first output line that contains MARK (the workload's "ready"), the total
seconds, the CPU seconds (user + system) of every process it ran and waited for, and the bytes
the host side of the registry's veth received meanwhile.

    bench/lazy_measure.py LABEL MARK VETH COMMAND
"""
import json
import resource
import subprocess
import sys
import time


def rx_bytes(dev):
    with open(f"/sys/class/net/{dev}/statistics/rx_bytes") as f:
        return int(f.read())


def main():
    label, mark, dev, command = sys.argv[1:5]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rx0 = rx_bytes(dev)
    t0 = time.monotonic()
    first = None
    p = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        if first is None and mark in line:
            first = time.monotonic() - t0
    rc = p.wait()
    total = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"label": label, "rc": rc, "first": first, "total": total, "cpu": cpu,
                      "rx": rx_bytes(dev) - rx0}), flush=True)
    return 0 if rc == 0 and first is not None else 1


if __name__ == "__main__":
    sys.exit(main())
