// fuzz/gantry_fuzz_main: the one executable every harness is in (gantry_fuzz). libFuzzer calls
// LLVMFuzzerInitialize with the command line: the target is the program's name less "fuzz_"
// (build-san/fuzz/fuzz_cdi_spec links to gantry_fuzz), or GANTRY_FUZZ_TARGET when it is run as
// gantry_fuzz. libFuzzer's own re-executions (-fork, -jobs, -minimize_crash) keep argv[0].
#include "fuzz_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace gantry::fuzz {
namespace {

struct Target {
    TargetFn fn = nullptr;
    void (*init)() = nullptr;
};

std::map<std::string, Target>& targets() {
    static std::map<std::string, Target> all; // filled by the harnesses' static initialisers
    return all;
}

TargetFn chosen = nullptr;

[[noreturn]] void refuse(const std::string& why) {
    std::string names;
    for (const auto& [name, t] : targets())
        if (t.fn) names += " " + name;
    std::fprintf(stderr,
                 "gantry_fuzz: %s; run it as build-san/fuzz/fuzz_TARGET or with "
                 "GANTRY_FUZZ_TARGET=TARGET, one of:%s\n",
                 why.c_str(), names.c_str());
    std::exit(2);
}

} // namespace

bool add_target(const char* name, TargetFn fn) {
    targets()[name].fn = fn;
    return true;
}

bool add_init(const char* name, void (*init)()) {
    targets()[name].init = init;
    return true;
}

} // namespace gantry::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    using namespace gantry::fuzz;
    std::string name = *argc > 0 ? (*argv)[0] : "";
    name = name.substr(name.rfind('/') + 1);
    if (name.rfind("fuzz_", 0) == 0) {
        name = name.substr(5);
    } else {
        const char* env = std::getenv("GANTRY_FUZZ_TARGET");
        if (!env || !*env) refuse("no target named (the program is " + name + ")");
        name = env;
    }
    auto it = targets().find(name);
    if (it == targets().end() || !it->second.fn) refuse("no target '" + name + "'");
    chosen = it->second.fn;
    if (it->second.init) it->second.init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return gantry::fuzz::chosen(data, size);
}
