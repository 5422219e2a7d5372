#!/usr/bin/env bash
# gantry doctor's HIP code object scan (issue 22) on an image with many HIP libraries (clang-built
# here: N copies of a library with K kernels for 4 GPU targets), against a plain read of the same
# bytes, in alternated rounds with the page cache dropped before each measurement (cold) and
# kept (warm). Prints medians and spread (min..max). Target: cold doctor within 1.5x of the cold
# read.   bench/doctor_hip.sh [ROUNDS]   (env: LIBS=60 KERNELS=300 BENCH_DIR=/var/tmp)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-7}
libs=${LIBS:-60}
kernels=${KERNELS:-300}
command -v clang++ >/dev/null || { echo "bench/doctor_hip.sh: clang++ is missing (apt-get install clang)"; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/gantry-hipbench-XXXXXX")
trap 'rm -rf "$work"' EXIT
G="$work/gantry"; cp "$here/build/gantry" "$G"
export GANTRY_ROOT="$work/store"

echo "compiling a HIP library with $kernels kernels for gfx90a:xnack-, gfx90a:xnack+, gfx908, gfx1030 ..."
{
  echo 'struct dim3 { unsigned x, y, z; };'
  echo 'typedef struct ihipStream_t* hipStream_t;'
  echo 'extern "C" int hipLaunchKernel(const void*, dim3, dim3, void**, unsigned long, hipStream_t);'
  for i in $(seq 1 "$kernels"); do
    echo "__attribute__((global)) void k$i(float* x, int n) { for (int j = 0; j < n; ++j) x[j] = x[j] * $i.0f + j; }"
  done
} > "$work/k.hip"
clang++ -x hip --offload-arch=gfx90a:xnack- --offload-arch=gfx90a:xnack+ --offload-arch=gfx908 \
  --offload-arch=gfx1030 -nogpulib -nogpuinc -O2 -shared -fPIC "$work/k.hip" -o "$work/libk.so"

echo "building an image with $libs copies (uncompressed layer) ..."
HERE="$here" LIB="$work/libk.so" LIBS="$libs" /usr/bin/python3 - "$work/hip.tar" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["HERE"], "tests"))
from fixtures import mkimage as mk
data = open(os.environ["LIB"], "rb").read()
n = int(os.environ["LIBS"])
entries = [mk.Entry.file(f"opt/app/lib/libk{i}.so", data, mode=0o755) for i in range(n)]
entries.append(mk.Entry.file("opt/rocm-6.1.2/.info/version", b"6.1.2-39\n"))
img = mk.busybox_image(extra_layers=[mk.Layer(entries, compression="none")], env=["PATH=/bin"])
mk.write_docker_archive(sys.argv[1], [(img, ["hiplibs:1"])])
print(f"{n} libraries of {len(data) / 2**20:.2f} MiB, {n * len(data) / 2**20:.0f} MiB")
PY
"$G" load "$work/hip.tar" >/dev/null 2>&1
rm -f "$work/hip.tar"
/usr/bin/python3 "$here/tests/fixtures/amdhost/amdhost.py" build --shape mi250x "$work/host" >/dev/null
flags=(--gpu-vendor amd --sys-root "$work/host/sys" --dev-root "$work/host/dev")
layer=$(ls -d "$GANTRY_ROOT"/layers/sha256/*/rootfs/opt/app/lib | head -1)
"$G" doctor "${flags[@]}" hiplibs:1 | grep -E "HIP-|ROCM-" | head -3
"$G" doctor --fatbin "$layer/libk0.so" | head -1

drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
t() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
read_all() { cat "$layer"/* >/dev/null; }
doc() { "$G" doctor "${flags[@]}" hiplibs:1; }
declare -a rc dc rw dw
for r in $(seq 1 "$rounds"); do   # alternated: read, doctor, doctor, read, ...
  if (( r % 2 )); then drop; rc+=("$(t read_all)"); drop; dc+=("$(t doc)")
  else drop; dc+=("$(t doc)"); drop; rc+=("$(t read_all)"); fi
  read_all; rw+=("$(t read_all)"); dw+=("$(t doc)")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f ms (%.1f..%.1f)", m/1000, a[1]/1000, a[NR]/1000}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
echo "rounds: $rounds; bytes: $(( $(du -sb "$layer" | cut -f1) / 1048576 )) MiB in $libs files; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "page cache dropped: $( [ -w /proc/sys/vm/drop_caches ] && echo yes || echo "no (not root): cold = warm")"
printf '%-34s %s\n' "cat (cold page cache)" "$(stats "${rc[@]}")" "doctor IMAGE, HIP scan (cold)" "$(stats "${dc[@]}")" \
  "cat (warm page cache)" "$(stats "${rw[@]}")" "doctor IMAGE, HIP scan (warm)" "$(stats "${dw[@]}")"
ratio=$(echo "$(median "${dc[@]}") / $(median "${rc[@]}")" | bc -l)
printf 'cold doctor / cold read (medians): %.2fx (target <= 1.5x): %s\n' "$ratio" \
  "$( [ "$(echo "$ratio <= 1.5" | bc)" = 1 ] && echo PASS || echo MISS)"
printf 'warm doctor / warm read (medians): %.2fx\n' "$(echo "$(median "${dw[@]}") / $(median "${rw[@]}")" | bc -l)"
