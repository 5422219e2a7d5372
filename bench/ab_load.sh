#!/bin/bash
# Alternated rounds of `gantry load` (or another command, CMD) with each binary given, durable
# and unsynced (GANTRY_UNSAFE_NO_SYNC=1), into an empty store each time; medians of wall, user
# and system time. The previous store is removed before the sync and the cache drop that start
# each timing: removing 18,000 files right before a load (without that sync) doubled its time
# here, the disk busy with the removal's writes (issue 56, docs/storage.md).
#
#   sudo bench/ab_load.sh ROUNDS ARCHIVE BINARY...        (root: drop_caches)
#   CMD="pull --quiet HOST/REPO:TAG" sudo bench/ab_load.sh ROUNDS - BINARY...
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,10p' "$0"; exit 2; }
rounds=$1
CMD=${CMD:-load -q $2}
shift 2
T=${BENCH_DIR:-/var/tmp/gantry-bench}/ab
mkdir -p "$T"
one() {
  local label=$1
  shift
  rm -rf "$T/store"
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
rm -rf "$T/store"
