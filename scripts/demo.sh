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
mkdir -p "$work/cdi"
step "$G" load "$work/busybox.tar"
step "$G" images
step "$G" inspect demo/busybox:1.0
step "$G" run --rm demo/busybox:1.0 sh -c 'echo "hello from PID $$ as uid $(id -u) in $(uname -s)"; ls /'
step "$G" save demo/busybox:1.0 --format oci-archive -o "$work/busybox-oci.tar"

echo; echo "Building an image from a Dockerfile (rootless as any user; the second build is all cache hits):"
mkdir -p "$work/app"
printf 'hello from a gantry-built image\n' > "$work/app/greeting.txt"
cat > "$work/app/Dockerfile" <<'EOF'
FROM demo/busybox:1.0
WORKDIR /app
COPY greeting.txt .
RUN --mount=type=cache,target=/cache echo "built on $(uname -m)" > built.txt && ls /app
CMD ["sh", "-c", "cat /app/greeting.txt /app/built.txt"]
EOF
step "$G" build -t demo/app:1 "$work/app"
step "$G" run --rm demo/app:1
step "$G" build -t demo/app:1 "$work/app"
step "$G" system df

# A GPU container. With no NVIDIA driver on this machine, use a simulated GPU host: a driver root
# and a dev root laid out like a real one, with fake libcuda/NVML/nvidia-smi that answer only for
# the device nodes a container was given.
if [ -r /proc/driver/nvidia/version ]; then
  echo; echo "NVIDIA driver found: running on the real GPUs."
  gpu_flags=()
else
  echo; echo "No NVIDIA driver on this machine: using a SIMULATED 2-GPU host (tests/fixtures/gpuhost)."
  /usr/bin/python3 "$here/tests/fixtures/gpuhost/gpuhost.py" build --gpus 2 --cc 8.0 "$work/gpuhost" >/dev/null
  gpu_flags=(--driver-root "$work/gpuhost/driver" --dev-root "$work/gpuhost/dev")
  export FAKE_DEVICE_ROOT="$work/gpuhost/dev"
fi
/usr/bin/python3 "$here/tests/fixtures/gpuhost/cuda_image.py" --variant cuda-probe --tag demo/cuda-probe:1 \
  "$work/cuda-probe.tar" >/dev/null
step "$G" load "$work/cuda-probe.tar"
step "$G" run --gpus all "${gpu_flags[@]}" demo/cuda-probe:1 sh -c 'cuda_probe && nvidia-smi -L'
step "$G" run --gpus device=1 "${gpu_flags[@]}" demo/cuda-probe:1 sh -c 'nvidia-smi -L; ls /dev/nvidia*'
step "$G" cdi generate "${gpu_flags[@]}" --output "$work/cdi/nvidia.yaml"
step "$G" run --cdi-spec-dir "$work/cdi" --device nvidia.com/gpu=0 demo/cuda-probe:1 cuda_probe
step "$G" doctor "${gpu_flags[@]}" demo/cuda-probe:1 || true  # exit 10 when a check fails

# An AMD GPU container beside it, through the same GPU layer. With no amdgpu driver here, a
# SIMULATED host: 8x MI300X in the kernel's KFD sysfs format, /dev/kfd with a non-standard major
# and /dev/dri nodes (tests/fixtures/amdhost). amd_probe does what ROCm's libhsakmt does at start:
# it reads the topology (bound in at /amdsys: a container's /sys is the real host's), opens
# /dev/kfd and every render node, and prints what it could open.
if [ -d /sys/class/kfd/kfd/topology/nodes ]; then
  echo; echo "amdgpu driver found: running on the real GPUs."
  amd_flags=(--gpu-vendor amd); amd_sys=/
else
  echo; echo "No amdgpu driver on this machine: using a SIMULATED 8x MI300X host (tests/fixtures/amdhost)."
  /usr/bin/python3 "$here/tests/fixtures/amdhost/amdhost.py" build --shape mi300x "$work/amdhost" >/dev/null
  amd_flags=(--gpu-vendor amd --sys-root "$work/amdhost/sys" --dev-root "$work/amdhost/dev")
  amd_sys="$work/amdhost/sys"
fi
/usr/bin/python3 "$here/tests/fixtures/amdhost/amd_image.py" --tag demo/amd-probe:1 "$work/amd-probe.tar" >/dev/null
step "$G" load "$work/amd-probe.tar"
step "$G" run --gpus device=0,3 "${amd_flags[@]}" -v "$amd_sys:/amdsys:ro" -e AMDPROBE_SYS=/amdsys \
  demo/amd-probe:1 amd_probe
step "$G" cdi generate "${amd_flags[@]/--gpu-vendor/--vendor}" --output "$work/cdi/amd.yaml"
step "$G" run --cdi-spec-dir "$work/cdi" --device amd.com/gpu=1 demo/amd-probe:1 sh -c 'ls -l /dev/kfd /dev/dri'
step "$G" doctor "${amd_flags[@]}" demo/amd-probe:1 || true
# A Windows 11 laptop's WSL2 beside them: no /dev/nvidia* there, the GPU is /dev/dxg and the driver
# is Windows', in /usr/lib/wsl/lib and the driver store /usr/lib/wsl/drivers/<inf>_<hash>/ (an
# Intel iGPU's store beside NVIDIA's). SIMULATED from the reference's facts (tests/fixtures/wslhost).
if [ -c /dev/dxg ] && [ -d /usr/lib/wsl/lib ]; then
  wsl_flags=()
else
  echo; echo "Not WSL2: using a SIMULATED WSL2 host with one GPU (tests/fixtures/wslhost)."
  /usr/bin/python3 "$here/tests/fixtures/wslhost/wslhost.py" --gpus 1 "$work/wslhost" >/dev/null
  wsl_flags=(--driver-root "$work/wslhost/driver" --dev-root "$work/wslhost/dev")
  export FAKE_DEVICE_ROOT="$work/wslhost/dev"
fi
step "$G" run --gpus all "${wsl_flags[@]}" demo/cuda-probe:1 sh -c 'cuda_probe && nvidia-smi -L; ls -l /dev/dxg'
step "$G" cdi generate "${wsl_flags[@]}" --output "$work/cdi/wsl-nvidia.yaml"
step "$G" doctor "${wsl_flags[@]}" demo/cuda-probe:1 || true

echo; echo "Where an image's bytes go, and a Dockerfile with the usual GPU-image mistakes:"
step "$G" analyze demo/cuda-probe:1
step "$G" lint --failure-threshold none "$here/tests/fixtures/dockerfiles/gpu-bad.Dockerfile"
echo
echo "Demo store: $GANTRY_ROOT (remove it with: rm -rf $work)"
