#!/usr/bin/env bash
# gantry doctor on an image holding the CUDA toolkit libraries of this machine (/usr/local/cuda,
# about 2.5 GiB of libraries full of fat binaries), cold and cached, against a plain read of the
# same bytes (issue 5). Targets: cold scan within 2x of reading the bytes once; a cached
# pre-launch check under 1 ms.   bench/doctor.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -d /usr/local/cuda/lib ] || { echo "bench/doctor.sh: /usr/local/cuda/lib is missing"; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/gantry-doctorbench-XXXXXX")
trap 'rm -rf "$work"' EXIT
G="$work/gantry"; cp "$here/build/gantry" "$G"
export GANTRY_ROOT="$work/store"
echo "building an image from /usr/local/cuda/lib (uncompressed layer) ..."
HERE="$here" /usr/bin/python3 - "$work/cuda.tar" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["HERE"], "tests"))
from fixtures import mkimage as mk
files = {}
src = "/usr/local/cuda/lib"
for n in sorted(os.listdir(src)):
    p = os.path.join(src, n)
    if os.path.isfile(p) and not os.path.islink(p) and ".so" in n:
        files[f"usr/local/cuda/lib64/{n}"] = open(p, "rb").read()
layer = mk.Layer([mk.Entry.file(k, v, mode=0o755) for k, v in files.items()], compression="none")
img = mk.busybox_image(extra_layers=[layer], env=["PATH=/bin", "CUDA_VERSION=13.0.0", "NVIDIA_VISIBLE_DEVICES=all"])
mk.write_docker_archive(sys.argv[1], [(img, ["cudalibs:1"])])
print(f"{len(files)} libraries, {sum(map(len, files.values())) / 2**30:.2f} GiB")
PY
"$G" load "$work/cuda.tar" >/dev/null 2>&1
rm -f "$work/cuda.tar"
/usr/bin/python3 "$here/tests/fixtures/gpuhost/gpuhost.py" build --gpus 1 --cc 9.0 "$work/host" >/dev/null
export FAKE_DEVICE_ROOT="$work/host/dev"
flags=(--driver-root "$work/host/driver" --dev-root "$work/host/dev" --gpus all)
layer=$(ls -d "$GANTRY_ROOT"/layers/sha256/*/rootfs/usr/local/cuda/lib64 | head -1)
bytes=$(du -sb "$layer" | cut -f1)
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
drop; read_s=$(t cat "$layer"/* )
drop; cold=$(t "$G" doctor "${flags[@]}" cudalibs:1)
warm=$(t "$G" doctor "${flags[@]}" cudalibs:1)
drop; cat "$layer"/* >/dev/null; read_warm=$(t cat "$layer"/*)
"$G" run "${flags[@]}" cudalibs:1 /bin/true >/dev/null 2>&1 || true   # fills the pre-launch cache
cached=$(hyperfine -N --warmup 3 --runs 20 --export-json "$work/hf.json" "$G --debug run ${flags[*]} cudalibs:1 /bin/true" 2>/dev/null >/dev/null; \
         "$G" --debug run "${flags[@]}" cudalibs:1 /bin/true 2>&1 | sed -n 's/.*pre-launch checks and image layout: \([0-9.]*\) ms/\1/p')
echo "bytes scanned: $((bytes / 1048576)) MiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %8.2f s\n' "cat (cold page cache)" "$read_s" "doctor IMAGE, cold" "$cold" \
  "cat (warm page cache)" "$read_warm" "doctor IMAGE, warm page cache" "$warm"
ratio=$(echo "$cold / $read_s" | bc -l)
printf 'cold doctor / cold read: %.2fx (target <= 2x): %s\n' "$ratio" "$( [ "$(echo "$ratio <= 2" | bc)" = 1 ] && echo PASS || echo MISS)"
printf 'cached pre-launch check (run --debug phase): %s ms (target < 1 ms)\n' "$cached"
