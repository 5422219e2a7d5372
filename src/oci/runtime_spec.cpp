#include "oci/runtime_spec.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace gantry::oci {

using json = nlohmann::json;

const std::vector<std::string>& all_capabilities() {
    static const std::vector<std::string> caps = {"CAP_CHOWN",
                                                  "CAP_DAC_OVERRIDE",
                                                  "CAP_DAC_READ_SEARCH",
                                                  "CAP_FOWNER",
                                                  "CAP_FSETID",
                                                  "CAP_KILL",
                                                  "CAP_SETGID",
                                                  "CAP_SETUID",
                                                  "CAP_SETPCAP",
                                                  "CAP_LINUX_IMMUTABLE",
                                                  "CAP_NET_BIND_SERVICE",
                                                  "CAP_NET_BROADCAST",
                                                  "CAP_NET_ADMIN",
                                                  "CAP_NET_RAW",
                                                  "CAP_IPC_LOCK",
                                                  "CAP_IPC_OWNER",
                                                  "CAP_SYS_MODULE",
                                                  "CAP_SYS_RAWIO",
                                                  "CAP_SYS_CHROOT",
                                                  "CAP_SYS_PTRACE",
                                                  "CAP_SYS_PACCT",
                                                  "CAP_SYS_ADMIN",
                                                  "CAP_SYS_BOOT",
                                                  "CAP_SYS_NICE",
                                                  "CAP_SYS_RESOURCE",
                                                  "CAP_SYS_TIME",
                                                  "CAP_SYS_TTY_CONFIG",
                                                  "CAP_MKNOD",
                                                  "CAP_LEASE",
                                                  "CAP_AUDIT_WRITE",
                                                  "CAP_AUDIT_CONTROL",
                                                  "CAP_SETFCAP",
                                                  "CAP_MAC_OVERRIDE",
                                                  "CAP_MAC_ADMIN",
                                                  "CAP_SYSLOG",
                                                  "CAP_WAKE_ALARM",
                                                  "CAP_BLOCK_SUSPEND",
                                                  "CAP_AUDIT_READ",
                                                  "CAP_PERFMON",
                                                  "CAP_BPF",
                                                  "CAP_CHECKPOINT_RESTORE"};
    return caps;
}

const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> caps = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE"};
    return caps;
}

const std::vector<std::string>& default_masked_paths() {
    // runc 1.1's specconv.Example(), in its order, then docker's addition
    static const std::vector<std::string> p = {"/proc/acpi",
                                               "/proc/asound",
                                               "/proc/kcore",
                                               "/proc/keys",
                                               "/proc/latency_stats",
                                               "/proc/timer_list",
                                               "/proc/timer_stats",
                                               "/proc/sched_debug",
                                               "/sys/firmware",
                                               "/proc/scsi",
                                               "/sys/devices/virtual/powercap"};
    return p;
}

std::span<const std::string> runc_masked_paths() {
    return std::span(default_masked_paths()).first(10); // all but powercap
}

const std::vector<std::string>& default_readonly_paths() {
    static const std::vector<std::string> p = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                               "/proc/sysrq-trigger"};
    return p;
}

const std::vector<DefaultDevice>& default_devices() {
    using R = DeviceRule;
    static const std::vector<DefaultDevice> d = {
        {"", R{true, 'c', std::nullopt, std::nullopt, "m"}},
        {"", R{true, 'b', std::nullopt, std::nullopt, "m"}},
        {"/dev/null", R{true, 'c', 1, 3, "rwm"}},
        {"/dev/random", R{true, 'c', 1, 8, "rwm"}},
        {"/dev/full", R{true, 'c', 1, 7, "rwm"}},
        {"/dev/tty", R{true, 'c', 5, 0, "rwm"}},
        {"/dev/zero", R{true, 'c', 1, 5, "rwm"}},
        {"/dev/urandom", R{true, 'c', 1, 9, "rwm"}},
        {"", R{true, 'c', 136, std::nullopt, "rwm"}}, // /dev/pts/*
        {"", R{true, 'c', 5, 2, "rwm"}},              // /dev/ptmx
        {"", R{true, 'c', 10, 200, "rwm"}}};          // /dev/net/tun
    return d;
}

std::vector<DeviceNode> default_device_nodes() {
    std::vector<DeviceNode> nodes;
    for (const auto& d : default_devices()) {
        if (d.path.empty()) continue;
        DeviceNode n;
        n.path = d.path;
        n.type = d.rule.type;
        n.major = d.rule.major.value_or(0);
        n.minor = d.rule.minor.value_or(0);
        n.file_mode = 0666;
        nodes.push_back(std::move(n));
    }
    return nodes;
}

bool RuntimeSpec::has_namespace(const std::string& ns) const {
    return std::find(namespaces.begin(), namespaces.end(), ns) != namespaces.end() ||
           namespace_paths.count(ns) > 0;
}

json RuntimeSpec::to_json() const {
    json j;
    j["ociVersion"] = "1.0.2";
    json proc;
    proc["terminal"] = terminal;
    proc["user"] = {{"uid", uid}, {"gid", gid}};
    if (!additional_gids.empty()) proc["user"]["additionalGids"] = additional_gids;
    if (umask) proc["user"]["umask"] = *umask;
    proc["args"] = args;
    proc["env"] = env;
    proc["cwd"] = cwd;
    proc["capabilities"] = {{"bounding", capabilities.bounding},
                            {"effective", capabilities.effective},
                            {"permitted", capabilities.permitted}};
    if (!capabilities.inheritable.empty())
        proc["capabilities"]["inheritable"] = capabilities.inheritable;
    if (!capabilities.ambient.empty()) proc["capabilities"]["ambient"] = capabilities.ambient;
    proc["noNewPrivileges"] = no_new_privileges;
    if (oom_score_adj) proc["oomScoreAdj"] = *oom_score_adj;
    if (!apparmor_profile.empty()) proc["apparmorProfile"] = apparmor_profile;
    if (scheduler) proc["scheduler"] = oci::to_json(*scheduler);
    if (io_priority) proc["ioPriority"] = oci::to_json(*io_priority);
    if (!rlimits.empty()) {
        proc["rlimits"] = json::array();
        for (auto& r : rlimits)
            proc["rlimits"].push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
    }
    j["process"] = proc;
    j["root"] = {{"path", root_path}, {"readonly", root_readonly}};
    if (!hostname.empty()) j["hostname"] = hostname;
    if (!domainname.empty()) j["domainname"] = domainname;
    auto maps = [](const std::vector<IdMapping>& v) {
        json a = json::array();
        for (auto& m : v)
            a.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
        return a;
    };
    j["mounts"] = json::array();
    for (auto& m : mounts) {
        json e{{"destination", m.destination}, {"type", m.type}, {"source", m.source}};
        if (!m.options.empty()) e["options"] = m.options;
        if (!m.uid_mappings.empty()) e["uidMappings"] = maps(m.uid_mappings);
        if (!m.gid_mappings.empty()) e["gidMappings"] = maps(m.gid_mappings);
        j["mounts"].push_back(e);
    }
    json lin;
    lin["namespaces"] = json::array();
    for (auto& n : namespaces) lin["namespaces"].push_back({{"type", n}});
    for (auto& [type, path] : namespace_paths)
        lin["namespaces"].push_back({{"type", type}, {"path", path}});
    if (!uid_mappings.empty()) lin["uidMappings"] = maps(uid_mappings);
    if (!gid_mappings.empty()) lin["gidMappings"] = maps(gid_mappings);
    if (!devices.empty()) {
        lin["devices"] = json::array();
        for (auto& d : devices)
            lin["devices"].push_back({{"path", d.path},
                                      {"type", std::string(1, d.type)},
                                      {"major", d.major},
                                      {"minor", d.minor},
                                      {"fileMode", d.file_mode},
                                      {"uid", d.uid},
                                      {"gid", d.gid}});
    }
    lin["maskedPaths"] = masked_paths;
    lin["readonlyPaths"] = readonly_paths;
    if (!rootfs_propagation.empty()) lin["rootfsPropagation"] = rootfs_propagation;
    if (!sysctl.empty()) lin["sysctl"] = sysctl;
    if (memory_policy) lin["memoryPolicy"] = oci::to_json(*memory_policy);
    if (!personality.empty()) lin["personality"] = {{"domain", personality}};
    LinuxResources limits = resources;
    limits.devices = device_rules;
    json res = limits.to_json();
    if (!res.empty()) lin["resources"] = res;
    if (seccomp)
        lin["seccomp"] = {
            {"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", json::array({{{"names", seccomp_profile(capabilities.bounding).denied},
                                       {"action", "SCMP_ACT_ERRNO"},
                                       {"errnoRet", 1}}})}};
    j["linux"] = lin;
    if (!hooks.empty()) {
        json h;
        for (auto& [stage, list] : hooks) {
            h[stage] = json::array();
            for (auto& k : list) {
                json e{{"path", k.path}};
                if (!k.args.empty()) e["args"] = k.args;
                if (!k.env.empty() || !k.inherit_env) e["env"] = k.env;
                if (k.timeout) e["timeout"] = *k.timeout;
                h[stage].push_back(e);
            }
        }
        j["hooks"] = h;
    }
    if (!annotations.empty()) j["annotations"] = annotations;
    return j;
}

namespace {

// linux.devices[].path with its trailing slashes dropped ("/dev/fuse/" is /dev/fuse): runc
// joins it onto the root with Go's filepath.Join, which cleans it so.
std::string device_path_cleaned(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

// An integer field read as runc's Go decoder reads it: a JSON integer within T's range, else
// Error(invalid) naming the field. nlohmann's own get<T>() converts 1e120 to an integer type
// (undefined behaviour: fuzz_oci_bundle's finding) and wraps -1 into 4294967295.
template <typename T>
T integer(const json& v, const std::string& field) {
    if (v.is_number_unsigned()) {
        auto u = v.get<std::uint64_t>();
        if (std::in_range<T>(u)) return static_cast<T>(u);
    } else if (v.is_number_integer()) {
        auto i = v.get<std::int64_t>();
        if (std::in_range<T>(i)) return static_cast<T>(i);
    }
    throw Error(Errc::invalid,
                "invalid runtime spec: " + field + " is " + v.dump(256).substr(0, 64) +
                    ", not an integer from " + std::to_string(std::numeric_limits<T>::min()) +
                    " to " + std::to_string(std::numeric_limits<T>::max()),
                "write " + field + " as a whole number in that range");
}

// OBJ[KEY] as integer(), FALLBACK when OBJ has no KEY (OBJ must be an object, as value()).
template <typename T>
T integer_or(const json& obj, const char* key, T fallback, const std::string& where) {
    auto it = obj.find(key);
    if (!obj.is_object()) (void)obj.at(key); // json's type_error, as value() gave
    return it == obj.end() ? fallback : integer<T>(*it, where + "." + key);
}

} // namespace

RuntimeSpec RuntimeSpec::from_json(const json& j) {
    try {
        RuntimeSpec s;
        const json& p = j.at("process");
        s.args = p.at("args").get<std::vector<std::string>>();
        s.env = p.value("env", std::vector<std::string>{});
        s.cwd = p.value("cwd", std::string("/"));
        s.terminal = p.value("terminal", false);
        s.no_new_privileges = p.value("noNewPrivileges", false);
        s.apparmor_profile = p.value("apparmorProfile", std::string());
        if (p.contains("user")) {
            const json& u = p["user"];
            s.uid = integer_or<std::uint32_t>(u, "uid", 0, "process.user");
            s.gid = integer_or<std::uint32_t>(u, "gid", 0, "process.user");
            for (auto& g : u.value("additionalGids", json::array()))
                s.additional_gids.push_back(
                    integer<std::uint32_t>(g, "process.user.additionalGids[]"));
            if (u.contains("umask"))
                s.umask = integer<std::uint32_t>(u["umask"], "process.user.umask");
        }
        if (p.contains("capabilities")) {
            const json& c = p["capabilities"];
            auto set = [&](const char* name) { return c.value(name, std::vector<std::string>{}); };
            s.capabilities = {set("bounding"), set("effective"), set("permitted"),
                              set("inheritable"), set("ambient")};
        }
        if (p.contains("oomScoreAdj")) {
            auto v = integer<std::int64_t>(p["oomScoreAdj"], "process.oomScoreAdj");
            if (v < -1000 || v > 1000)
                throw Error(Errc::invalid,
                            "process.oomScoreAdj " + std::to_string(v) + " is out of range",
                            "the kernel takes -1000 to 1000 (proc(5), oom_score_adj)");
            s.oom_score_adj = static_cast<int>(v);
        }
        if (p.contains("scheduler") && !p["scheduler"].is_null())
            s.scheduler = parse_scheduler(p["scheduler"]);
        if (p.contains("ioPriority") && !p["ioPriority"].is_null())
            s.io_priority = parse_io_priority(p["ioPriority"]);
        for (auto& r : p.value("rlimits", json::array()))
            s.rlimits.push_back({r.at("type").get<std::string>(),
                                 integer<std::uint64_t>(r.at("soft"), "process.rlimits[].soft"),
                                 integer<std::uint64_t>(r.at("hard"), "process.rlimits[].hard")});
        s.root_path = j.at("root").at("path").get<std::string>();
        s.root_readonly = j.at("root").value("readonly", false);
        s.hostname = j.value("hostname", std::string());
        s.domainname = j.value("domainname", std::string());
        auto maps = [](const json& a) {
            std::vector<IdMapping> v;
            for (auto& m : a)
                v.push_back({integer<std::uint32_t>(m.at("containerID"), "containerID"),
                             integer<std::uint32_t>(m.at("hostID"), "hostID"),
                             integer<std::uint32_t>(m.at("size"), "size")});
            return v;
        };
        for (auto& m : j.value("mounts", json::array())) {
            s.mounts.push_back(
                {m.at("destination"), m.value("type", std::string("bind")),
                 m.value("source", std::string()), m.value("options", std::vector<std::string>{}),
                 m.contains("uidMappings") ? maps(m["uidMappings"]) : std::vector<IdMapping>{},
                 m.contains("gidMappings") ? maps(m["gidMappings"]) : std::vector<IdMapping>{}});
            // a bind or rbind option makes a bind mount whatever the type says, as runc's
            // specconv (MS_BIND): `runc spec --rootless` binds /sys with type "none"
            auto& o = s.mounts.back().options;
            if (std::find(o.begin(), o.end(), "bind") != o.end() ||
                std::find(o.begin(), o.end(), "rbind") != o.end())
                s.mounts.back().type = "bind";
        }
        if (j.contains("linux")) {
            const json& l = j["linux"];
            for (auto& n : l.value("namespaces", json::array())) {
                std::string path = n.value("path", std::string());
                if (path.empty())
                    s.namespaces.push_back(n.at("type"));
                else
                    s.namespace_paths[n.at("type").get<std::string>()] = path;
            }
            if (l.contains("uidMappings")) s.uid_mappings = maps(l["uidMappings"]);
            if (l.contains("gidMappings")) s.gid_mappings = maps(l["gidMappings"]);
            s.masked_paths = l.value("maskedPaths", std::vector<std::string>{});
            s.rootfs_propagation = l.value("rootfsPropagation", std::string());
            s.readonly_paths = l.value("readonlyPaths", std::vector<std::string>{});
            s.sysctl = l.value("sysctl", std::map<std::string, std::string>{});
            if (l.contains("memoryPolicy") && !l["memoryPolicy"].is_null())
                s.memory_policy = parse_memory_policy(l["memoryPolicy"]);
            if (l.contains("personality") && !l["personality"].is_null())
                s.personality = parse_personality(l["personality"]);
            for (auto& d : l.value("devices", json::array()))
                s.devices.push_back(
                    {device_path_cleaned(d.at("path").get<std::string>()), "",
                     d.value("type", std::string("c"))[0],
                     integer_or<std::int64_t>(d, "major", 0, "linux.devices[]"),
                     integer_or<std::int64_t>(d, "minor", 0, "linux.devices[]"),
                     integer_or<std::uint32_t>(d, "fileMode", 0666, "linux.devices[]"),
                     integer_or<std::uint32_t>(d, "uid", 0, "linux.devices[]"),
                     integer_or<std::uint32_t>(d, "gid", 0, "linux.devices[]")});
            s.seccomp = l.contains("seccomp");
            if (l.contains("resources") && l["resources"].is_object()) {
                json limits = l["resources"];
                limits.erase("devices"); // the device cgroup's rules, not a limit
                s.resources = LinuxResources::from_json(limits);
            }
        }
        s.annotations = j.value("annotations", std::map<std::string, std::string>{});
        // the six OCI hook stages (a caller's config.json: podman's oci-hooks.d, CDI hooks)
        for (const char* stage : {"prestart", "createRuntime", "createContainer", "startContainer",
                                  "poststart", "poststop"})
            for (auto& h : j.value("hooks", json::object()).value(stage, json::array()))
                s.hooks[stage].push_back(
                    {h.at("path"), h.value("args", std::vector<std::string>{}),
                     h.value("env", std::vector<std::string>{}),
                     h.contains("timeout")
                         ? std::optional<int>(integer<int>(h["timeout"], "hooks[].timeout"))
                         : std::nullopt,
                     !h.contains("env") || h["env"].is_null()});
        return s;
    } catch (const json::exception& e) {
        throw Error(Errc::invalid, std::string("invalid runtime spec: ") + e.what());
    }
}

MountIdmap mount_idmap(const Mount& m) {
    MountIdmap how =
        m.uid_mappings.empty() && m.gid_mappings.empty() ? MountIdmap::none : MountIdmap::top;
    for (auto& o : m.options)
        if (o == "ridmap")
            return MountIdmap::recursive;
        else if (o == "idmap")
            how = MountIdmap::top;
    return how;
}

} // namespace gantry::oci
