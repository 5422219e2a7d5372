#!/usr/bin/env bash
# tests/gpu/torch_tailor.sh: gantry's device-code tools on a real PyTorch (the GPU machine's own
# install; not part of make test): `doctor --fatbin` of libtorch_cuda.so, an image holding the
# install's torch/ (copied), `tailor --keep-arch host` of it, and PyTorch run from the tailored
# image on the GPU (a matrix product checked against the CPU's), with the host's other Python
# packages (nvidia-* wheels included) bound read-only. Prints what each step took and the sizes.
#   tests/gpu/torch_tailor.sh        (GANTRY=path/to/gantry; TORCH_DIR=... to name another torch/,
#                                     KEEP_ARCH=sm_90 instead of the host's GPUs)
set -uo pipefail
G=$(realpath "${GANTRY:-build/gantry}")
torch_dir=${TORCH_DIR:-$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)}
[ -n "$torch_dir" ] && [ -d "$torch_dir/lib" ] || { echo "torch_tailor: SKIPPED: python3 cannot import torch"; exit 0; }
site=$(dirname "$torch_dir")
driver_root=/
[ -e /usr/local/nvidia/lib64/libcuda.so.1 ] && driver_root=/usr/local/nvidia
work=$(mktemp -d /var/tmp/gantry-torch-XXXXXX)
trap 'rm -rf "$work"' EXIT
export GANTRY_ROOT=$work/store
now() { date +%s.%N; }
took() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(now)"; }
fail=0

echo "== torch: $torch_dir ($(du -sh "$torch_dir" | cut -f1)); its biggest libraries:"
find "$torch_dir/lib" -name '*.so*' -size +50M -printf '%s %f\n' | sort -rn | head -5 |
  awk '{printf "   %7.0f MB  %s\n", $1 / 1048576, $2}'
lib=$(find "$torch_dir/lib" -name 'libtorch_cuda.so' | head -1)
if [ -n "$lib" ]; then
  t=$(now)
  "$G" doctor --fatbin "$lib" --json >"$work/fatbin.json"
  echo "== doctor --fatbin libtorch_cuda.so: rc $? in $(took "$t")"
  python3 - "$work/fatbin.json" <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
e = d["entries"]
kinds = collections.Counter((x["kind"], x["arch"]) for x in e)
comp = collections.Counter(x.get("compression") for x in e)
print(f"   {len(e)} entries, compression {dict(comp)}, problems {len(d['problems'])}")
print("   " + ", ".join(f"{k}:{a} x{n}" for (k, a), n in sorted(kinds.items())))
PY
fi

# the image: a merged-/usr skeleton and torch/ copied into /site (hard links where the file
# system allows: the build reads them, tailor writes a new layer)
ctx=$work/ctx
mkdir -p "$ctx/rootfs/usr/lib" "$ctx/rootfs/usr/bin" "$ctx/rootfs/lib64" "$ctx/rootfs/etc" \
  "$ctx/rootfs/tmp" "$ctx/rootfs/site"
ln -s usr/lib "$ctx/rootfs/lib"
ln -s usr/bin "$ctx/rootfs/bin"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ctx/rootfs/etc/passwd"
cp -al "$torch_dir" "$ctx/rootfs/site/torch" 2>/dev/null || cp -a "$torch_dir" "$ctx/rootfs/site/torch"
printf 'FROM scratch\nCOPY rootfs/ /\nENV NVIDIA_DRIVER_CAPABILITIES=compute,utility HOME=/tmp PYTHONPATH=/site:%s\n' \
  "$site" >"$ctx/Dockerfile"
t=$(now)
"$G" build -q -t torch:copy "$ctx" >/dev/null || { echo "== build: FAIL"; exit 1; }
echo "== build (torch/ copied): $(took "$t")"
t=$(now)
"$G" tailor --driver-root "$driver_root" ${KEEP_ARCH:+--keep-arch "$KEEP_ARCH"} -t torch:tailored torch:copy >"$work/tailor.txt" 2>&1
rc=$?
echo "== tailor --keep-arch host: rc $rc in $(took "$t")"
grep -vE "left alone|more \(see" "$work/tailor.txt" | head -30 | sed 's/^/   /'
[ $rc = 0 ] || exit 1
"$G" images | grep -E 'REPOSITORY|torch' | sed 's/^/   /'

# PyTorch from the tailored image: the host's interpreter, loader and /usr/lib bound read-only,
# its other packages too (the nvidia-* wheels torch's RPATH names as ../../nvidia/...)
python_real=$(realpath "$(command -v python3)")
loader_real=$(realpath /lib64/ld-linux-x86-64.so.2)
binds=(-v /usr/lib:/usr/lib:ro -v "$python_real:$python_real:ro"
  -v "$loader_real:/lib64/ld-linux-x86-64.so.2:ro" -v "$site:$site:ro")
[ -d "$site/nvidia" ] && binds+=(-v "$site/nvidia:/site/nvidia:ro")
# torch's own kernels (elementwise, reductions, softmax, in libtorch_cuda.so: what tailoring
# rewrote) and cuBLAS's (the matrix product, from the bound nvidia-cublas wheel), each checked
# against the CPU
prog='import torch
assert torch.__file__.startswith("/site/"), torch.__file__
a = torch.randn(2048, 2048, dtype=torch.float64)
d = a.cuda()
own = ((d.sin() * 2 + d.exp()).sum(dim=1), torch.softmax(d, dim=0).cumsum(dim=0), (d @ d))
cpu = ((a.sin() * 2 + a.exp()).sum(dim=1), torch.softmax(a, dim=0).cumsum(dim=0), (a @ a))
err = max((g.cpu() - c).abs().max().item() for g, c in zip(own, cpu))
print("PASS" if err < 1e-6 else "FAIL", torch.__file__, torch.cuda.get_device_name(0), "max error", err)'
for img in torch:copy torch:tailored; do
  t=$(now)
  out=$("$G" run --rm --gpus all --driver-root "$driver_root" "${binds[@]}" -e LD_LIBRARY_PATH=/usr/lib64 \
    "$img" "$python_real" -c "$prog" 2>&1)
  echo "== $img: $(echo "$out" | tail -1) ($(took "$t"))"
  echo "$out" | grep -q '^PASS' || { fail=1; echo "$out" | tail -20 | sed 's/^/   | /'; }
done
exit $fail
