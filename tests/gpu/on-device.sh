#!/usr/bin/env bash
# Runs `make test-gpu` on a GPU machine from what tests/gpu/pack.sh packed (unpacked in
# .devgpu/ of the checkout): gantry and its libraries in /opt/gantry-gpu (readable by the
# rootless half's user), then tests/gpu/run.sh, then the real GPU start against the same image
# without GPUs (hyperfine). Writes the log and the timing table to $OUT when it is set.
#   mkdir -p .devgpu && tar -C .devgpu -xzf .devgpu.tgz && tests/gpu/on-device.sh
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=$repo/.devgpu
dest=/opt/gantry-gpu
out=${OUT:-$(mktemp -d)}
[ -x "$src/gantry" ] || { echo "tests/gpu/on-device.sh: unpack tests/gpu/pack.sh's file into $src first"; exit 2; }
echo "== host: $(uname -r); $(grep PRETTY_NAME /etc/os-release)"
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader
mkdir -p "$dest/lib" "$repo/build"
cp "$src"/lib/* "$dest/lib/" && cp "$src/gantry" "$dest/gantry" && cp -a "$src/gpu-tests" "$dest/"
cp "$src/gantry" "$repo/build/gantry" # bench/gpu.sh runs build/gantry
[ -x "$src/hyperfine" ] && ! command -v hyperfine >/dev/null && cp "$src/hyperfine" /usr/local/bin/
[ -x "$src/strace" ] && ! command -v strace >/dev/null && cp "$src/strace" /usr/local/bin/
[ -x "$src/busybox" ] && [ ! -e /usr/bin/busybox ] && cp "$src/busybox" /usr/bin/busybox
chmod -R a+rX "$dest"
export LD_LIBRARY_PATH=$dest/lib
echo "== the CUDA program on the host itself, no container (a baseline for a hang inside one)"
timeout 30 "$dest/gpu-tests/vector_add" 2>&1 | tail -2; echo "rc ${PIPESTATUS[0]}"
echo "== make test-gpu"
GANTRY=$dest/gantry timeout "${TEST_GPU_TIMEOUT:-420}" "$here/run.sh" 2>&1 | tee "$out/test-gpu.log"
rc=${PIPESTATUS[0]}
echo "== PyTorch tailored to this host's GPU (tests/gpu/torch_tailor.sh)"
GANTRY=$dest/gantry timeout 300 "$here/torch_tailor.sh" 2>&1 | tee "$out/torch_tailor.log"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
echo "== the CUDA program on the host, run --gpus all of it, and the start alone with and without GPUs (root)"
ctx=$(mktemp -d)
cp -a "$dest/gpu-tests/rootfs/." "$ctx/"
printf 'FROM scratch\nCOPY . /\nENV NVIDIA_DRIVER_CAPABILITIES=compute,utility\n' >"$ctx/Dockerfile"
export GANTRY_ROOT=$ctx.store
"$dest/gantry" build -q -t vadd "$ctx" >/dev/null
roots=() # as run.sh finds the driver
[ -e /usr/local/nvidia/lib64/libcuda.so.1 ] && roots=(--driver-root /usr/local/nvidia)
if command -v hyperfine >/dev/null; then
  timeout 120 hyperfine -N -i -w 2 --runs 15 --export-markdown "$out/start.md" \
    "$dest/gpu-tests/vector_add" \
    "$dest/gantry run --rm --gpus all ${roots[*]} vadd /usr/local/bin/vector_add" \
    "$dest/gantry run --rm --gpus all ${roots[*]} vadd /lib64/ld-linux-x86-64.so.2 --version" \
    "$dest/gantry run --rm vadd /lib64/ld-linux-x86-64.so.2 --version"
fi
rm -rf "$ctx" "$ctx.store"
exit "$rc"
