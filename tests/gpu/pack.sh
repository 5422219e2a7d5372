#!/usr/bin/env bash
# Packs what `make test-gpu` needs on a GPU machine that has neither this tree's build nor its
# libraries (the workplace's device machines: Ubuntu 24.04, no network, no apt), into one file the
# device tool carries: build/gantry stripped, the shared libraries it dlopens (libcurl, gpgme,
# GnuTLS, libfuse3, libseccomp, libsquashfs, ... and what they need, glibc's own excepted: the
# device's newer glibc runs them), build/gpu-tests (tests/gpu/build.sh), hyperfine and a static
# busybox for bench/gpu.sh. tests/gpu/on-device.sh unpacks it there and runs the suite.
#   tests/gpu/pack.sh [OUT.tgz]     (default .devgpu.tgz in the checkout; .git/info/exclude it)
# On the device:  mkdir -p .devgpu && tar -C .devgpu -xzf .devgpu.tgz && tests/gpu/on-device.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.devgpu.tgz}
build=${BUILD:-$repo/build}
[ -x "$build/gantry" ] || { echo "tests/gpu/pack.sh: build gantry first (make build-gantry)" >&2; exit 2; }
[ -x "$build/gpu-tests/vector_add" ] || "$here/build.sh" "$build/gpu-tests"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib"
strip -o "$stage/gantry" "$build/gantry"
cp -a "$build/gpu-tests" "$stage/"
# the libraries gantry dlopens (their sonames are strings in the binary), and their dependencies
for so in $(strings "$build/gantry" | grep -E '^lib(curl|fuse3|gnutls|gpgme|isal|microhttpd|nettle|seccomp|sodium|squashfs)\.so\.[0-9]+$' | sort -u); do
  path=$(/sbin/ldconfig -p | awk -v l="$so" '$1 == l && /x86-64/ {print $NF; exit}')
  [ -n "$path" ] || { echo "tests/gpu/pack.sh: $so is not installed here (scripts/install-deps.sh)" >&2; exit 2; }
  { echo "$path"; ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'; }
done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
command -v hyperfine >/dev/null && cp "$(command -v hyperfine)" "$stage/"
# strace for run.sh's hang report, with the libraries it needs that Ubuntu's minimal image lacks
if command -v strace >/dev/null; then
  cp "$(command -v strace)" "$stage/"
  ldd "$(command -v strace)" | awk '$3 ~ /libunwind|liblzma/ {print $3}' | while read -r lib; do cp -L "$lib" "$stage/lib/"; done
fi
[ -x /usr/bin/busybox ] && cp /usr/bin/busybox "$stage/"
tar -C "$stage" -czf "$out.tmp" . && mv "$out.tmp" "$out"
echo "packed $out ($(du -h "$out" | cut -f1)): gantry, $(ls "$stage/lib" | wc -l) libraries, gpu-tests"
