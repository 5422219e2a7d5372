#!/usr/bin/env bash
# gantry slim on the devel-style CUDA image (tests/fixtures/devel_image.py: busybox + the CUDA
# toolkit's compilers, headers, static and shared runtime libraries + an nvcc-built app + build
# leftovers), with --strip and a --check that the app still starts. Prints the before/after
# sizes and the ratio against the target (<= 40%), and the time slim took.   bench/slim.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GANTRY=${GANTRY:-$here/../build/gantry}
BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
mkdir -p "$BENCH_DIR"
work=$(mktemp -d "$BENCH_DIR/slim-XXXXXX")
trap 'rm -rf "$work"' EXIT
export GANTRY_ROOT=$work/store
/usr/bin/python3 "$here/../tests/fixtures/devel_image.py" --tag devel:1 "$work/devel.tar"
"$GANTRY" load "$work/devel.tar" >/dev/null
s=$(date +%s.%N)
"$GANTRY" slim devel:1 -t devel:slim --strip --json --check-opt=--env=NVIDIA_VISIBLE_DEVICES=void \
    --check '/app/devel-app | grep -q "devel-app: started"' >"$work/slim.json"
e=$(date +%s.%N)
/usr/bin/python3 - "$work/slim.json" "$(echo "$e - $s" | bc)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("compressed", "files_bytes"):
    v = r[k]
    print(f"{k:12} before {v['before']/1e6:9.1f} MB  after {v['after']/1e6:8.1f} MB  "
          f"ratio {v['ratio']*100:5.1f}%  {'PASS' if v['ratio'] <= 0.40 else 'MISS'} (target <= 40%)")
print(f"layers {r['layers']['before']} -> {r['layers']['after']}; stripped {r['stripped']['files']} ELF "
      f"file(s); check passed: {r['check']['passed']}; slim took {float(sys.argv[2]):.2f} s")
PY
"$GANTRY" run --rm -e NVIDIA_VISIBLE_DEVICES=void devel:slim
