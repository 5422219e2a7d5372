#include "oci/seccomp_spec.hpp"

#include "util/error.hpp"

#include <nlohmann/json.hpp>
#include <utility>

namespace gantry::oci {

using json = nlohmann::json;

namespace {

// runc's tables (libcontainer/seccomp/config.go): SCMP_ACT_KILL is KILL_THREAD there too.
// SCMP_ACT_NOTIFY is known to runc but not honoured here (checked in spec_action).
constexpr std::pair<const char*, ScmpAction> kScmpActions[] = {
    {"SCMP_ACT_KILL", ScmpAction::kill_thread},
    {"SCMP_ACT_KILL_THREAD", ScmpAction::kill_thread},
    {"SCMP_ACT_KILL_PROCESS", ScmpAction::kill_process},
    {"SCMP_ACT_TRAP", ScmpAction::trap},
    {"SCMP_ACT_ERRNO", ScmpAction::errno_ret},
    {"SCMP_ACT_TRACE", ScmpAction::trace},
    {"SCMP_ACT_LOG", ScmpAction::log},
    {"SCMP_ACT_ALLOW", ScmpAction::allow},
};
constexpr std::pair<const char*, ScmpOp> kScmpOps[] = {
    {"SCMP_CMP_NE", ScmpOp::ne},
    {"SCMP_CMP_LT", ScmpOp::lt},
    {"SCMP_CMP_LE", ScmpOp::le},
    {"SCMP_CMP_EQ", ScmpOp::eq},
    {"SCMP_CMP_GE", ScmpOp::ge},
    {"SCMP_CMP_GT", ScmpOp::gt},
    {"SCMP_CMP_MASKED_EQ", ScmpOp::masked_eq},
};
// runtime-spec name -> libseccomp's (seccomp_arch_resolve_name) name
constexpr std::pair<const char*, const char*> kScmpArchs[] = {
    {"SCMP_ARCH_X86", "x86"},
    {"SCMP_ARCH_X86_64", "x86_64"},
    {"SCMP_ARCH_X32", "x32"},
    {"SCMP_ARCH_ARM", "arm"},
    {"SCMP_ARCH_AARCH64", "aarch64"},
    {"SCMP_ARCH_MIPS", "mips"},
    {"SCMP_ARCH_MIPS64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
    {"SCMP_ARCH_PPC", "ppc"},
    {"SCMP_ARCH_PPC64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", "ppc64le"},
    {"SCMP_ARCH_RISCV64", "riscv64"},
    {"SCMP_ARCH_S390", "s390"},
    {"SCMP_ARCH_S390X", "s390x"},
    {"SCMP_ARCH_LOONGARCH64", "loongarch64"},
};
constexpr std::pair<const char*, unsigned> kScmpFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 0}, // runc: recognised and ignored
    {"SECCOMP_FILTER_FLAG_LOG", kScmpFlagLog},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", kScmpFlagSpecAllow},
};

[[noreturn]] void spec_bad(const std::string& field, const std::string& what, std::string fix) {
    throw Error(Errc::invalid, "linux.seccomp." + field + " " + what, std::move(fix));
}

std::string spec_list(const auto& table) {
    std::string s;
    for (auto& [name, v] : table) s += (s.empty() ? "" : ", ") + std::string(name);
    return s;
}

const std::string& spec_string(const json& j, const std::string& field) {
    if (!j.is_string()) spec_bad(field, "is not a string", "write it as a JSON string");
    return j.get_ref<const std::string&>();
}

std::uint64_t spec_uint(const json& j, const std::string& field, std::uint64_t max) {
    if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<std::int64_t>() >= 0))
        spec_bad(field, "is not an unsigned integer", "write a whole number from 0");
    auto v = j.get<std::uint64_t>();
    if (v > max)
        spec_bad(field, "is " + std::to_string(v) + ", above " + std::to_string(max),
                 "use a value from 0 to " + std::to_string(max));
    return v;
}

const json& spec_array(const json& j, const std::string& field) {
    if (!j.is_array()) spec_bad(field, "is not an array", "write it as a JSON array");
    return j;
}

ScmpAction spec_action(const json& j, const std::string& field) {
    const std::string& s = spec_string(j, field);
    for (auto& [name, a] : kScmpActions)
        if (s == name) return a;
    if (s == "SCMP_ACT_NOTIFY")
        throw Error(Errc::unsupported,
                    "linux.seccomp." + field + " SCMP_ACT_NOTIFY is not supported by gantry oci",
                    "gantry hands no seccomp notify fd to a listener: use another action, or "
                    "run the bundle with runc");
    spec_bad(field, "\"" + s + "\" is not a seccomp action",
             "use one of " + spec_list(kScmpActions));
}

ScmpArg spec_arg(const json& a, const std::string& field) {
    if (!a.is_object())
        spec_bad(field, "is not an object", "{\"index\": 0, \"value\": 1, \"op\": ...}");
    ScmpArg arg;
    if (!a.contains("index"))
        spec_bad(field + ".index", "is missing", "the argument's number, 0..5");
    arg.index = static_cast<unsigned>(spec_uint(a["index"], field + ".index", 5));
    if (a.contains("value")) arg.value = spec_uint(a["value"], field + ".value", UINT64_MAX);
    if (a.contains("valueTwo"))
        arg.value_two = spec_uint(a["valueTwo"], field + ".valueTwo", UINT64_MAX);
    if (!a.contains("op"))
        spec_bad(field + ".op", "is missing", "use one of " + spec_list(kScmpOps));
    const std::string& op = spec_string(a["op"], field + ".op");
    for (auto& [name, o] : kScmpOps)
        if (op == name) {
            arg.op = o;
            return arg;
        }
    spec_bad(field + ".op", "\"" + op + "\" is not a seccomp operator",
             "use one of " + spec_list(kScmpOps));
}

void spec_syscalls(const json& list, SeccompSpec& s) {
    spec_array(list, "syscalls");
    for (std::size_t i = 0; i < list.size(); ++i) {
        const json& c = list[i];
        const std::string f = "syscalls[" + std::to_string(i) + "]";
        if (!c.is_object()) spec_bad(f, "is not an object", "{\"names\": [...], \"action\": ...}");
        if (!c.contains("names") || !c["names"].is_array() || c["names"].empty())
            spec_bad(f + ".names", "is missing or empty", "list the syscalls the rule is for");
        if (!c.contains("action")) spec_bad(f + ".action", "is missing", "e.g. SCMP_ACT_ERRNO");
        ScmpRule r;
        r.action = spec_action(c["action"], f + ".action");
        if (c.contains("errnoRet"))
            r.errno_ret =
                static_cast<std::uint16_t>(spec_uint(c["errnoRet"], f + ".errnoRet", 65535));
        if (c.contains("args")) {
            const json& args = spec_array(c["args"], f + ".args");
            if (args.size() > 6)
                spec_bad(f + ".args", "has " + std::to_string(args.size()) + " conditions",
                         "a syscall has at most 6 arguments: at most 6 conditions");
            for (std::size_t k = 0; k < args.size(); ++k)
                r.args.push_back(spec_arg(args[k], f + ".args[" + std::to_string(k) + "]"));
        }
        const json& names = c["names"];
        for (std::size_t k = 0; k < names.size(); ++k) {
            const std::string nf = f + ".names[" + std::to_string(k) + "]";
            r.name = spec_string(names[k], nf);
            if (r.name.empty()) spec_bad(nf, "is empty", "name a syscall (\"mkdir\")");
            s.rules.push_back(r);
        }
    }
}

} // namespace

std::optional<SeccompSpec> SeccompSpec::from_json(const json& j) {
    if (j.is_null()) return std::nullopt;
    if (!j.is_object())
        throw Error(Errc::invalid, "linux.seccomp is not an object",
                    "{\"defaultAction\": ..., \"syscalls\": [...]}");
    const bool has_syscalls = j.contains("syscalls") && !j["syscalls"].is_null() &&
                              !(j["syscalls"].is_array() && j["syscalls"].empty());
    // runc (specconv.SetupSeccomp): no default action and no syscalls is no filter at all
    if ((!j.contains("defaultAction") || j["defaultAction"] == "") && !has_syscalls)
        return std::nullopt;
    SeccompSpec s;
    if (!j.contains("defaultAction"))
        spec_bad("defaultAction", "is missing", "e.g. SCMP_ACT_ERRNO or SCMP_ACT_ALLOW");
    s.default_action = spec_action(j["defaultAction"], "defaultAction");
    if (j.contains("defaultErrnoRet") && !j["defaultErrnoRet"].is_null())
        s.default_errno_ret =
            static_cast<std::uint16_t>(spec_uint(j["defaultErrnoRet"], "defaultErrnoRet", 65535));
    if (j.contains("architectures") && !j["architectures"].is_null()) {
        const json& a = spec_array(j["architectures"], "architectures");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string f = "architectures[" + std::to_string(i) + "]";
            const std::string& name = spec_string(a[i], f);
            const char* found = nullptr;
            for (auto& [spec, lib] : kScmpArchs)
                if (name == spec) found = lib;
            if (!found)
                spec_bad(f, "\"" + name + "\" is not a seccomp architecture",
                         "use one of " + spec_list(kScmpArchs));
            s.architectures.push_back(found);
        }
    }
    if (j.contains("flags") && !j["flags"].is_null()) {
        s.flags = 0;
        const json& a = spec_array(j["flags"], "flags");
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string f = "flags[" + std::to_string(i) + "]";
            const std::string& name = spec_string(a[i], f);
            if (name == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
                throw Error(Errc::unsupported,
                            "linux.seccomp." + f + " " + name + " is not supported by gantry oci",
                            "it applies to a notify listener, which gantry does not hand off: "
                            "remove the flag");
            bool known = false;
            for (auto& [flag, bit] : kScmpFlags)
                if (name == flag) {
                    s.flags |= bit;
                    known = true;
                }
            if (!known)
                spec_bad(f, "\"" + name + "\" is not a seccomp filter flag",
                         "use one of " + spec_list(kScmpFlags));
        }
    }
    if (j.contains("listenerPath") && !j["listenerPath"].is_null() &&
        !spec_string(j["listenerPath"], "listenerPath").empty())
        throw Error(Errc::unsupported,
                    "linux.seccomp.listenerPath is not supported by gantry oci (it does not hand "
                    "the seccomp notify fd to a listener)",
                    "remove listenerPath and SCMP_ACT_NOTIFY, or run the bundle with runc");
    if (j.contains("listenerMetadata") && !j["listenerMetadata"].is_null())
        spec_string(j["listenerMetadata"], "listenerMetadata");
    if (has_syscalls) spec_syscalls(j["syscalls"], s);
    return s;
}

namespace {
template <class Table>
std::vector<std::string> spec_names(const Table& t) {
    std::vector<std::string> v;
    for (auto& e : t) v.emplace_back(e.first);
    return v;
}
} // namespace

std::vector<std::string> seccomp_action_names() {
    return spec_names(kScmpActions);
}
std::vector<std::string> seccomp_operator_names() {
    return spec_names(kScmpOps);
}
std::vector<std::string> seccomp_arch_names() {
    return spec_names(kScmpArchs);
}
std::vector<std::string> seccomp_flag_names() {
    return spec_names(kScmpFlags);
}

} // namespace gantry::oci
