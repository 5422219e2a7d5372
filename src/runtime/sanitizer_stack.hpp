// AddressSanitizer's view of the stacks gantry maps itself (the ASan build, make test-asan,
// docs/sanitizers.md; in every other build these functions are empty). The container process
// made with CLONE_VM (clone.cpp's shared-memory start, early_start.cpp's process after the
// handover) runs gantry's code on such a stack while gantry sleeps, with gantry's thread-local
// ASan state, as a fiber would: without being told, ASan takes that stack for gantry's, skips
// the unpoisoning of frames an exception or a noreturn call leaves ("ASan is ignoring requested
// __asan_handle_no_return"), and reports stack-buffer-overflows that are not. The fiber calls
// of <sanitizer/common_interface_defs.h> tell it; the stack's shadow is cleared before its
// mapping goes (frames of a process that exec'ed never return to unpoison themselves).
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define GANTRY_ASAN_STACKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GANTRY_ASAN_STACKS 1
#endif
#endif

#ifdef GANTRY_ASAN_STACKS
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace gantry::runtime::detail {

// Written by the process on its new stack, read by gantry once it exec'ed or exited.
struct SanitizerStack {
    const void* back_bottom = nullptr; // gantry's own stack, to return to
    size_t back_size = 0;
    bool entered = false; // the process reached its stack (else gantry completes the switch)
};

// Gantry, just before the process starts on [bottom, bottom + size).
inline void sanitizer_stack_enter(void* bottom, size_t size) {
#ifdef GANTRY_ASAN_STACKS
    __sanitizer_start_switch_fiber(nullptr, bottom, size);
#else
    (void)bottom, (void)size;
#endif
}

// The process, first thing on its stack.
inline void sanitizer_stack_entered(SanitizerStack& s) {
#ifdef GANTRY_ASAN_STACKS
    __sanitizer_finish_switch_fiber(nullptr, &s.back_bottom, &s.back_size);
    s.entered = true;
#else
    (void)s;
#endif
}

// Gantry, once the process exec'ed or exited (or was never created): its own stack again.
inline void sanitizer_stack_back(SanitizerStack& s) {
#ifdef GANTRY_ASAN_STACKS
    if (!s.entered) __sanitizer_finish_switch_fiber(nullptr, &s.back_bottom, &s.back_size);
    __sanitizer_start_switch_fiber(nullptr, s.back_bottom, s.back_size);
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
    s.entered = false;
#else
    (void)s;
#endif
}

// Before a mapping that held a stack is unmapped.
inline void sanitizer_forget(void* base, size_t size) {
#ifdef GANTRY_ASAN_STACKS
    __asan_unpoison_memory_region(base, size);
#else
    (void)base, (void)size;
#endif
}

} // namespace gantry::runtime::detail
