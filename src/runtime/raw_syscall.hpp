// System calls without libc, for code that runs in a CLONE_VM child while gantry goes on
// running in the same memory (the keeper, the early start): no errno (gantry's thread-local
// storage, which such a child must not write), no cancellation points, nothing that could take
// a lock gantry holds. Each returns the kernel's value: -errno on failure.
#pragma once

#include <sys/syscall.h>

namespace gantry::runtime::detail {

#if defined(__x86_64__)
inline constexpr bool kRawSyscalls = true;
inline long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

// clone(FLAGS) whose child starts on STACK_TOP (16-byte aligned), calls FN(ARG) and exits with
// its value; the caller gets the child's pid or -errno. CHILD_TID is the CLONE_CHILD_CLEARTID
// word. glibc's clone() would write errno on a failure; this writes nothing but the stacks.
inline constexpr bool kRawClone = true;
inline long raw_clone(unsigned long flags, void* stack_top, int* child_tid, int (*fn)(void*),
                      void* arg) {
    long ret;
    register long r10 __asm__("r10") = reinterpret_cast<long>(child_tid);
    register long r8 __asm__("r8") = 0;                             // tls: unchanged
    register long r12 __asm__("r12") = reinterpret_cast<long>(fn);  // callee-saved: the child
    register long r13 __asm__("r13") = reinterpret_cast<long>(arg); // has them after the clone
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t" // the child: the outermost frame
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov %[exit], %%eax\n\t"
                     "syscall\n\t"
                     "ud2\n"
                     "1:"
                     : "=a"(ret)
                     : "a"(SYS_clone), "D"(flags), "S"(stack_top), "d"(0L), "r"(r10), "r"(r8),
                       "r"(r12), "r"(r13), [exit] "i"(SYS_exit)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
inline constexpr bool kRawSyscalls = true;
inline long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
inline constexpr bool kRawClone = false; // not written (nor testable) here: the plain start
inline long raw_clone(unsigned long, void*, int*, int (*)(void*), void*) {
    return -1;
}
#else
inline constexpr bool kRawSyscalls = false;
inline long raw(long, long = 0, long = 0, long = 0, long = 0) {
    return -1;
}
inline constexpr bool kRawClone = false;
inline long raw_clone(unsigned long, void*, int*, int (*)(void*), void*) {
    return -1;
}
#endif

} // namespace gantry::runtime::detail
