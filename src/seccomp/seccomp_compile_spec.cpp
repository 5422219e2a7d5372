// A bundle's linux.seccomp compiled as runc compiles it. Checked against runc's source
// (opencontainers/runc main, libcontainer/seccomp/seccomp_linux.go InitSeccomp/matchCall/getAction
// and specconv.SetupSeccomp):
//  - SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE take errnoRet, EPERM without it;
//  - a rule whose action equals the default action is skipped (libseccomp refuses it);
//  - a syscall name libseccomp cannot resolve is skipped (runc: "unknown seccomp syscall %q
//    ignored", a debug log), as is a name for another architecture (same call, same answer);
//  - conditions: one rule with all of them, unless two test the same argument (libseccomp
//    refuses that in one rule): then one rule per condition, i.e. any one matching is enough;
//  - the binary-tree optimisation only above 32 rules (libseccomp <= 2.5.4 misbehaves with 0):
//    runc counts the profile's rules, gantry the rules it added (all may have been skipped);
//  - architectures are added to the filter (EEXIST, the native one, is fine).
// Not done here: runc's patchbpf stub that answers ENOSYS for syscalls newer than the profile
// knows (docs/oci-runtime.md says so).
#include "seccomp/seccomp_compile.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace gantry::seccomp {

namespace {

std::uint32_t scmp_action_of(oci::ScmpAction a, std::optional<std::uint16_t> ret) {
    using oci::ScmpAction;
    switch (a) {
    case ScmpAction::kill_thread:
        return SCMP_ACT_KILL_THREAD;
    case ScmpAction::kill_process:
        return SCMP_ACT_KILL_PROCESS;
    case ScmpAction::trap:
        return SCMP_ACT_TRAP;
    case ScmpAction::errno_ret:
        return SCMP_ACT_ERRNO(ret.value_or(EPERM));
    case ScmpAction::trace:
        return SCMP_ACT_TRACE(ret.value_or(EPERM));
    case ScmpAction::log:
        return SCMP_ACT_LOG;
    case ScmpAction::allow:
        return SCMP_ACT_ALLOW;
    }
    throw std::runtime_error("seccomp: unknown action");
}

scmp_compare scmp_op_of(oci::ScmpOp o) {
    using oci::ScmpOp;
    switch (o) {
    case ScmpOp::ne:
        return SCMP_CMP_NE;
    case ScmpOp::lt:
        return SCMP_CMP_LT;
    case ScmpOp::le:
        return SCMP_CMP_LE;
    case ScmpOp::eq:
        return SCMP_CMP_EQ;
    case ScmpOp::ge:
        return SCMP_CMP_GE;
    case ScmpOp::gt:
        return SCMP_CMP_GT;
    case ScmpOp::masked_eq:
        return SCMP_CMP_MASKED_EQ;
    }
    throw std::runtime_error("seccomp: unknown operator");
}

} // namespace

std::vector<sock_filter> compile_seccomp_spec(const SeccompApi& api, const oci::SeccompSpec& spec) {
    auto fail = [](const std::string& what) { throw std::runtime_error("seccomp: " + what); };
    const std::uint32_t def = scmp_action_of(spec.default_action, spec.default_errno_ret);
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(api.init(def), api.release);
    if (!ctx) fail("libseccomp cannot create a filter with linux.seccomp.defaultAction");
    for (auto& arch : spec.architectures) {
        std::uint32_t token = api.arch_resolve_name(arch.c_str());
        if (token == 0) fail("libseccomp does not know the architecture " + arch);
        if (int rc = api.arch_add(ctx.get(), token); rc != 0 && rc != -EEXIST)
            fail("cannot add the architecture " + arch + ": " + std::strerror(-rc));
    }
    std::size_t added = 0;
    for (auto& r : spec.rules) {
        const std::uint32_t act = scmp_action_of(r.action, r.errno_ret);
        if (act == def) continue;
        int nr = api.resolve_name(r.name.c_str());
        if (nr == __NR_SCMP_ERROR) continue; // unknown to libseccomp: runc ignores it too
        std::vector<scmp_arg_cmp> conds;
        unsigned per_index[6] = {};
        bool shared = false;
        for (auto& a : r.args) {
            if (a.index > 5) fail("argument index above 5 in the rule for " + r.name);
            shared = shared || ++per_index[a.index] > 1;
            conds.push_back({a.index, scmp_op_of(a.op), a.value, a.value_two});
        }
        auto add = [&](unsigned n, const scmp_arg_cmp* c) {
            if (int rc = api.rule_add_array(ctx.get(), act, nr, n, c); rc != 0)
                fail("cannot add the rule for " + r.name + ": " + std::strerror(-rc));
            ++added;
        };
        if (!shared) {
            add(static_cast<unsigned>(conds.size()), conds.data());
        } else {
            for (auto& c : conds) add(1, &c);
        }
    }
    if (added > 32) api.attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); // used at export
    return export_seccomp(api, ctx.get());
}

} // namespace gantry::seccomp
