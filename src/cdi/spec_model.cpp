#include "cdi/spec_model.hpp"

#include "cdi/spec_detail.hpp"

#include <nlohmann/json.hpp>

namespace gantry::cdi {

using detail::is_alnum;
using detail::is_letter;

namespace {

std::string check_vendor_or_class(const std::string& n, const char* what) {
    if (n.empty()) return std::string("empty ") + what;
    auto q = nlohmann::json(n).dump();
    if (!is_letter(n[0])) return std::string(what) + " " + q + " should start with a letter";
    for (size_t i = 1; i + 1 < n.size(); ++i) {
        char c = n[i];
        if (!(is_alnum(c) || c == '_' || c == '-' || c == '.'))
            return std::string("invalid character '") + c + "' in " + what + " " + q;
    }
    if (!is_alnum(n.back()))
        return std::string(what) + " " + q + " should end with a letter or digit";
    return {};
}

} // namespace

bool ContainerEdits::empty() const {
    return env.empty() && device_nodes.empty() && net_devices.empty() && hooks.empty() &&
           mounts.empty() && !intel_rdt && additional_gids.empty();
}

std::string Spec::vendor() const {
    auto p = kind.find('/');
    return p == std::string::npos ? std::string() : kind.substr(0, p);
}

std::string Spec::class_name() const {
    auto p = kind.find('/');
    return p == std::string::npos ? kind : kind.substr(p + 1);
}

const Device* Spec::find(const std::string& name) const {
    for (const auto& d : devices)
        if (d.name == name) return &d;
    return nullptr;
}

Format format_for(const std::filesystem::path& path) {
    return path.extension() == ".json" ? Format::json : Format::yaml;
}

std::string check_vendor(const std::string& vendor) {
    return check_vendor_or_class(vendor, "vendor");
}

std::string check_class(const std::string& cls) {
    return check_vendor_or_class(cls, "class");
}

std::string check_kind(const std::string& kind) {
    auto p = kind.find('/');
    if (p == std::string::npos)
        return nlohmann::json(kind).dump() + " is not vendor/class (e.g. nvidia.com/gpu)";
    if (auto e = check_vendor(kind.substr(0, p)); !e.empty()) return e;
    return check_class(kind.substr(p + 1));
}

std::string check_device_name(const std::string& n) {
    if (n.empty()) return "empty device name";
    auto q = nlohmann::json(n).dump();
    if (!is_alnum(n[0])) return "device name " + q + " should start with a letter or digit";
    for (size_t i = 1; i + 1 < n.size(); ++i) {
        char c = n[i];
        if (!(is_alnum(c) || c == '_' || c == '-' || c == '.' || c == ':'))
            return std::string("invalid character '") + c + "' in device name " + q;
    }
    if (!is_alnum(n.back())) return "device name " + q + " should end with a letter or digit";
    return {};
}

std::optional<QualifiedName> parse_qualified_name(const std::string& s) {
    if (s.empty() || s[0] == '/') return std::nullopt;
    auto eq = s.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string kind = s.substr(0, eq), name = s.substr(eq + 1);
    auto slash = kind.find('/');
    if (slash == std::string::npos) return std::nullopt;
    QualifiedName q{kind.substr(0, slash), kind.substr(slash + 1), name};
    if (!check_vendor(q.vendor).empty() || !check_class(q.cls).empty() ||
        !check_device_name(q.name).empty())
        return std::nullopt;
    return q;
}

} // namespace gantry::cdi
