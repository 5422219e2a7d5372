#!/usr/bin/env bash
# Issue 24's benchmark (bench/sqsh.py): squashfs images vs the store's unpacked layers, ch-run and
# squashfuse_ll; run as root. bench/sqsh.sh [--quick] [--rounds N] [--images small,cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
for t in hyperfine ch-run squashfuse_ll mksquashfs tar2sqfs fusermount3; do
  command -v "$t" >/dev/null || { echo "bench/sqsh.sh: $t is missing (scripts/install-deps.sh)"; exit 1; }
done
exec /usr/bin/python3 bench/sqsh.py "$@"
