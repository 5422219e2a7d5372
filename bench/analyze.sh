#!/usr/bin/env bash
# gantry analyze against the time to just decompress the same layers once (issue 6, "Benchmark").
#
#   bench/analyze.sh [--runs N] [--cuda-gb G]
#
# Two images, loaded into a private store:
#   big    the ~1 GB, 5-layer load benchmark image (bench/make_big_image.py, gzip layers)
#   cuda   the CUDA toolkit libraries of this machine (/usr/local/cuda/lib/*.so*, real files
#          only, capped at G GB, default 1.5), one zstd layer on busybox: fat binaries everywhere
# For each, hyperfine times (no warmup, N runs, default 3):
#   decompress   every layer blob once, one after the other, with the fastest single-threaded
#                decoder (igzip -dc for gzip, zstd -dc for zstd) to /dev/null
#   analyze -j1  gantry analyze --json, one layer at a time (the same work as the baseline, plus
#                tar parsing, hashing, ELF and fat-binary inspection)
#   analyze      gantry analyze --json with its default parallelism (layers at once)
# and prints the ratios against the target (<= 1.3x). A measurement: exits 0 whatever the
# ratios; non-zero only when a command fails. Page cache is warm (blobs were just written).
#
# Environment: BENCH_DIR (default /var/tmp/gantry-bench), GANTRY (default build/gantry).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=3
cuda_gb=1.5
while (($#)); do
    case $1 in
    --runs) runs=${2:?}; shift ;;
    --cuda-gb) cuda_gb=${2:?}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "analyze.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
GANTRY=${GANTRY:-$here/../build/gantry}
for t in hyperfine igzip zstd; do command -v $t >/dev/null || { echo "analyze.sh: needs $t" >&2; exit 1; }; done
[[ -x $GANTRY ]] || { echo "analyze.sh: no gantry at $GANTRY" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
work=$(mktemp -d "$BENCH_DIR/analyze-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$GANTRY" "$work/gantry"
G=$work/gantry
export GANTRY_ROOT=$work/store

/usr/bin/python3 "$here/make_big_image.py" --profile full "$BENCH_DIR/image-full" >/dev/null
$G load "$BENCH_DIR/image-full/docker-archive.tar" --name bench/big >/dev/null 2>&1
big=$($G images --json | /usr/bin/python3 -c 'import json,sys; print([i["reference"] for i in json.load(sys.stdin)][0])')

HERE="$here" CUDA_GB="$cuda_gb" /usr/bin/python3 - "$work/cuda.tar" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["HERE"], "..", "tests"))
from fixtures import mkimage as mk
cap = float(os.environ["CUDA_GB"]) * 1e9
src, total, entries = "/usr/local/cuda/lib", 0, []
for n in sorted(os.listdir(src)):
    p = os.path.join(src, n)
    if os.path.isfile(p) and not os.path.islink(p) and ".so" in n:
        size = os.path.getsize(p)
        if total + size > cap:
            continue
        entries.append(mk.Entry.file(f"usr/local/cuda/lib64/{n}", open(p, "rb").read(), mode=0o755))
        total += size
layer = mk.Layer(entries, compression="zstd", created_by="COPY cuda/lib /usr/local/cuda/lib64")
mk.write_docker_archive(sys.argv[1], [(mk.busybox_image(extra_layers=[layer]), ["bench/cuda:1"])],
                        layer_compression="layer")
print(f"cuda image: {len(entries)} libraries, {total / 1e9:.2f} GB", file=sys.stderr)
PY
$G load "$work/cuda.tar" >/dev/null 2>&1
rm -f "$work/cuda.tar"

decompress_script() { # image -> a script that decodes its blobs one after the other
    local ref=$1 out=$2
    $G inspect "$ref" --json | /usr/bin/python3 -c '
import json, sys
root = sys.argv[1]
doc = json.load(sys.stdin)
doc = doc[0] if isinstance(doc, list) else doc
print("set -e")
for l in doc["layers"]:
    p = root + "/blobs/sha256/" + l["digest"].split(":")[1]
    magic = open(p, "rb").read(4)
    tool = "zstd -dcq" if magic == bytes([0x28, 0xb5, 0x2f, 0xfd]) else "igzip -dc" if magic[:2] == bytes([0x1f, 0x8b]) else "cat"
    print(f"{tool} {p} > /dev/null")
' "$GANTRY_ROOT" >"$out"
}

printf '%-6s %-12s %10s %10s %8s\n' image command median_s ratio target
for img in "$big" bench/cuda:1; do
    name=$([[ $img == bench/cuda:1 ]] && echo cuda || echo big)
    decompress_script "$img" "$work/dec-$name.sh"
    hyperfine --runs "$runs" --export-json "$work/$name.json" \
        -n decompress "bash $work/dec-$name.sh" \
        -n analyze-j1 "$G analyze -j1 --json $img" \
        -n analyze "$G analyze --json $img" >/dev/null
    /usr/bin/python3 - "$work/$name.json" "$name" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["decompress"]
for k in ("decompress", "analyze-j1", "analyze"):
    ratio = r[k] / base
    verdict = "" if k == "decompress" else ("PASS" if ratio <= 1.3 else "MISS")
    print(f"{sys.argv[2]:<6} {k:<12} {r[k]:10.3f} {ratio:9.2f}x {verdict:>8}")
PY
done
$G analyze "$big" | sed -n '/^Efficiency/,/^User wasted/p'
