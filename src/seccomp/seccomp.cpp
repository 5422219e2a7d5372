#include "seccomp/seccomp.hpp"

#include "oci/seccomp_profile.hpp"
#include "seccomp/seccomp_compile.hpp"
#include "util/error.hpp"
#include "util/library.hpp"

#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::seccomp {

namespace {
// kDefaultSeccomp: the profile compiled to BPF at build time by tools/seccomp_bpf.cpp.
#include "seccomp_default.inc"
} // namespace

std::vector<sock_filter> default_program() {
    return {std::begin(kDefaultSeccomp), std::end(kDefaultSeccomp)};
}

const std::vector<std::string>& seccomp_denied_syscalls() {
    return oci::seccomp_denylist();
}

namespace {

// libseccomp's functions, loaded on first use: only a profile other than the default needs them.
const SeccompApi& libseccomp() {
    static const SeccompApi api = [] {
        Library lib(
            "libseccomp.so.2",
            "a seccomp profile other than gantry's default (added capabilities, a bundle's) "
            "needs libseccomp",
            "install the libseccomp2 package, or run with --security-opt "
            "seccomp=unconfined");
        SeccompApi a{};
        lib.bind(a.init, "seccomp_init");
        lib.bind(a.release, "seccomp_release");
        lib.bind(a.attr_set, "seccomp_attr_set");
        lib.bind(a.resolve_name, "seccomp_syscall_resolve_name");
        lib.bind(a.rule_add_array, "seccomp_rule_add_array");
        lib.bind(a.export_bpf, "seccomp_export_bpf");
        lib.bind(a.arch_resolve_name, "seccomp_arch_resolve_name");
        lib.bind(a.arch_add, "seccomp_arch_add");
        return a;
    }();
    return api;
}

} // namespace

std::vector<sock_filter> seccomp_program(const std::vector<std::string>& caps, bool fake_root) {
    if (!fake_root && oci::seccomp_profile_is_default(caps)) return {};
    try {
        auto profile = oci::seccomp_profile(caps);
        profile.fake_root = fake_root;
        return compile_seccomp(libseccomp(), profile);
    } catch (const std::runtime_error& e) {
        throw Error(Errc::run_failed, e.what(),
                    "run with --security-opt seccomp=unconfined to start without it");
    }
}

std::vector<sock_filter> seccomp_program(const oci::SeccompSpec& spec) {
    try {
        return compile_seccomp_spec(libseccomp(), spec);
    } catch (const std::runtime_error& e) {
        throw Error(Errc::run_failed, std::string(e.what()) + " (the bundle's linux.seccomp)",
                    "fix the profile in config.json, or remove linux.seccomp to run without one");
    }
}

void load_seccomp(const std::vector<sock_filter>& program, unsigned flags) {
    sock_fprog prog{};
    if (program.empty()) {
        prog = {static_cast<unsigned short>(sizeof kDefaultSeccomp / sizeof kDefaultSeccomp[0]),
                const_cast<sock_filter*>(kDefaultSeccomp)};
    } else {
        prog = {static_cast<unsigned short>(program.size()),
                const_cast<sock_filter*>(program.data())};
    }
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0)
        throw Error(Errc::run_failed,
                    std::string("cannot load the seccomp profile: ") + std::strerror(errno),
                    "run with --security-opt seccomp=unconfined to start without it");
}

} // namespace gantry::seccomp
