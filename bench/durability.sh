#!/usr/bin/env bash
# What durable publishes cost `gantry load` (issue 36, docs/storage.md "What it costs"), against
# the disk's own floor, measured in one run:
#
#   bench/durability.sh --no-sync BINARY [--rounds N] [--quick]
#   bench/durability.sh --no-sync env [--rounds N] [--quick]
#
# In alternated rounds, the page cache dropped before each command, a fresh store each time:
#   durable   gantry load of bench/load.sh's image (make_big_image.py) with this build
#   no-sync   the same load by BINARY: a build of the same tree whose syncs are no-ops, made with
#               sed -i 's/while (::fsync(fd) != 0) {/while ((void)fd, false) {/' src/util/fs.cpp
#               sed -i 's/if (::syncfs(rootfs_.get()) != 0)/if ((void)rootfs_, false)/' \
#                   src/store/store.cpp
#             (fs::sync_file, which every file and directory sync goes through, and the layer
#             tree's syncfs), so that the difference is the syncs and nothing else; or, with
#             `--no-sync env`, this same binary with GANTRY_UNSAFE_NO_SYNC=1 (the same two
#             places made no-ops by an environment variable meant for this bench only)
#   floor     the bytes the store holds after a load, written by dd in 1 MiB blocks to one file on
#             the same filesystem, with conv=fsync and without: what making that much data
#             durable costs this disk, whoever writes it
# Prints each one's median wall time, spread and CPU time, the durable load's cost over the
# no-sync one, and that cost against the floor's. A measurement, not a test: exits 0 whatever
# the numbers are. Root (drop_caches).
#
#   --rounds N   alternated rounds (default 7)
#   --quick      the ~100 MB image of load.sh --quick
# Environment: BENCH_DIR (default /var/tmp/gantry-bench, where load.sh caches its image),
# GANTRY (default build/gantry).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=7
profile=full
nosync=
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
    --no-sync) nosync=${2:?--no-sync needs a binary}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --quick) profile=quick ;;
    -h | --help) usage; exit 0 ;;
    *) echo "durability.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "durability.sh: $*" >&2; exit 1; }
[[ $nosync == env || ( -n $nosync && -x $nosync ) ]] ||
    die "--no-sync BINARY (or env) is required (see --help for how to build it)"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number, not '$rounds'"
(($(id -u) == 0)) || die "needs root (it drops the page cache before every command)"
GANTRY=${GANTRY:-$here/../build/gantry}
[[ -x $GANTRY ]] || die "no gantry binary at $GANTRY"
BENCH_DIR=${BENCH_DIR:-/var/tmp/gantry-bench}
mkdir -p "$BENCH_DIR"
img=$BENCH_DIR/image-$profile
/usr/bin/python3 "$here/make_big_image.py" --profile "$profile" "$img" >/dev/null
archive=$img/docker-archive.tar
T=$(mktemp -d "$BENCH_DIR/durability.XXXXXX")
trap 'rm -rf "$T"' EXIT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# one timed command: prints "wall_s cpu_s"
timed() {
    /usr/bin/time -o "$T/time" -f '%e %U %S' "$@" >/dev/null 2>"$T/stderr" ||
        die "$* failed: $(cat "$T/stderr")"
    awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$T/time"
}
load_with() { # BINARY [no-sync]: a load into a fresh store
    rm -rf "$T/store"
    drop
    if [[ ${2:-} == no-sync ]]; then
        GANTRY_UNSAFE_NO_SYNC=1 GANTRY_ROOT=$T/store timed "$1" load -q "$archive"
    else
        GANTRY_ROOT=$T/store timed "$1" load -q "$archive"
    fi
}

# the store's size after one load: what the floor writes
GANTRY_ROOT=$T/store "$GANTRY" load -q "$archive" >/dev/null
bytes=$(du -sb "$T/store" | cut -f1)
mib=$(((bytes + (1 << 20) - 1) >> 20))
floor_with() { # dd flags
    rm -f "$T/floor"
    drop
    timed dd if=/dev/zero of="$T/floor" bs=1M count="$mib" "$@"
}

declare -A wall cpu
for ((r = 1; r <= rounds; r++)); do
    for what in durable no-sync floor-fsync floor-cache; do
        case $what in
        durable) res=$(load_with "$GANTRY") ;;
        no-sync) if [[ $nosync == env ]]; then res=$(load_with "$GANTRY" no-sync); else
            res=$(load_with "$nosync"); fi ;;
        floor-fsync) res=$(floor_with conv=fsync) ;;
        floor-cache) res=$(floor_with) ;;
        esac
        wall[$what]+="${res% *} "
        cpu[$what]+="${res#* } "
    done
    echo "round $r/$rounds done" >&2
done
rm -rf "$T/store" "$T/floor"

/usr/bin/python3 - "$rounds" "$mib" "${wall[durable]}" "${wall[no-sync]}" "${wall[floor-fsync]}" \
    "${wall[floor-cache]}" "${cpu[durable]}" "${cpu[no-sync]}" <<'EOF'
import statistics as st, sys
rounds, mib = sys.argv[1], int(sys.argv[2])
w = {k: [float(x) for x in v.split()] for k, v in zip(
    ["durable", "no-sync", "floor-fsync", "floor-cache"], sys.argv[3:7])}
c = {k: [float(x) for x in v.split()] for k, v in zip(["durable", "no-sync"], sys.argv[7:9])}
print(f"== gantry load durable vs no-sync, and the disk's floor ({rounds} alternated rounds, "
      f"page cache dropped before each; the floor writes {mib} MiB, what the store holds)")
print(f"{'command':<14}{'median s':>10}{'min':>8}{'max':>8}{'CPU s (median)':>16}")
for k in w:
    cp = f"{st.median(c[k]):.2f}" if k in c else "-"
    print(f"{k:<14}{st.median(w[k]):>10.3f}{min(w[k]):>8.3f}{max(w[k]):>8.3f}{cp:>16}")
d, n = st.median(w["durable"]), st.median(w["no-sync"])
floor = st.median(w["floor-fsync"]) - st.median(w["floor-cache"])
print(f"durable publishes cost {d - n:+.3f} s = {100 * (d - n) / n:+.1f}% of the no-sync load "
      f"(issue 36's target: +10%)")
print(f"the disk's floor for making {mib} MiB durable: {floor:+.3f} s = {100 * floor / n:+.1f}% "
      f"of the no-sync load; gantry's cost is {100 * (d - n) / floor if floor > 0 else 0:.0f}% "
      f"of that floor")
EOF
