# shellcheck shell=bash disable=SC2154  # sourced by run.sh: its suite() variables
# tests/gpu/share.sh: the GPU limits and placement cases only a real GPU proves
# (docs/gpu-sharing.md), sourced by tests/gpu/run.sh inside suite() (its g, roots, row, mode,
# root, as and the torch skeleton's variables). Each case skips (a SKIP row saying why) where the
# host lacks what it needs: PyTorch on the host, the MPS control daemon, several NUMA nodes.
#   an allocation past --gpu-memory fails   (dmem where the kernel lists the GPU, else MPS)
#   --gpu-compute changes throughput         (MPS: 10% of the SMs against 100%)
#   pinned host-to-device bandwidth with and without --gpu-numa auto (reported; a row, no bound)

share_checks() {
  if [ -z "$python_prefix" ]; then
    row "$mode" "gpu-memory limit" SKIP "python3 on this host cannot import torch"
    row "$mode" "gpu-compute share" SKIP "python3 on this host cannot import torch"
    row "$mode" "pinned bw, gpu-numa" SKIP "python3 on this host cannot import torch"
    return
  fi
  local torch_run=(run --rm --gpus 0 "${roots[@]}" -v /usr/lib:/usr/lib:ro -v "$python_real:$python_real:ro"
    -v "$loader_real:/lib64/ld-linux-x86-64.so.2:ro" -v "$python_prefix:$python_prefix:ro" "${base_bind[@]}"
    -e LD_LIBRARY_PATH=/usr/lib64)
  local mps_dir="$root/mps" mps_daemon=0 mps_args=()
  local control
  control=$(command -v nvidia-cuda-mps-control || echo "$driver_root/bin/nvidia-cuda-mps-control")
  if [ -x "$control" ]; then
    mkdir -p "$mps_dir/pipe" "$mps_dir/log"
    [ -z "${as[*]}" ] || chown -R 65534:65534 "$mps_dir"
    if env CUDA_MPS_PIPE_DIRECTORY="$mps_dir/pipe" CUDA_MPS_LOG_DIRECTORY="$mps_dir/log" "${as[@]}" "$control" -d; then
      mps_daemon=1
      mps_args=(--mps="$mps_dir/pipe" -e CUDA_MPS_LOG_DIRECTORY="$mps_dir/log")
    fi
  fi

  # --gpu-memory 1g, then 2 GiB asked for: must fail
  local alloc="import torch
try:
    x = torch.empty(2 << 30, dtype=torch.uint8, device='cuda'); torch.cuda.synchronize(); print('ALLOCATED')
except Exception as e:
    print('REFUSED', type(e).__name__)"
  out=$(g "${torch_run[@]}" "${mps_args[@]}" --gpu-memory 1g gpu-test:torch-root "$python_exe" -c "$alloc" 2>&1)
  if echo "$out" | grep -q '^REFUSED'; then row "$mode" "gpu-memory limit" PASS "2 GiB past --gpu-memory 1g: $(echo "$out" | grep '^REFUSED')"
  elif echo "$out" | grep -q 'no MPS control daemon\|dmem'; then row "$mode" "gpu-memory limit" SKIP "$(echo "$out" | grep -m1 'error' | cut -c1-90)"
  else row "$mode" "gpu-memory limit" FAIL "$(echo "$out" | tail -1)"; fi

  # --gpu-compute: a matmul loop's time at 10% of the SMs against 100%
  local bench="import torch, time
a = torch.randn(4096, 4096, device='cuda'); torch.cuda.synchronize()
for _ in range(3): a @ a
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(50): a @ a
torch.cuda.synchronize(); print('SECONDS', time.perf_counter() - t)"
  if [ $mps_daemon = 1 ]; then
    local full tenth
    full=$(g "${torch_run[@]}" "${mps_args[@]}" --gpu-compute 100 gpu-test:torch-root "$python_exe" -c "$bench" 2>&1 | awk '/^SECONDS/ {print $2}')
    tenth=$(g "${torch_run[@]}" "${mps_args[@]}" --gpu-compute 10 gpu-test:torch-root "$python_exe" -c "$bench" 2>&1 | awk '/^SECONDS/ {print $2}')
    if [ -n "$full" ] && [ -n "$tenth" ] && awk -v f="$full" -v t="$tenth" 'BEGIN { exit !(t > 2 * f) }'; then
      row "$mode" "gpu-compute share" PASS "50 matmuls: ${full}s at 100%, ${tenth}s at 10%"
    else row "$mode" "gpu-compute share" FAIL "100%: ${full:-failed}s, 10%: ${tenth:-failed}s (want 10% over twice as slow)"; fi
  else
    row "$mode" "gpu-compute share" SKIP "no nvidia-cuda-mps-control, or it did not start"
  fi
  if [ $mps_daemon = 1 ]; then
    echo quit | env CUDA_MPS_PIPE_DIRECTORY="$mps_dir/pipe" "${as[@]}" "$control" >/dev/null 2>&1
  fi

  # pinned host-to-device bandwidth, the container pinned next to the GPU or not
  local bw="import torch, time
h = torch.empty(256 << 20, dtype=torch.uint8).pin_memory(); d = torch.empty_like(h, device='cuda')
for _ in range(3): d.copy_(h, non_blocking=True)
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(20): d.copy_(h, non_blocking=True)
torch.cuda.synchronize(); print('GBPS', round(20 * (256 << 20) / (time.perf_counter() - t) / 1e9, 2))"
  local nodes plain near
  nodes=$(cat /sys/devices/system/node/online 2>/dev/null)
  plain=$(g "${torch_run[@]}" gpu-test:torch-root "$python_exe" -c "$bw" 2>&1 | awk '/^GBPS/ {print $2}')
  out=$(g "${torch_run[@]}" --gpu-numa auto gpu-test:torch-root "$python_exe" -c "$bw" 2>&1)
  near=$(echo "$out" | awk '/^GBPS/ {print $2}')
  if [ -n "$plain" ] && [ -n "$near" ]; then row "$mode" "pinned bw, gpu-numa" PASS "GB/s: ${plain} unpinned, ${near} with --gpu-numa auto (nodes ${nodes:-?})"
  elif echo "$out" | grep -q 'cgroup'; then row "$mode" "pinned bw, gpu-numa" SKIP "$(echo "$out" | grep -m1 error | cut -c1-90)"
  else row "$mode" "pinned bw, gpu-numa" FAIL "unpinned: ${plain:-failed}; --gpu-numa auto: $(echo "$out" | tail -1)"; fi
}
