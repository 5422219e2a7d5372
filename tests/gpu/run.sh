#!/usr/bin/env bash
# tests/gpu: gantry on a real NVIDIA GPU host (make test-gpu; not part of make test). Rootless and,
# when run as root, as root too: `run --gpus all` of an image holding a CUDA program (built by
# tests/gpu/build.sh with nvcc; made of local files only, no network) that launches a kernel and
# checks its result; nvidia-smi inside; `doctor` against the real driver; `cdi generate` against
# the real file set; a PyTorch allocation when the host's python3 imports torch, and with it the
# GPU limits and placement of tests/gpu/share.sh; `tailor
# --keep-arch host` and the tailored program run; bench/gpu.sh. Prints a summary table; exit 1
# when a check failed. On a host without a usable NVIDIA driver and GPU it prints why it skipped
# and exits 0.
#   tests/gpu/run.sh            (GANTRY=path/to/gantry, default build/gantry)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
G=$(realpath "${GANTRY:-$repo/build/gantry}")
progs=${GPU_TEST_PROGRAMS:-$(dirname "$G")/gpu-tests}

skip() {
  echo "tests/gpu: SKIPPED: $*"
  exit 0
}

# ---- is there a real NVIDIA GPU? ----
driver_root=/
if ls /usr/local/nvidia/lib64/libcuda.so.1 /usr/local/nvidia/lib/libcuda.so.1 >/dev/null 2>&1; then
  driver_root=/usr/local/nvidia
elif ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  skip "no NVIDIA driver: neither /usr/local/nvidia/lib64/libcuda.so.1 nor libcuda.so.1 in ldconfig's cache"
fi
smi=$(command -v nvidia-smi || echo "$driver_root/bin/nvidia-smi")
[ -x "$smi" ] || skip "no nvidia-smi on PATH or under $driver_root/bin"
[ -e /dev/nvidiactl ] || skip "no /dev/nvidiactl: the NVIDIA kernel module is not loaded"
ls /dev/nvidia[0-9]* >/dev/null 2>&1 || skip "no /dev/nvidia0: this host has no NVIDIA GPU node"
smi_out=$("$smi" --query-gpu=driver_version,compute_cap,name --format=csv,noheader 2>&1) ||
  skip "nvidia-smi cannot reach the driver: $smi_out"
[ -x "$G" ] || { echo "tests/gpu: $G is missing: build gantry first (make build-gantry)"; exit 2; }
if [ ! -x "$progs/vector_add" ] || [ ! -x "$progs/vector_add_ptx" ]; then
  "$here/build.sh" "$progs" || { echo "tests/gpu: the CUDA program is not built and nvcc is missing here: run tests/gpu/build.sh where nvcc is, and copy build/gpu-tests/"; exit 2; }
fi
driver_version=$(echo "$smi_out" | head -1 | cut -d, -f1 | tr -d ' ')
compute_cap=$(echo "$smi_out" | head -1 | cut -d, -f2 | tr -d ' ')
echo "tests/gpu: driver $driver_version, compute capability $compute_cap, driver root $driver_root"

work=$(mktemp -d /tmp/gantry-gpu-tests-XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
rows=()
failed=0
row() { # MODE CHECK RESULT DETAIL; a FAIL also prints the end of $out, the check's output
  rows+=("$(printf '%-9s %-22s %-5s %s' "$1" "$2" "$3" "$4")")
  printf '%-9s %-22s %-5s %s\n' "$1" "$2" "$3" "$4"
  if [ "$3" = FAIL ]; then
    failed=1
    echo "${out:-}" | tail -60 | sed 's/^/    | /'
  fi
}

# The image: the program and the C library it was built against, nothing else.
mkdir -p "$work/ctx"
cp -a "$progs/rootfs" "$work/ctx/rootfs"
cat >"$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility PATH=/usr/local/bin:/usr/bin:/bin
CMD ["/usr/local/bin/vector_add"]
DOCKERFILE
chmod -R a+rX "$work/ctx"
# the kernel cache check's image: the same, with the PTX-only program (kept out of the image
# tailor rewrites)
cp -a "$work/ctx" "$work/ptxctx"
cp "$progs/vector_add_ptx" "$work/ptxctx/rootfs/usr/local/bin/"
chmod -R a+rX "$work/ptxctx"

python_prefix=
if torch_where=$(python3 -c 'import sys, torch; print(sys.prefix)' 2>/dev/null); then
  python_prefix=$torch_where
  python_exe=$(python3 -c 'import sys; print(sys.executable)')
  python_real=$(realpath "$python_exe")
  python_base=$(python3 -c 'import sys; print(sys.base_prefix)')
  base_bind=()
  case "$python_base" in /usr | /usr/*) ;; *) base_bind=(-v "$python_base:$python_base:ro") ;; esac
  loader_real=$(realpath /lib64/ld-linux-x86-64.so.2)
  # the skeleton the host's python runs in: /lib -> usr/lib as on a merged-/usr host
  mkdir -p "$work/torchctx/rootfs/usr/lib" "$work/torchctx/rootfs/usr/bin" "$work/torchctx/rootfs/lib64" \
    "$work/torchctx/rootfs/etc" "$work/torchctx/rootfs/tmp"
  ln -s usr/lib "$work/torchctx/rootfs/lib"
  ln -s usr/bin "$work/torchctx/rootfs/bin"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/torchctx/rootfs/etc/passwd"
  printf 'FROM scratch\nCOPY rootfs/ /\nENV NVIDIA_DRIVER_CAPABILITIES=compute,utility HOME=/tmp\n' >"$work/torchctx/Dockerfile"
  chmod -R a+rX "$work/torchctx"
fi

# shellcheck source=tests/gpu/share.sh
. "$here/share.sh"

# as MODE (rootless|root): every check, with its own store under $work/MODE
suite() {
  local mode=$1 as=()
  if [ "$mode" = rootless ] && [ "$(id -u)" = 0 ]; then
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  fi
  local root="$work/$mode"
  mkdir -p "$root/run" "$root/cdi" && chmod 700 "$root/run" && { [ -z "${as[*]}" ] || chown -R 65534:65534 "$root"; }
  # Every command has a deadline (GPU_CHECK_TIMEOUT, default 60 s): a hang is one FAIL row with
  # the processes' states, not the end of the run (the second device run hung in `run --gpus
  # all`, rootless, once libcuda was found, and used up the session's device time).
  g() {
    local t=${GPU_CHECK_TIMEOUT:-60} pid ticks=0
    env HOME="$root" GANTRY_ROOT="$root/store" XDG_RUNTIME_DIR="$root/run" "${as[@]}" "$G" "$@" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [ $ticks -lt $((t * 10)) ]; do
      sleep 0.1
      ticks=$((ticks + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "gantry $1: still running after $t s (tests/gpu's deadline); the processes then:"
      ps --ppid 2 -p 2 --deselect -o pid,ppid,user,stat,wchan:28,etime,args --forest | cut -c1-200 | tail -30
      for p in $(pgrep -f 'vector_add|gantry|python'); do
        echo "pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-70)):"
        for task in /proc/"$p"/task/*; do
          echo "  task ${task##*/} state $(awk '{print $3}' "$task/stat" 2>/dev/null) wchan $(cat "$task/wchan" 2>/dev/null) syscall $(cut -d' ' -f1 "$task/syscall" 2>/dev/null)"
        done
        [ -r /proc/"$p"/stack ] && sed 's/^/    /' /proc/"$p"/stack
      done
      if command -v strace >/dev/null; then # what the program keeps doing, 2 s of it
        for p in $(pgrep -f 'vector_add|python'); do
          echo "strace of $p:"
          timeout 2 strace -f -tt -p "$p" 2>&1 | tail -25 | sed 's/^/    /'
        done
      fi
      kill -TERM "$pid"
      sleep 3
      kill -KILL "$pid" 2>/dev/null
      pkill -KILL -f vector_add
      wait "$pid"
      return 124
    fi
    wait "$pid"
  }
  local roots=(--driver-root "$driver_root") out

  if out=$(g build -q -t gpu-test:vector-add "$work/ctx" 2>&1); then
    row "$mode" "image from local files" PASS "${out:0:19}"
  else
    row "$mode" "image from local files" FAIL "$(echo "$out" | tail -1)"
    return
  fi
  if [ -n "$python_prefix" ] && ! out=$(g build -q -t gpu-test:torch-root "$work/torchctx" 2>&1); then
    row "$mode" "skeleton image (torch)" FAIL "$(echo "$out" | tail -1)"
  fi
  out=$(g run --rm --gpus all "${roots[@]}" gpu-test:vector-add 2>&1)
  if echo "$out" | grep -q '^PASS'; then row "$mode" "run --gpus all (CUDA)" PASS "$(echo "$out" | grep '^PASS')"
  else row "$mode" "run --gpus all (CUDA)" FAIL "$(echo "$out" | tail -1)"; fi

  out=$(g run --rm --gpus all "${roots[@]}" gpu-test:vector-add nvidia-smi -L 2>&1)
  if echo "$out" | grep -q '^GPU 0:'; then row "$mode" "nvidia-smi inside" PASS "$(echo "$out" | head -1 | cut -c1-60)"
  else row "$mode" "nvidia-smi inside" FAIL "$(echo "$out" | tail -1)"; fi

  out=$(g doctor --json "${roots[@]}" gpu-test:vector-add 2>&1)
  local verdict
  verdict=$(echo "$out" | python3 "$here/check_doctor.py" "$driver_version" "$compute_cap" 2>&1)
  if [ $? = 0 ]; then row "$mode" "doctor (real driver)" PASS "$verdict"
  else row "$mode" "doctor (real driver)" FAIL "$verdict"; fi

  out=$(g cdi generate --format json "${roots[@]}" 2>/dev/null)
  verdict=$(echo "$out" | python3 "$here/check_cdi.py" "$driver_root" 2>&1)
  if [ $? = 0 ]; then row "$mode" "cdi generate vs host" PASS "$verdict"
  else row "$mode" "cdi generate vs host" FAIL "$verdict"; fi

  # the CDI path end to end: the spec gantry wrote, read back by run --device as podman reads it
  if out=$(g cdi generate "${roots[@]}" -o "$root/cdi/nvidia.yaml" 2>&1); then
    out=$(g run --rm --device nvidia.com/gpu=all --cdi-spec-dir "$root/cdi" gpu-test:vector-add 2>&1)
    if echo "$out" | grep -q '^PASS'; then row "$mode" "run --device (CDI)" PASS "$(echo "$out" | grep '^PASS')"
    else row "$mode" "run --device (CDI)" FAIL "$(echo "$out" | tail -1)"; fi
  else
    row "$mode" "run --device (CDI)" FAIL "cdi generate -o: $(echo "$out" | tail -1)"
  fi

  # PyTorch from the host's own install: a merged-/usr skeleton image whose /usr/lib, python and
  # loader are the host's, bound read-only; /usr/bin and /lib64 stay the image's own (writable),
  # where the driver's binaries and libraries are injected (binding all of /usr read-only there
  # leaves no place to create their mount points: EROFS, as runc or podman would fail too). The
  # skeleton names no distribution, so the driver goes to /usr/lib64, which LD_LIBRARY_PATH names
  # for the host's (multiarch) loader.
  if [ -n "$python_prefix" ]; then
    out=$(g run --rm --gpus all "${roots[@]}" -v /usr/lib:/usr/lib:ro -v "$python_real:$python_real:ro" \
      -v "$loader_real:/lib64/ld-linux-x86-64.so.2:ro" -v "$python_prefix:$python_prefix:ro" "${base_bind[@]}" \
      -e LD_LIBRARY_PATH=/usr/lib64 gpu-test:torch-root "$python_exe" -c \
      "import torch; x = torch.ones(1 << 20, device='cuda'); print('PASS torch', torch.__version__, torch.cuda.get_device_name(0), x.sum().item())" 2>&1)
    if echo "$out" | grep -q '^PASS torch'; then row "$mode" "PyTorch allocation" PASS "$(echo "$out" | grep '^PASS')"
    else row "$mode" "PyTorch allocation" FAIL "$(echo "$out" | tail -1)"; fi
  else
    row "$mode" "PyTorch allocation" SKIP "python3 on this host cannot import torch"
  fi

  share_checks # tests/gpu/share.sh: --gpu-memory, --gpu-compute, --gpu-numa on the real GPU

  # --kernel-cache (docs/kernel-caches.md): a PTX-only kernel is JIT-compiled by the driver at
  # its first cuModuleLoad into CUDA_CACHE_PATH, which gantry points into the key's cache; the
  # first start's entries are published at its exit, and the second start's load finds them:
  # it adds no entry (the ComputeCache's files, names and sizes, are the same after it)
  local kc="$root/kcache" t0 t1 t2 first second
  g build -q -t gpu-test:ptx "$work/ptxctx" >/dev/null 2>&1
  t0=$(date +%s%N)
  out=$(g run --rm --gpus all "${roots[@]}" --kernel-cache="$kc" gpu-test:ptx /usr/local/bin/vector_add_ptx 2>&1)
  t1=$(date +%s%N)
  first=$(find -L "$kc" -path '*/current/nv/ComputeCache/*' -type f -printf '%P %s\n' 2>/dev/null | sort)
  if echo "$out" | grep -q '^PASS' && [ -n "$first" ]; then
    out=$(g run --rm --gpus all "${roots[@]}" --kernel-cache="$kc" gpu-test:ptx /usr/local/bin/vector_add_ptx 2>&1)
    t2=$(date +%s%N)
    second=$(find -L "$kc" -path '*/current/nv/ComputeCache/*' -type f -printf '%P %s\n' 2>/dev/null | sort)
    if echo "$out" | grep -q '^PASS' && [ "$first" = "$second" ]; then
      row "$mode" "kernel cache (PTX JIT)" PASS "$(echo "$first" | wc -l) ComputeCache files; start $(((t1 - t0) / 1000000)) ms, then $(((t2 - t1) / 1000000)) ms"
    else
      row "$mode" "kernel cache (PTX JIT)" FAIL "second start: $(echo "$out" | tail -1); ComputeCache $(echo "$first" | wc -l) -> $(echo "$second" | wc -l) files"
    fi
  else
    row "$mode" "kernel cache (PTX JIT)" FAIL "first start: $(echo "$out" | tail -1); ComputeCache files: $(echo "$first" | wc -l)"
  fi

  if out=$(g tailor "${roots[@]}" -t gpu-test:tailored gpu-test:vector-add 2>&1); then
    local ran
    ran=$(g run --rm --gpus all "${roots[@]}" gpu-test:tailored 2>&1)
    if echo "$ran" | grep -q '^PASS'; then row "$mode" "tailor --keep-arch host" PASS "$(echo "$out" | tail -1 | cut -c1-60); tailored kernel ran"
    else row "$mode" "tailor --keep-arch host" FAIL "tailored image: $(echo "$ran" | tail -1)"; fi
  else
    row "$mode" "tailor --keep-arch host" FAIL "$(echo "$out" | tail -1)"
  fi
}

suite rootless
if [ "$(id -u)" = 0 ]; then suite root; else row root "(all)" SKIP "not root: sudo make test-gpu runs the root half too"; fi

if command -v hyperfine >/dev/null; then
  if out=$("$repo/bench/gpu.sh" --runs 20 2>&1); then row host "bench/gpu.sh" PASS "$(echo "$out" | grep -i 'mean\|ms' | tail -1 | cut -c1-70)"
  else row host "bench/gpu.sh" FAIL "$(echo "$out" | tail -1)"; fi
else
  row host "bench/gpu.sh" SKIP "hyperfine is not installed"
fi

echo
echo "tests/gpu summary (driver $driver_version, sm $compute_cap, $(echo "$smi_out" | head -1 | cut -d, -f3- | sed 's/^ //'))"
printf '%-9s %-22s %-5s %s\n' MODE CHECK RESULT DETAIL
printf '%s\n' "${rows[@]}"
exit $failed
