// tests/gpu: a kernel that must run on the GPU and a check of its result. Exit 0 and "PASS" only
// when every element of c = a + b is right; any CUDA error is printed with its name and exit 1.
// Built by tests/gpu/build.sh with cudart linked statically: the image needs only the driver
// gantry injects (libcuda.so.1) and the C library.
#include <cstdio>
#include <cuda_runtime.h>
#include <vector>

__global__ void add(const float* a, const float* b, float* c, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i] + b[i];
}

static bool ok(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return true;
    std::fprintf(stderr, "FAIL %s: %s (%s)\n", what, cudaGetErrorName(e), cudaGetErrorString(e));
    return false;
}

int main() {
    const int n = 1 << 20;
    int dev = 0;
    cudaDeviceProp prop{};
    if (!ok(cudaGetDevice(&dev), "cudaGetDevice") ||
        !ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties"))
        return 1;
    std::vector<float> a(n), b(n), c(n, 0.0f);
    for (int i = 0; i < n; ++i) a[i] = float(i), b[i] = 2.0f * float(i);
    float *da = nullptr, *db = nullptr, *dc = nullptr;
    const size_t bytes = n * sizeof(float);
    if (!ok(cudaMalloc(&da, bytes), "cudaMalloc") || !ok(cudaMalloc(&db, bytes), "cudaMalloc") ||
        !ok(cudaMalloc(&dc, bytes), "cudaMalloc") ||
        !ok(cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
        !ok(cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy"))
        return 1;
    add<<<(n + 255) / 256, 256>>>(da, db, dc, n);
    if (!ok(cudaGetLastError(), "kernel launch") || !ok(cudaDeviceSynchronize(), "kernel") ||
        !ok(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy"))
        return 1;
    for (int i = 0; i < n; ++i)
        if (c[i] != 3.0f * float(i)) {
            std::fprintf(stderr, "FAIL c[%d] = %g, expected %g\n", i, c[i], 3.0f * float(i));
            return 1;
        }
    std::printf("PASS vector_add n=%d on %s (sm_%d%d)\n", n, prop.name, prop.major, prop.minor);
    return 0;
}
