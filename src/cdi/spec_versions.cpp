#include "cdi/spec_versions.hpp"

#include "cdi/spec_detail.hpp"

#include <array>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>

namespace gantry::cdi {

using detail::index;

namespace {

void for_each_edits(const Spec& s,
                    const std::function<void(const ContainerEdits&, const std::string&)>& f) {
    for (size_t i = 0; i < s.devices.size(); ++i)
        f(s.devices[i].edits, index("devices", i) + ".containerEdits");
    f(s.edits, "containerEdits");
}

// Every feature that needs a version above 0.3.0, with the field that uses it.
std::vector<VersionNeed> needs(const Spec& s) {
    std::vector<VersionNeed> out;
    if (!s.annotations.empty()) out.push_back({"0.6.0", "annotations"});
    auto slash = s.kind.find('/');
    if (slash != std::string::npos && s.kind.find('.', slash) != std::string::npos)
        out.push_back({"0.6.0", "kind (a '.' in the class)"});
    for (size_t i = 0; i < s.devices.size(); ++i) {
        const auto& d = s.devices[i];
        if (!d.name.empty() && !detail::is_letter(d.name[0]))
            out.push_back({"0.5.0", index("devices", i) + ".name (starts with a non-letter)"});
        if (!d.annotations.empty()) out.push_back({"0.6.0", index("devices", i) + ".annotations"});
    }
    for_each_edits(s, [&](const ContainerEdits& e, const std::string& p) {
        for (size_t i = 0; i < e.mounts.size(); ++i)
            if (!e.mounts[i].type.empty())
                out.push_back({"0.4.0", index(p + ".mounts", i) + ".type"});
        for (size_t i = 0; i < e.device_nodes.size(); ++i)
            if (!e.device_nodes[i].host_path.empty())
                out.push_back({"0.5.0", index(p + ".deviceNodes", i) + ".hostPath"});
        if (e.intel_rdt) {
            out.push_back({"0.7.0", p + ".intelRdt"});
            if (!e.intel_rdt->schemata.empty()) out.push_back({"1.1.0", p + ".intelRdt.schemata"});
            if (e.intel_rdt->enable_monitoring)
                out.push_back({"1.1.0", p + ".intelRdt.enableMonitoring"});
        }
        if (!e.additional_gids.empty()) out.push_back({"0.7.0", p + ".additionalGids"});
        if (!e.net_devices.empty()) out.push_back({"1.1.0", p + ".netDevices"});
    });
    return out;
}

std::optional<std::array<int, 3>> parse_version(const std::string& v) {
    std::string s = (!v.empty() && v[0] == 'v') ? v.substr(1) : v;
    std::array<int, 3> out{};
    size_t pos = 0;
    for (int i = 0; i < 3; ++i) {
        size_t start = pos;
        while (pos < s.size() && detail::is_digit(s[pos]) && pos - start < 6) ++pos;
        if (pos == start || (pos - start > 1 && s[start] == '0')) return std::nullopt;
        out[static_cast<size_t>(i)] = std::atoi(s.substr(start, pos - start).c_str());
        if (i < 2) {
            if (pos >= s.size() || s[pos] != '.') return std::nullopt;
            ++pos;
        }
    }
    if (pos != s.size()) return std::nullopt;
    return out;
}

} // namespace

const std::vector<std::string>& known_versions() {
    static const std::vector<std::string> v = {"0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0",
                                               "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"};
    return v;
}

std::optional<int> compare_versions(const std::string& a, const std::string& b) {
    auto x = parse_version(a), y = parse_version(b);
    if (!x || !y) return std::nullopt;
    return *x < *y ? -1 : (*x > *y ? 1 : 0);
}

VersionNeed required_version(const Spec& spec) {
    VersionNeed highest{"0.3.0", "the CDI format itself"};
    for (auto& n : needs(spec))
        if (compare_versions(n.version, highest.version).value_or(0) > 0) highest = std::move(n);
    return highest;
}

std::string minimum_version(const Spec& spec) {
    return required_version(spec).version;
}

std::vector<std::string> check_version(const Spec& s) {
    std::vector<std::string> out;
    if (s.cdi_version.empty()) {
        out.push_back("cdiVersion: missing");
        return out;
    }
    bool known = false;
    for (const auto& k : known_versions())
        if (compare_versions(s.cdi_version, k) == 0) known = true;
    if (!known) {
        out.push_back("cdiVersion: unknown version " + nlohmann::json(s.cdi_version).dump() +
                      " (known: " + known_versions().front() + " to " + known_versions().back() +
                      ")");
        return out;
    }
    auto need = required_version(s);
    if (compare_versions(s.cdi_version, need.version).value_or(0) < 0)
        out.push_back("cdiVersion: " + s.cdi_version + " is too low: " + need.field +
                      " needs at least " + need.version);
    return out;
}

} // namespace gantry::cdi
