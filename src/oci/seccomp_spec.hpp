// An OCI runtime spec's linux.seccomp (runtime-spec config-linux.md "Seccomp"), parsed and
// validated as hostile input: what `gantry oci` compiles (seccomp/seccomp_compile.hpp) and loads
// for a bundle instead of gantry's own profile. Names are checked against the lists runc accepts
// (libcontainer/seccomp/config.go); what gantry cannot honour (SCMP_ACT_NOTIFY, listenerPath,
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) is refused, never ignored. No libseccomp here.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::oci {

enum class ScmpAction { kill_thread, kill_process, trap, errno_ret, trace, log, allow };
enum class ScmpOp { ne, lt, le, eq, ge, gt, masked_eq };

struct ScmpArg {
    unsigned index = 0; // 0..5
    std::uint64_t value = 0, value_two = 0;
    ScmpOp op = ScmpOp::eq;
    bool operator==(const ScmpArg&) const = default;
};

// One syscalls[] entry with one name (runc's specconv expands names[] the same way).
struct ScmpRule {
    std::string name;
    ScmpAction action = ScmpAction::allow;
    std::optional<std::uint16_t> errno_ret; // ERRNO's errno, TRACE's trace value
    std::vector<ScmpArg> args;              // at most 6
    bool operator==(const ScmpRule&) const = default;
};

// Filter flags passed to seccomp(2) (SECCOMP_FILTER_FLAG_*); TSYNC is accepted and ignored, as
// runc ignores it (one thread loads the filter, right before exec).
inline constexpr unsigned kScmpFlagLog = 1u << 1;       // SECCOMP_FILTER_FLAG_LOG
inline constexpr unsigned kScmpFlagSpecAllow = 1u << 2; // SECCOMP_FILTER_FLAG_SPEC_ALLOW

struct SeccompSpec {
    ScmpAction default_action = ScmpAction::allow;
    std::optional<std::uint16_t> default_errno_ret;
    std::vector<std::string> architectures; // libseccomp's names: "x86_64", "x86", "aarch64", ...
    // No "flags" key: SPEC_ALLOW, as runc sets it by default; "flags": [] is none.
    unsigned flags = kScmpFlagSpecAllow;
    std::vector<ScmpRule> rules;
    bool operator==(const SeccompSpec&) const = default;

    // J: linux.seccomp. nullopt when it has neither defaultAction nor syscalls (runc loads no
    // filter then). Throws Error(invalid) naming the field and the fix for a malformed profile,
    // Error(unsupported) for one gantry cannot honour.
    static std::optional<SeccompSpec> from_json(const nlohmann::json& j);
};

// The names gantry accepts, for `gantry oci features`.
std::vector<std::string> seccomp_action_names();
std::vector<std::string> seccomp_operator_names();
std::vector<std::string> seccomp_arch_names();
std::vector<std::string> seccomp_flag_names();

} // namespace gantry::oci
