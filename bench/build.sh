#!/usr/bin/env bash
# Issue 26's benchmark (bench/build.py): gantry build against podman build; run as root.
# bench/build.sh [--rounds N] [--load]
set -euo pipefail
cd "$(dirname "$0")/.."
for t in podman runc debootstrap; do
  command -v "$t" >/dev/null || { echo "bench/build.sh: $t is missing (scripts/install-deps.sh)"; exit 1; }
done
exec /usr/bin/python3 bench/build.py "$@"
