/* LD_PRELOAD shim for tests/unit/gpu_vendors/nvidia/test_cuda_nvcc.cpp: interposes the CUDA
 * runtime's
 * __cudaRegisterFatBinary (libcudart.so, which every TU's constructor calls with its
 * __fatBinC_Wrapper_t), prints what the wrapper and the container it points at say, and calls
 * through. Built by the test with the system C compiler. There is no GPU and no libcuda here,
 * so registration is as far as a CUDA program gets: kernels cannot run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void** __cudaRegisterFatBinary(void* wrapper) {
    static void** (*real)(void*) = 0;
    if (!real) real = (void** (*)(void*))dlsym(RTLD_NEXT, "__cudaRegisterFatBinary");
    uint32_t magic = 0, cmagic = 0;
    uint64_t fat = 0;
    const unsigned char* data = 0;
    memcpy(&magic, wrapper, 4);
    memcpy(&data, (const unsigned char*)wrapper + 8, sizeof data);
    if (data) {
        memcpy(&cmagic, data, 4);
        memcpy(&fat, data + 8, 8);
    }
    Dl_info info;
    const char* obj = dladdr(wrapper, &info) && info.dli_fname ? info.dli_fname : "?";
    fprintf(stderr, "gantry-shim: object=%s wrapper=%s container=%s fatSize=%llu\n", obj,
            magic == 0x466243b1u ? "ok" : "bad", cmagic == 0xBA55ED50u ? "ok" : "bad",
            (unsigned long long)fat);
    return real ? real(wrapper) : 0;
}
