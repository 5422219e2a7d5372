// The rules a loadable spec keeps beyond its syntax (validate() of spec_read.hpp): every problem
// is listed, not only the first, so `gantry cdi validate` names them all at once.
#include "cdi/spec_detail.hpp"
#include "cdi/spec_read.hpp"
#include "cdi/spec_versions.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace gantry::cdi {

using detail::index;

namespace {

bool env_ok(const std::string& e) {
    auto eq = e.find('=');
    return eq != std::string::npos && eq > 0;
}

bool bind_like(const Mount& m) {
    if (m.type.empty() || m.type == "bind" || m.type == "rbind") return true;
    return std::any_of(m.options.begin(), m.options.end(),
                       [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

const std::array<const char*, 6> kHookNames = {"prestart",       "createRuntime", "createContainer",
                                               "startContainer", "poststart",     "poststop"};

void validate_edits(const ContainerEdits& e, const std::string& p, std::vector<std::string>& out) {
    auto bad = [&](const std::string& path, const std::string& what) {
        out.push_back(path + ": " + what);
    };
    auto quoted = [](const std::string& s) { return nlohmann::json(s).dump(); };
    for (size_t i = 0; i < e.env.size(); ++i)
        if (!env_ok(e.env[i])) bad(index(p + ".env", i), quoted(e.env[i]) + " is not KEY=VALUE");
    for (size_t i = 0; i < e.device_nodes.size(); ++i) {
        const auto& d = e.device_nodes[i];
        std::string dp = index(p + ".deviceNodes", i);
        if (d.path.empty())
            bad(dp + ".path", "missing");
        else if (d.path[0] != '/')
            bad(dp + ".path", quoted(d.path) + " is not an absolute path");
        if (!d.host_path.empty() && d.host_path[0] != '/')
            bad(dp + ".hostPath", quoted(d.host_path) + " is not an absolute path");
        if (!(d.type.empty() || d.type == "b" || d.type == "c" || d.type == "u" || d.type == "p"))
            bad(dp + ".type", "invalid device type " + quoted(d.type) + " (one of b, c, u, p)");
        if (d.major < 0) bad(dp + ".major", "negative");
        if (d.minor < 0) bad(dp + ".minor", "negative");
        if (d.permissions != "none" &&
            !std::all_of(d.permissions.begin(), d.permissions.end(),
                         [](char c) { return c == 'r' || c == 'w' || c == 'm'; }))
            bad(dp + ".permissions", "invalid permissions " + quoted(d.permissions) +
                                         " (a subset of \"rwm\", or \"none\")");
    }
    for (size_t i = 0; i < e.hooks.size(); ++i) {
        const auto& h = e.hooks[i];
        std::string hp = index(p + ".hooks", i);
        if (std::find(kHookNames.begin(), kHookNames.end(), h.hook_name) == kHookNames.end())
            bad(hp + ".hookName", "invalid hook name " + quoted(h.hook_name) +
                                      " (one of prestart, createRuntime, createContainer, "
                                      "startContainer, poststart, poststop)");
        if (h.path.empty())
            bad(hp + ".path", "missing");
        else if (h.path[0] != '/')
            bad(hp + ".path", quoted(h.path) + " is not an absolute path");
        for (size_t j = 0; j < h.env.size(); ++j)
            if (!env_ok(h.env[j]))
                bad(index(hp + ".env", j), quoted(h.env[j]) + " is not KEY=VALUE");
        if (h.timeout && *h.timeout <= 0)
            bad(hp + ".timeout",
                std::to_string(*h.timeout) + " is not a positive number of seconds");
    }
    for (size_t i = 0; i < e.mounts.size(); ++i) {
        const auto& m = e.mounts[i];
        std::string mp = index(p + ".mounts", i);
        if (m.host_path.empty())
            bad(mp + ".hostPath", "missing");
        else if (bind_like(m) && m.host_path[0] != '/')
            bad(mp + ".hostPath", quoted(m.host_path) + " is not an absolute path");
        if (m.container_path.empty())
            bad(mp + ".containerPath", "missing");
        else if (m.container_path[0] != '/')
            bad(mp + ".containerPath", quoted(m.container_path) + " is not an absolute path");
    }
    std::vector<std::string> hosts, names;
    for (size_t i = 0; i < e.net_devices.size(); ++i) {
        const auto& n = e.net_devices[i];
        std::string np = index(p + ".netDevices", i);
        if (n.host_interface_name.empty()) bad(np + ".hostInterfaceName", "missing");
        if (n.name.empty()) bad(np + ".name", "missing");
        if (!n.host_interface_name.empty() &&
            std::find(hosts.begin(), hosts.end(), n.host_interface_name) != hosts.end())
            bad(np + ".hostInterfaceName", "duplicate " + quoted(n.host_interface_name));
        if (!n.name.empty() && std::find(names.begin(), names.end(), n.name) != names.end())
            bad(np + ".name", "duplicate " + quoted(n.name));
        hosts.push_back(n.host_interface_name);
        names.push_back(n.name);
    }
    if (e.intel_rdt) {
        const auto& id = e.intel_rdt->clos_id;
        if (id == "." || id == ".." || id.find('/') != std::string::npos ||
            id.find('\n') != std::string::npos)
            bad(p + ".intelRdt.closID", "invalid " + quoted(id));
    }
}

} // namespace

std::vector<std::string> validate(const Spec& s) {
    auto quoted = [](const std::string& x) { return nlohmann::json(x).dump(); };
    std::vector<std::string> out = check_version(s);
    if (s.kind.empty())
        out.push_back("kind: missing");
    else if (auto e = check_kind(s.kind); !e.empty())
        out.push_back("kind: " + e);
    for (const auto& [k, v] : s.annotations)
        if (k.empty()) out.push_back("annotations: empty key");
    if (s.devices.empty()) out.push_back("devices: no devices (a spec needs at least one)");
    for (size_t i = 0; i < s.devices.size(); ++i) {
        const auto& d = s.devices[i];
        std::string dp = index("devices", i);
        if (auto e = check_device_name(d.name); !e.empty()) out.push_back(dp + ".name: " + e);
        for (size_t j = 0; j < i; ++j)
            if (!d.name.empty() && s.devices[j].name == d.name) {
                out.push_back(dp + ".name: duplicate device name " + quoted(d.name) + " (also " +
                              index("devices", j) + ")");
                break;
            }
        for (const auto& [k, v] : d.annotations)
            if (k.empty()) out.push_back(dp + ".annotations: empty key");
        if (d.edits.empty())
            out.push_back(dp + ".containerEdits: empty (a device needs at least one edit)");
        validate_edits(d.edits, dp + ".containerEdits", out);
    }
    validate_edits(s.edits, "containerEdits", out);
    return out;
}

void finish_generated(Spec& spec) {
    spec.cdi_version = minimum_version(spec);
    if (auto problems = validate(spec); !problems.empty())
        throw Error(Errc::internal, "generated CDI spec is invalid: " + problems.front());
}

} // namespace gantry::cdi
