#!/usr/bin/env bash
# Builds tests/gpu's CUDA program with nvcc into OUT (default build/gpu-tests/): vector_add,
# cudart and libstdc++ linked statically, device code for every architecture nvcc knows (so
# `tailor --keep-arch host` has something to drop); and vector_add_ptx, PTX only (the driver's
# JIT: the kernel cache check). The result needs only glibc and the
# driver's libcuda.so.1; it is built here and carried to a GPU host that has no nvcc.
#   tests/gpu/build.sh [OUT]   (NVCC=/path/to/nvcc to choose one)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../build/gpu-tests}
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$nvcc" ]; then
  echo "tests/gpu/build.sh: nvcc not found (set NVCC, or install the CUDA toolkit at /usr/local/cuda)" >&2
  exit 3
fi
mkdir -p "$out"
"$nvcc" -O2 -arch=all -cudart static -Xcompiler -static-libgcc,-static-libstdc++ \
  -o "$out/vector_add.tmp" "$here/vector_add.cu"
mv "$out/vector_add.tmp" "$out/vector_add"
# PTX only (compute_75, no SASS): the driver JIT-compiles it at the first cuModuleLoad and keeps
# the result in its ComputeCache (CUDA_CACHE_PATH), what run.sh's kernel cache check looks for
"$nvcc" -O2 -gencode arch=compute_75,code=compute_75 -cudart static \
  -Xcompiler -static-libgcc,-static-libstdc++ -o "$out/vector_add_ptx.tmp" "$here/vector_add.cu"
mv "$out/vector_add_ptx.tmp" "$out/vector_add_ptx"
echo "built $out/vector_add ($("$nvcc" --version | tail -1))"
# The C library it runs on, from this machine: the image is made of these files alone (plus the
# driver gantry injects), so the GPU host's own C library and packages do not matter.
rm -rf "$out/rootfs"
mkdir -p "$out/rootfs/usr/local/bin" "$out/rootfs/tmp" "$out/rootfs/etc"
cp "$out/vector_add" "$out/rootfs/usr/local/bin/"
for lib in $(ldd "$out/vector_add" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
  mkdir -p "$out/rootfs$(dirname "$lib")"
  cp -L "$lib" "$out/rootfs$lib"
done
# The rest of the C library, as the libc6 package ships it: the driver's own libraries (libcuda,
# nvidia-smi) still need libpthread.so.0, libdl.so.2 and librt.so.1, which a program built against
# glibc 2.34 or later no longer names (found on the first real GPU: cudaErrorInsufficientDriver).
libc=$(ldd "$out/vector_add" | awk '$1 == "libc.so.6" {print $3}')
for soname in libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 libutil.so.1; do
  [ -e "$(dirname "$libc")/$soname" ] && cp -L "$(dirname "$libc")/$soname" "$out/rootfs$(dirname "$libc")/"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$out/rootfs/etc/passwd"
echo "staged $out/rootfs ($(find "$out/rootfs" -type f | wc -l) files)"
