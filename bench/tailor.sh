#!/usr/bin/env bash
# Issue 23's benchmark: the CUDA 13 libraries image (bench/tailor_image.py: cuBLAS, cuBLASLt,
# cuFFT, cuSPARSE, cuSOLVER, NCCL, cuDNN, cudart; 1.9 GB) tailored to sm_80 and to sm_90, in one
# run with analyze's prediction beside each result:
#   - reading the image once: `gantry analyze` (one streaming pass: decompress, every ELF's fat
#     binaries read), ROUNDS times;
#   - the squash alone (`slim --remove none`), the baseline the tailored layers are compared with
#     (both written by the same igzip level), and `slim --keep-arch X --remove none` for sm_80,
#     sm_90 (newest PTX kept) and sm_90 --no-ptx, alternated, ROUNDS times each;
#   - per result: compressed layer bytes, unpacked bytes (apparent, and allocated: du of the
#     unpacked layer), the zeroed bytes, the time (wall, user+sys CPU), and analyze's predicted
#     compressed saving against the measured one (target: within 5%);
#   - tailoring time: (slim --keep-arch) - (slim --remove none) against one read (target: <= 1.5x).
#   bench/tailor.sh            ROUNDS=3 by default; BENCH_DIR=/var/tmp/gantry-bench
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GANTRY=${GANTRY:-$here/../build/gantry}
BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
ROUNDS=${ROUNDS:-3}
mkdir -p "$BENCH_DIR"
archive=$BENCH_DIR/cuda-libs.tar
[ -s "$archive" ] || /usr/bin/python3 "$here/tailor_image.py" "$archive" >/dev/null
work=$(mktemp -d "$BENCH_DIR/tailor-XXXXXX")
trap 'rm -rf "$work"' EXIT
export GANTRY_ROOT=$work/store
"$GANTRY" load "$archive" >/dev/null
echo "load: $(uptime)" >"$work/log"

# one timed command: NAME then the command; appends "NAME wall cpu" to times, output to NAME.json
timed() {
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >"$work/$name.json"
    read -r wall user sys <"$work/t"
    echo "$name $wall $(echo "$user + $sys" | bc)" >>"$work/times"
}

for kind in sm_80 sm_90 sm_90_noptx; do
    args=(--keep-arch "${kind%_noptx}")
    [[ $kind == *_noptx ]] && args+=(--no-ptx)
    timed "predict-$kind" "$GANTRY" analyze cuda-libs:13 "${args[@]}" --json
done
for r in $(seq "$ROUNDS"); do
    timed read "$GANTRY" analyze cuda-libs:13 --json
    timed squash "$GANTRY" slim cuda-libs:13 -t squash:$r --remove none --json
    for kind in sm_80 sm_90 sm_90_noptx; do
        args=(--keep-arch "${kind%_noptx}")
        [[ $kind == *_noptx ]] && args+=(--no-ptx)
        timed "$kind" "$GANTRY" slim cuda-libs:13 -t "$kind:$r" --remove none "${args[@]}" --json
        cp "$work/$kind.json" "$work/$kind.$r.json"
    done
    cp "$work/squash.json" "$work/squash.$r.json"
    # keep one copy of each image: the store's disk is the limit
    if [ "$r" != "$ROUNDS" ]; then
        for t in squash sm_80 sm_90 sm_90_noptx; do "$GANTRY" rmi "$t:$r" >/dev/null; done
        "$GANTRY" system prune -f >/dev/null 2>&1 || "$GANTRY" system prune >/dev/null
    fi
done
for t in squash sm_80 sm_90 sm_90_noptx; do
    id=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['layer']['diff_id'][7:])" "$work/$t.json")
    dir=$GANTRY_ROOT/layers/sha256/$id/rootfs
    echo "$t $(du -sb --apparent-size "$dir" | cut -f1) $(du -sB1 "$dir" | cut -f1)" >>"$work/du"
done
/usr/bin/python3 "$here/tailor_report.py" "$work"
