#!/usr/bin/env bash
# AMD GPU injection cost (issue 22): start-to-exit of /bin/true with --gpus all on the simulated
# 8x MI300X host (tests/fixtures/amdhost) against the same run without GPUs, next to
# bench/gpu.sh's NVIDIA figure. One process alternates the two commands round by round (so drift
# and load hit both alike) and reports per command the median and the spread (p10-p90, IQR) of
# the wall time and of the CPU time (user+sys of gantry and all its children, from wait4).
# Target: the injection adds at most NVIDIA's figure, about 3 ms.
#   bench/amd_gpu.sh [--runs N]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=60
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    *) echo "bench/amd_gpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
# The store goes on tmpfs (as bench/gpu.sh): ext4 with discard makes a container layer's creation
# and removal noisy here (BENCH_DIR changes it).
work=$(mktemp -d "${BENCH_DIR:-/dev/shm}/gantry-amdbench-XXXXXX")
trap 'rm -rf "$work"' EXIT
G="$work/gantry"
cp "$here/build/gantry" "$G"
export GANTRY_ROOT="$work/store"
devices=files
[ "$(id -u)" = 0 ] && devices=nodes
/usr/bin/python3 "$here/tests/fixtures/amdhost/amdhost.py" build --shape mi300x --devices "$devices" "$work/host" >/dev/null
/usr/bin/python3 "$here/tests/fixtures/amdhost/amd_image.py" --tag probe:1 "$work/probe.tar"
"$G" load "$work/probe.tar" >/dev/null 2>&1
flags=(--sys-root "$work/host/sys" --dev-root "$work/host/dev")
echo "store on $(df --output=fstype "$work" | tail -1) ($work); simulated host: 8x MI300X ($devices); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$G" run --gpus all "${flags[@]}" probe:1 sh -c 'ls /dev/kfd /dev/dri | tr "\n" " "; echo; echo "ROCR_VISIBLE_DEVICES=$ROCR_VISIBLE_DEVICES"'
/usr/bin/python3 - "$runs" "$G" "${flags[@]}" <<'PY'
import os, statistics, sys, time
runs, g, flags = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
cmds = {"run /bin/true": [g, "run", "probe:1", "/bin/true"],
        "run --gpus all /bin/true": [g, "run", "--gpus", "all", *flags, "probe:1", "/bin/true"]}
def once(argv):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv} failed")
    return wall * 1000, (ru.ru_utime + ru.ru_stime) * 1000
for _ in range(5):  # warm-up: the page cache, gantry's host cache
    for argv in cmds.values():
        once(argv)
res = {k: ([], []) for k in cmds}
for i in range(runs):  # alternated rounds, the order flipped every round
    order = list(cmds.items()) if i % 2 == 0 else list(reversed(cmds.items()))
    for name, argv in order:
        w, c = once(argv)
        res[name][0].append(w)
        res[name][1].append(c)
def stats(v):
    q = statistics.quantiles(v, n=20)
    iq = statistics.quantiles(v, n=4)
    return statistics.median(v), q[1], q[17], iq[2] - iq[0]
print(f"{runs} alternated rounds; ms: median (p10-p90, IQR)")
print(f"{'':28}{'wall':>28}{'cpu':>28}")
med = {}
for name, (w, c) in res.items():
    mw, w10, w90, wiqr = stats(w)
    mc, c10, c90, ciqr = stats(c)
    med[name] = (mw, mc)
    print(f"{name:<28}{mw:8.2f} ({w10:5.2f}-{w90:5.2f}, {wiqr:4.2f})"
          f"{mc:8.2f} ({c10:5.2f}-{c90:5.2f}, {ciqr:4.2f})")
dw = med["run --gpus all /bin/true"][0] - med["run /bin/true"][0]
dc = med["run --gpus all /bin/true"][1] - med["run /bin/true"][1]
print(f"AMD injection adds {dw:.2f} ms wall, {dc:.2f} ms CPU (target <= 3 ms, NVIDIA's figure): "
      f"{'PASS' if dw <= 3 else 'MISS'}")
PY
