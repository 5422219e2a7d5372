#!/usr/bin/env bash
# Issue 80's figure: `build --platform linux/amd64,linux/arm64` of one Dockerfile (a FROM scratch
# stage whose RUN step is an aarch64 program, run under qemu-aarch64 in both images, as the e2e
# test's) by gantry and by podman (--manifest), no cache, ROUNDS rounds each, alternated; prints
# each run's wall seconds and the medians. Run as root, with nothing heavy beside it; registers
# qemu-aarch64 with binfmt_misc for the run (under the e2e tests' lock) when it is not.
#   bench/platforms.sh [ROUNDS]        (GANTRY=build/gantry)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
gantry=$(realpath "${GANTRY:-build/gantry}")
for t in podman clang ld.lld qemu-aarch64-static; do
  command -v "$t" >/dev/null || { echo "bench/platforms.sh: $t is missing"; exit 1; }
done
work=$(mktemp -d /tmp/bench-platforms-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/ctx"
clang --target=aarch64-linux-gnu -O1 -nostdlib -static -ffreestanding -fno-stack-protector \
  -fuse-ld=lld tests/fixtures/foreign/aarch64_hello.c -o "$work/ctx/hello"
cat > "$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
ARG TARGETARCH
LABEL arch=$TARGETARCH
COPY hello /hello
RUN ["/hello"]
ENTRYPOINT ["/hello"]
DOCKERFILE
cat > "$work/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$work/podman-run"
graphroot = "$work/podman-root"
CONF
exec 9>/tmp/gantry-e2e-binfmt.lock
flock 9
mine=0
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf | tr -d '\n' > /proc/sys/fs/binfmt_misc/register
  mine=1
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); gantry $(sha256sum "$gantry" | cut -c1-12)"
timed() { # wall seconds of a command that must succeed
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/out" 2>&1 || { echo "bench/platforms.sh: failed: $*" >&2; cat "$work/out" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
g=() p=()
for i in $(seq "$rounds"); do
  g+=("$(GANTRY_ROOT="$work/gantry-$i" timed "$gantry" build --no-cache \
         --platform linux/amd64,linux/arm64 -t bench:both "$work/ctx")")
  p+=("$(CONTAINERS_STORAGE_CONF="$work/storage.conf" timed podman build --no-cache \
         --platform linux/amd64,linux/arm64 --manifest "localhost/bench$i:both" "$work/ctx")")
  [ "$(GANTRY_ROOT="$work/gantry-$i" "$gantry" images -q | wc -l)" = 2 ] || {
    echo "bench/platforms.sh: gantry's tag does not hold two images"; exit 1; }
  echo "round $i: gantry ${g[-1]} s, podman ${p[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median of $rounds: gantry $(median "${g[@]}") s, podman $(median "${p[@]}") s"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
CONTAINERS_STORAGE_CONF="$work/storage.conf" podman system reset -f >/dev/null 2>&1 || true
if [ "$mine" = 1 ]; then echo -1 > /proc/sys/fs/binfmt_misc/qemu-aarch64; fi
