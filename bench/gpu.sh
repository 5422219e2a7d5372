#!/usr/bin/env bash
# GPU injection cost (issue 4): start-to-exit of /bin/true with --gpus all on a simulated 8-GPU
# host with a full driver file set, against the same run without GPUs, in one hyperfine run; and
# `gantry cdi generate` on that host. Targets: injection adds at most 3 ms; generation < 20 ms.
#   bench/gpu.sh [--runs N] [--baseline PATH]
# --baseline: also time that gantry binary (e.g. a build of main) in the same hyperfine run, as
# "base: ..." rows, for a before/after comparison of the GPU start.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=50
baseline=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    *) echo "bench/gpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v hyperfine >/dev/null || { echo "bench/gpu.sh: hyperfine is missing (apt-get install hyperfine)"; exit 1; }
# The store goes on tmpfs: on this VM ext4 with online discard makes directory creation and
# removal (one container layer per run) cost milliseconds of noise (set BENCH_DIR to change).
work=$(mktemp -d "${BENCH_DIR:-/dev/shm}/gantry-gpubench-XXXXXX")
trap 'rm -rf "$work"' EXIT
G="$work/gantry"
cp "$here/build/gantry" "$G"
base_rows=()
if [ -n "$baseline" ]; then
  B="$work/gantry-base"
  cp "$baseline" "$B"
fi
export GANTRY_ROOT="$work/store"
/usr/bin/python3 "$here/tests/fixtures/gpuhost/gpuhost.py" build --gpus 8 --cc 9.0 "$work/host" >/dev/null
/usr/bin/python3 "$here/tests/fixtures/gpuhost/cuda_image.py" --variant cuda-probe --tag probe:1 "$work/probe.tar" >/dev/null
"$G" load "$work/probe.tar" >/dev/null 2>&1
export FAKE_DEVICE_ROOT="$work/host/dev"
flags=(--driver-root "$work/host/driver" --dev-root "$work/host/dev")
libs=$(find "$work/host/driver" -name '*.so.*' -type f | wc -l)
echo "store on $(df --output=fstype "$work" | tail -1) ($work); simulated host: 8 GPUs, $libs driver libraries; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$G" run --gpus all "${flags[@]}" probe:1 cuda_probe | sed -n 3p
if [ -n "$baseline" ]; then
  "$B" run --gpus all "${flags[@]}" probe:1 /bin/true # its own GPU caches, before timing
  base_rows=(-n "base: run /bin/true" "$B run probe:1 /bin/true"
             -n "base: run --gpus all /bin/true" "$B run --gpus all ${flags[*]} probe:1 /bin/true")
fi
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/hf.json" \
  -n "run /bin/true" "$G run probe:1 /bin/true" \
  -n "run --gpus all /bin/true" "$G run --gpus all ${flags[*]} probe:1 /bin/true" \
  -n "cdi generate" "$G cdi generate ${flags[*]}" "${base_rows[@]}" >/dev/null
/usr/bin/python3 - "$work/hf.json" <<'PY'
import json, sys
r = {x["command"]: sorted(x["times"])[len(x["times"]) // 2] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
base, gpu, gen = r["run /bin/true"], r["run --gpus all /bin/true"], r["cdi generate"]
print(f"{'median':<28}{'ms':>8}")
for k, v in r.items():
    print(f"{k:<28}{v:8.2f}")
print(f"GPU injection adds {gpu - base:.2f} ms (target <= 3 ms): {'PASS' if gpu - base <= 3 else 'MISS'}")
print(f"cdi generate {gen:.2f} ms (target < 20 ms): {'PASS' if gen < 20 else 'MISS'}")
if "base: run --gpus all /bin/true" in r:
    bb, bg = r["base: run /bin/true"], r["base: run --gpus all /bin/true"]
    print(f"against the baseline: run {base / bb:.2f}x, run --gpus all {gpu / bg:.2f}x "
          f"(its injection adds {bg - bb:.2f} ms)")
PY
