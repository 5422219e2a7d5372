#!/bin/bash
# Alternated rounds of `gantry load` (or another command, CMD) with each binary given, durable
# and unsynced (GANTRY_UNSAFE_NO_SYNC=1), into an empty store each time; medians of wall, user
# and system time. The previous store is moved aside (bench/retire.sh: removing 18,000 files
# right before a load made ext4 scan them at each inode it allocated) before the sync and the
# cache drop that start each timing; the stores are removed at the end.
#
#   sudo bench/ab_load.sh ROUNDS ARCHIVE BINARY...        (root: drop_caches)
#   CMD="pull --quiet HOST/REPO:TAG" sudo bench/ab_load.sh ROUNDS - BINARY...
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,10p' "$0"; exit 2; }
rounds=$1
CMD=${CMD:-load -q $2}
shift 2
T=${BENCH_DIR:-/var/tmp/gantry-bench}/ab
# shellcheck source=bench/retire.sh
. "$(dirname "$0")/retire.sh"
RETIRED=$T/retired
mkdir -p "$T"
trap retire_cleanup EXIT
one() {
  local label=$1
  shift
  retire "$T/store"
  sync
  echo 3 > /proc/sys/vm/drop_caches
  # shellcheck disable=SC2086 # CMD is words
  /usr/bin/time -o "$T/time" -f '%e %U %S' env GANTRY_ROOT="$T/store" "$@" $CMD > /dev/null 2> "$T/err" ||
    { echo "$label failed: $(cat "$T/err")" >&2; exit 1; }
  echo "$label $(cat "$T/time")"
}
for ((r = 1; r <= rounds; r++)); do
  for b in "$@"; do
    one "durable:$(basename "$b")" "$b"
    one "unsynced:$(basename "$b")" GANTRY_UNSAFE_NO_SYNC=1 "$b"
  done
done > "$T/rows"
python3 - "$T/rows" << 'P'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, w, u, s = line.split()
    d[k].append((float(w), float(u), float(s)))
for k, v in sorted(d.items()):
    ws = [x[0] for x in v]
    print(f"{k:30} median {st.median(ws):.2f} s  min {min(ws):.2f}  max {max(ws):.2f}  "
          f"user {st.median(x[1] for x in v):.2f}  sys {st.median(x[2] for x in v):.2f}  n={len(v)}")
P
