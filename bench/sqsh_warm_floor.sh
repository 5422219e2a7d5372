#!/usr/bin/env bash
# The warm start of `gantry run FILE.sqsh` against its floor (issue 40, docs/sqsh.md): as root,
# in alternated hyperfine rounds on one machine,
#   store         gantry run --rm IMAGE /bin/true (the store's unpacked layers)
#   sqsh-fuse     the same image as a .sqsh file, served by gantry's FUSE server (rootless path)
#   sqsh-kernel   the same .sqsh file, the kernel's squashfs (root's path)
#   fuse-floor    what any FUSE squashfs server pays per start, whoever serves it: squashfuse_ll
#                 mounts the file, the executable is read whole (as an exec's page faults
#                 read nearly all of busybox's 2 MB), and the mount goes
#   floor-base    the same shell and tools with the executable read from the host's disk: the
#                 process starts fuse-floor pays that a run does not
# fuse-floor minus floor-base is the price of a fresh FUSE mount and a cold read of the
# executable through it: every start of a .sqsh pays it (a new mount's page cache is empty).
#   bench/sqsh_warm_floor.sh [--rounds N] [--runs N]
# Environment: BENCH_DIR=/var/tmp/gantry-bench, GANTRY=build/gantry.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=3
runs=30
while (($#)); do
    case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sqsh_warm_floor.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
((EUID == 0)) || { echo "sqsh_warm_floor.sh: run as root (the kernel's squashfs)" >&2; exit 1; }
for t in hyperfine squashfuse_ll fusermount3; do
    command -v "$t" >/dev/null || { echo "sqsh_warm_floor.sh: $t is missing" >&2; exit 1; }
done
GANTRY=$(realpath "${GANTRY:-$here/../build/gantry}")
T=${BENCH_DIR:-/var/tmp/gantry-bench}/sqsh-floor
rm -rf "$T"
mkdir -p "$T/m"
trap 'fusermount3 -u "$T/m" 2>/dev/null || true; rm -rf "$T"' EXIT
export GANTRY_ROOT=$T/store
/usr/bin/python3 - "$T/img.tar" <<'PY'
import sys
sys.path.insert(0, "tests/fixtures")
import mkimage as mk
mk.write_docker_archive(sys.argv[1], [(mk.busybox_image(), ["floor:1"])])
PY
"$GANTRY" load -q "$T/img.tar" >/dev/null
"$GANTRY" save floor:1 --format squashfs -o "$T/floor.sqsh"
exe=$(find "$GANTRY_ROOT/layers" -path '*/rootfs/bin/busybox' -type f | head -1)
[[ -n $exe ]] || { echo "sqsh_warm_floor.sh: no bin/busybox in the store" >&2; exit 1; }
G=$GANTRY
for ((r = 1; r <= rounds; r++)); do
    hyperfine -N -w 3 -r "$runs" --export-json "$T/round$r.json" \
        -n store "$G run --rm floor:1 /bin/true" \
        -n sqsh-fuse "env GANTRY_SQSH_FUSE=1 $G run --rm $T/floor.sqsh /bin/true" \
        -n sqsh-kernel "$G run --rm $T/floor.sqsh /bin/true" \
        -n fuse-floor "sh -c 'squashfuse_ll $T/floor.sqsh $T/m && cat $T/m/bin/busybox >/dev/null && fusermount3 -u $T/m'" \
        -n floor-base "sh -c '/bin/true && cat $exe >/dev/null && /bin/true'" \
        >/dev/null
    echo "round $r/$rounds done" >&2
done
/usr/bin/python3 - "$T" "$rounds" <<'PY'
import json, statistics, sys
T, rounds = sys.argv[1], int(sys.argv[2])
by = {}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{T}/round{r}.json"))["results"]:
        by.setdefault(res["command"], []).append(res)
def med(name, key):
    v = [x[key] for x in by[name]]
    return statistics.median(v), min(v), max(v)
print("| command | wall ms (median of round means, min-max) | user+sys ms |")
print("|---|---|---|")
for name in by:
    w = med(name, "mean")
    cpu = statistics.median(x["user"] + x["system"] for x in by[name])
    print(f"| {name} | {w[0] * 1e3:.2f} ({w[1] * 1e3:.2f}-{w[2] * 1e3:.2f}) | {cpu * 1e3:.2f} |")
store, fuse, kern = med("store", "mean")[0], med("sqsh-fuse", "mean")[0], med("sqsh-kernel", "mean")[0]
floor = med("fuse-floor", "mean")[0] - med("floor-base", "mean")[0]
print(f"\nsqsh-fuse / store {fuse / store:.2f}x, sqsh-kernel / store {kern / store:.2f}x (target "
      f"<= 1.5x); a fresh FUSE mount and a cold read of the executable (fuse-floor - floor-base) "
      f"{floor * 1e3:.2f} ms: store + that = {(store + floor) / store:.2f}x the store's start")
PY
