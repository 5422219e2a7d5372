#!/bin/sh
# Build critest (kubernetes-sigs/cri-tools v1.26.1, the newest whose go.mod asks for no more than
# Debian 12's Go 1.19) as cri-tools' Makefile builds it (`go test -c ./cmd/critest`), offline:
# cri-tools vendors its dependencies. Not part of make test (docs/testing.md, docs/kubernetes.md).
#
#   tests/critest/build.sh [CRI_TOOLS_SOURCE] [OUT_DIR]
#
# CRI_TOOLS_SOURCE: a clone of https://github.com/kubernetes-sigs/cri-tools (a bare git directory
# or a work tree); the tag v1.26.1 is extracted from it into OUT_DIR/src. Or, with
# CRI_TOOLS_SOURCE unset, OUT_DIR/src already holds the v1.26.1 tree.
# OUT_DIR: default /var/cache/gantry-critest; the binary is OUT_DIR/critest, and Debian's busybox
# package's busybox is unpacked in OUT_DIR/busybox (apt-get download, for the stand-in images).
# Needs: golang-go (apt-get install golang-go), apt's archive. Runs at low priority, one Go
# process at a time, so that a shared machine's other work is not starved (a few CPU-minutes).
set -eu
SRC=${1:-}
OUT=${2:-/var/cache/gantry-critest}
TAG=v1.26.1
mkdir -p "$OUT"
if [ -n "$SRC" ]; then
  if [ -d "$SRC/.git" ]; then GITDIR="$SRC/.git"; else GITDIR="$SRC"; fi
  rm -rf "$OUT/src.new"
  mkdir "$OUT/src.new"
  git --git-dir="$GITDIR" archive "$TAG" | tar -x -C "$OUT/src.new"
  rm -rf "$OUT/src"
  mv "$OUT/src.new" "$OUT/src"
fi
[ -f "$OUT/src/cmd/critest/cri_test.go" ] || {
  echo "build.sh: no cri-tools $TAG source in $OUT/src: pass a cri-tools clone as the first" \
    "argument" >&2
  exit 2
}
command -v go >/dev/null || { echo "build.sh: no go: apt-get install golang-go" >&2; exit 2; }
cd "$OUT/src"
GOFLAGS=-mod=vendor GO111MODULE=on CGO_ENABLED=0 GOMAXPROCS=1 GOCACHE="$OUT/gocache" \
  nice -n 10 go test -p 1 -c -o "$OUT/critest.new" -trimpath \
  -ldflags "-X github.com/kubernetes-sigs/cri-tools/pkg/version.Version=${TAG#v}" \
  github.com/kubernetes-sigs/cri-tools/cmd/critest
mv "$OUT/critest.new" "$OUT/critest"
echo "$OUT/critest"
# The stand-in images' busybox (tests/critest/standins.py): Debian's dynamically linked one, whose
# sh runs programs by PATH as busybox's image's does (busybox-static's runs its own applets first).
# Downloaded and unpacked here, not installed: the package would replace /bin/busybox.
if [ ! -x "$OUT/busybox/bin/busybox" ]; then
  rm -rf "$OUT/busybox.deb.d"
  mkdir -p "$OUT/busybox.deb.d"
  (cd "$OUT/busybox.deb.d" && apt-get download busybox)
  dpkg-deb -x "$OUT"/busybox.deb.d/busybox_*.deb "$OUT/busybox.new"
  rm -rf "$OUT/busybox" "$OUT/busybox.deb.d"
  mv "$OUT/busybox.new" "$OUT/busybox"
fi
echo "$OUT/busybox/bin/busybox"
