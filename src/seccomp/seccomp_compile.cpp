#include "seccomp/seccomp_compile.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::seccomp {

std::vector<sock_filter> compile_seccomp(const SeccompApi& api,
                                         const oci::SeccompProfile& profile) {
    auto fail = [](const std::string& what) { throw std::runtime_error("seccomp: " + what); };
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(api.init(SCMP_ACT_ALLOW), api.release);
    if (!ctx) fail("cannot create a filter");
    // A binary tree of syscall numbers instead of a linear list: every syscall the workload
    // makes runs the filter, so its depth is paid for the container's whole life.
    api.attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (auto& n : profile.denied) {
        int nr = api.resolve_name(n.c_str());
        if (nr == __NR_SCMP_ERROR) continue; // not on this architecture
        if (api.rule_add_array(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0, nullptr) != 0)
            fail("cannot add a rule for " + n);
    }
    if (profile.fake_root) {
        for (auto& n : oci::fake_root_syscalls()) {
            int nr = api.resolve_name(n.c_str());
            if (nr == __NR_SCMP_ERROR) continue; // not on this architecture (the *32 calls)
            if (api.rule_add_array(ctx.get(), SCMP_ACT_ERRNO(0), nr, 0, nullptr) != 0)
                fail("cannot add the fake-root rule for " + n);
        }
        // device nodes: mknod's mode is argument 1, mknodat's argument 2
        for (auto [name, arg] : {std::pair{"mknod", 1u}, std::pair{"mknodat", 2u}}) {
            int nr = api.resolve_name(name);
            if (nr == __NR_SCMP_ERROR) continue;
            for (unsigned long type : {S_IFCHR, S_IFBLK}) {
                scmp_arg_cmp mode{arg, SCMP_CMP_MASKED_EQ, S_IFMT, type};
                if (api.rule_add_array(ctx.get(), SCMP_ACT_ERRNO(0), nr, 1, &mode) != 0)
                    fail(std::string("cannot add the fake-root rule for ") + name);
            }
        }
    }
    if (profile.confine_namespaces) {
        int clone3 = api.resolve_name("clone3");
        if (clone3 != __NR_SCMP_ERROR &&
            api.rule_add_array(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), clone3, 0, nullptr) != 0)
            fail("cannot add the clone3 rule");
        // clone(2) may not create namespaces (flags are its first argument on x86_64, arm64)
        int clone = api.resolve_name("clone");
        for (unsigned long f : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                                CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP}) {
            scmp_arg_cmp flag{0, SCMP_CMP_MASKED_EQ, f, f};
            if (api.rule_add_array(ctx.get(), SCMP_ACT_ERRNO(EPERM), clone, 1, &flag) != 0)
                fail("cannot add a clone rule");
        }
    }
    return export_seccomp(api, ctx.get());
}

std::vector<sock_filter> export_seccomp(const SeccompApi& api, scmp_filter_ctx ctx) {
    auto fail = [](const std::string& what) { throw std::runtime_error("seccomp: " + what); };
    // export wants a descriptor: an anonymous file, read back whole
    int fd = static_cast<int>(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
    if (fd < 0) fail(std::string("memfd_create failed: ") + std::strerror(errno));
    std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
    if (int rc = api.export_bpf(ctx, fd); rc != 0)
        fail(std::string("export failed: ") + std::strerror(-rc));
    std::vector<unsigned char> bytes;
    unsigned char chunk[4096];
    for (off_t at = 0;;) {
        ssize_t n = ::pread(fd, chunk, sizeof chunk, at);
        if (n < 0) fail(std::string("cannot read the program back: ") + std::strerror(errno));
        if (n == 0) break;
        bytes.insert(bytes.end(), chunk, chunk + n);
        at += n;
    }
    if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0) fail("odd BPF size");
    std::vector<sock_filter> prog(bytes.size() / sizeof(sock_filter));
    std::memcpy(prog.data(), bytes.data(), bytes.size());
    return prog;
}

} // namespace gantry::seccomp
