#!/usr/bin/env bash
# The main job on a bundled sample: build a busybox image from this machine's files (nothing is
# downloaded), load it into a fresh store, list it and inspect it, then save and reload it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
G="$here/build/gantry"
work="$here/build/demo"
rm -rf "$work"; mkdir -p "$work"
export GANTRY_ROOT="$work/store"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "Building a sample image from /usr/bin/busybox (busybox-static) ..."
/usr/bin/python3 "$here/tests/fixtures/mkimage.py" busybox --format docker-archive \
  --compression gzip --tag demo/busybox:1.0 "$work/busybox.tar"
step "$G" load "$work/busybox.tar"
step "$G" images
step "$G" inspect demo/busybox:1.0
step "$G" run --rm demo/busybox:1.0 sh -c 'echo "hello from PID $$ as uid $(id -u) in $(uname -s)"; ls /'
step "$G" save demo/busybox:1.0 --format oci-archive -o "$work/busybox-oci.tar"
step "$G" system df
echo
echo "Demo store: $GANTRY_ROOT (remove it with: rm -rf $work)"
