#!/bin/bash
# Does a read wait while the disk writes back? Times a cold read of 64 MiB alone, then started
# 0.3 s into a `sync` of 900 MiB of dirty page cache on the same file system. On this project's
# VM (virtio-blk, where a flush is the host's fsync) the read waited for nearly the whole sync:
# every read a durable load's extraction needs (the archive, block bitmaps) stalls behind the
# layers' syncs (issue 56, docs/storage.md, "Durable publishes: where the floor is").
#
#   sudo bench/read_during_sync.sh [DIR]     (root: drop_caches; DIR default /var/tmp)
set -euo pipefail
dir=${1:-/var/tmp}/gantry-read-during-sync
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
dd if=/dev/urandom of="$dir/cold" bs=1M count=64 status=none
dd if=/dev/urandom of="$dir/src" bs=1M count=900 status=none
sync
now() { date +%s.%N; }
for r in 1 2 3; do
  echo 3 > /proc/sys/vm/drop_caches
  s=$(now); cat "$dir/cold" > /dev/null; alone=$(echo "$(now) - $s" | bc)
  cat "$dir/src" > /dev/null
  cp "$dir/src" "$dir/dirty"
  echo 3 > /proc/sys/vm/drop_caches # the dirty copy stays; the cold file is dropped
  s0=$(now)
  sync &
  sleep 0.3
  s=$(now); cat "$dir/cold" > /dev/null; during=$(echo "$(now) - $s" | bc)
  wait
  total=$(echo "$(now) - $s0" | bc)
  printf 'round %d: cold read of 64 MiB alone %.3f s; during a sync of 900 MiB %.3f s (the sync %.2f s)\n' \
    "$r" "$alone" "$during" "$total"
  rm -f "$dir/dirty"
  sync
done
