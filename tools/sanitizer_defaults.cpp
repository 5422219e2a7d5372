// The runtime options of the ASan + UBSan build (GANTRY_SANITIZE, docs/sanitizers.md), linked
// into gantry and gantry_unit only in that build. The sanitizer runtimes call these functions
// before main; ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS from the environment are applied
// after them and win, so a test's environment without them still gets these.
extern "C" {

// halt_on_error: the first report ends the process. detect_stack_use_after_return=0: the
// container process and the early start's helper run on stacks gantry maps itself
// (runtime/clone.cpp, runtime/early_start.cpp) and share gantry's thread state, which ASan's
// fake stacks cannot follow. exitcode 86: a report is never mistaken for one of gantry's
// statuses (docs/exit-codes.md).
const char* __asan_default_options() {
    return "halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:"
           "detect_stack_use_after_return=0:strict_string_checks=1:"
           "check_initialization_order=1:detect_invalid_pointer_pairs=0:print_suppressions=0";
}

const char* __ubsan_default_options() {
    return "halt_on_error=1:print_stacktrace=1:exitcode=86";
}

// The container process made with CLONE_VM (runtime/clone.cpp, runtime/early_start.cpp) runs
// child_main in gantry's memory while gantry sleeps, as after vfork, and allocates from
// gantry's heap (capability lists, the environment); its exec leaves those blocks to gantry,
// which no longer points at them. They are the container's, not leaks of gantry: the
// allocations made under child_main are not reported. Anything gantry itself allocates is.
const char* __lsan_default_suppressions() {
    return "leak:gantry::runtime::detail::child_main\n";
}

// print_suppressions=0: the suppressed blocks are no report (by default LeakSanitizer lists
// the suppressions it used, a "report" the e2e suite would count).
const char* __lsan_default_options() {
    return "exitcode=86:print_suppressions=0";
}
}
