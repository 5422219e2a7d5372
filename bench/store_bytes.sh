#!/usr/bin/env bash
# Store bytes on disk, gantry against podman, after the same images (issue 56: <= 1.05x):
#
#   bench/store_bytes.sh [--images LIST] [--build] [--keep-compressed]
#
#   --images LIST   comma-separated bench/make_big_image.py profiles to load (default full,5g;
#                   built once into $BENCH_DIR/image-PROFILE, which takes ~25 min for 5g)
#   --build         also the same Dockerfile built by both from the same Debian 12 base
#                   (tests/fixtures/debian_base.py's archive, loaded into both stores first):
#                   apt-get install python3-numpy (needs Debian's archive on the network)
#   --keep-compressed  adds a third column: gantry with store.keep_compressed: true
#
# Each case starts from empty stores on the same filesystem ($BENCH_DIR, default
# /var/tmp/gantry-bench); `du -s --block-size=1M` of each store afterwards (gantry's --root,
# podman's --root with the overlay driver: its layers, tar-splits, images and build cache).
# Prints MiB and the ratio with PASS/MISS. Root (podman's overlay driver). A measurement, not a
# test: exits 0 whatever the numbers are.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images=full,5g
build=
keep=
while (($#)); do
    case $1 in
    --images) images=${2:?--images needs a list}; shift ;;
    --build) build=1 ;;
    --keep-compressed) keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "store_bytes.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "store_bytes.sh: $*" >&2; exit 1; }
(($(id -u) == 0)) || die "needs root (podman's overlay storage)"
command -v podman >/dev/null || die "needs podman (Debian package podman)"
GANTRY=${GANTRY:-$here/../build/gantry}
[[ -x $GANTRY ]] || die "no gantry binary at $GANTRY"
BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
mkdir -p "$BENCH_DIR"
T=$(mktemp -d "$BENCH_DIR/store-bytes.XXXXXX")
R=$(mktemp -d /tmp/gsb.XXXXXX) # podman's runroot: its path must be short
pod() { podman --root "$T/podman/root" --runroot "$R" --storage-driver overlay "$@"; }
cleanup() {
    pod system reset -f >/dev/null 2>&1 || true
    rm -rf "$T" "$R"
}
trap cleanup EXIT
printf 'store:\n  keep_compressed: true\n' >"$T/keep.yaml"
mib() { du -s --block-size=1M "$1" | cut -f1; }
rows=()
# one case: NAME, then a function of (gantry store root, gantry env...) and one for podman
measure() {
    local name=$1 gfn=$2 pfn=$3 g p k=-
    rm -rf "$T/g" "$T/podman"
    "$gfn" env GANTRY_ROOT="$T/g" "$GANTRY" >"$T/log" 2>&1 || die "$name, gantry: $(tail -5 "$T/log")"
    g=$(mib "$T/g")
    if [[ -n $keep ]]; then
        rm -rf "$T/g"
        "$gfn" env GANTRY_ROOT="$T/g" GANTRY_CONFIG="$T/keep.yaml" "$GANTRY" >"$T/log" 2>&1 ||
            die "$name, gantry keep_compressed: $(tail -5 "$T/log")"
        k=$(mib "$T/g")
    fi
    rm -rf "$T/g"
    "$pfn" >"$T/log" 2>&1 || die "$name, podman: $(tail -5 "$T/log")"
    p=$(mib "$T/podman/root")
    pod system reset -f >/dev/null 2>&1 || true
    rows+=("$name $g $p $k")
    echo "$name: gantry $g MiB, podman $p MiB" >&2
}

for profile in ${images//,/ }; do
    /usr/bin/python3 "$here/make_big_image.py" --profile "$profile" "$BENCH_DIR/image-$profile" >/dev/null
    archive=$BENCH_DIR/image-$profile/docker-archive.tar
    eval "g_load_$profile() { \"\$@\" load -q '$archive'; }"
    eval "p_load_$profile() { pod load -q -i '$archive'; }"
    measure "load:$profile" "g_load_$profile" "p_load_$profile"
done

if [[ -n $build ]]; then
    base=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$here/../tests'); \
from fixtures import debian_base; print(debian_base.debian_archive())")
    mkdir -p "$T/ctx"
    cat >"$T/ctx/Dockerfile" <<'DF'
FROM debian-base:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3-numpy \
    && rm -rf /var/lib/apt/lists/*
DF
    g_build() { "$@" load -q "$base" && "$@" build -q --network host -t numpy "$T/ctx"; }
    p_build() { pod load -q -i "$base" && pod build -q --network host -t numpy "$T/ctx"; }
    measure "build:debian+numpy" g_build p_build
fi

echo "== store bytes on disk after the same images (du -s --block-size=1M; issue 56: gantry <= 1.05x podman)"
printf '%-22s %12s %12s %8s  %s\n' case "gantry MiB" "podman MiB" ratio target
for r in "${rows[@]}"; do
    read -r name g p k <<<"$r"
    ratio=$(awk -v g="$g" -v p="$p" 'BEGIN {printf "%.2f", g / p}')
    verdict=$(awk -v x="$ratio" 'BEGIN {print (x <= 1.05 ? "PASS" : "MISS")}')
    printf '%-22s %12s %12s %7sx  %s%s\n' "$name" "$g" "$p" "$ratio" "$verdict" \
        "$([[ $k != - ]] && echo "  (keep_compressed: $k MiB)")"
done
