#include "analyze/licence_check.hpp"

#include "gpu_components/table.hpp"
#include "util/config_file.hpp"
#include "util/error.hpp"
#include "util/spelling.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <map>

namespace gantry::analyze {

namespace {

constexpr text::Spelling<LicenceCheck> kModes[] = {
    {LicenceCheck::off, "off"}, {LicenceCheck::warn, "warn"}, {LicenceCheck::refuse, "refuse"}};

} // namespace

const char* to_string(LicenceCheck m) {
    return text::word_for(kModes, m, "warn");
}

LicenceCheck parse_licence_check(const std::string& v, const std::string& where) {
    if (auto m = text::value_for(kModes, v)) return *m;
    throw Error(Errc::usage, where + " \"" + v + "\" is not refuse, warn or off",
                "write refuse, warn or off");
}

namespace {

constexpr const char* kExample = "e.g. `licence_check: {default: warn, registries: {docker.io: "
                                 "refuse}}` (docs/analyze.md)";

[[noreturn]] void bad(const std::string& file, const yaml::Node& n, const std::string& what) {
    throw Error(Errc::invalid, file + " line " + std::to_string(n.line) + ": " + what, kExample);
}

LicenceCheck mode_of(const std::string& file, const yaml::Node& n, const std::string& key) {
    if (!n.is_scalar()) bad(file, n, key + " is not refuse, warn or off");
    try {
        return parse_licence_check(n.value, file + " line " + std::to_string(n.line) + ": " + key);
    } catch (const Error& e) {
        throw Error(Errc::invalid, e.message(), kExample);
    }
}

} // namespace

LicencePolicy parse_licence_policy(const std::string& text, const std::string& file) {
    LicencePolicy p;
    yaml::Node doc = config_file::parse(text, file, kExample);
    config_file::check_keys(doc, file);
    if (doc.is_null()) return p;
    if (!doc.is_map()) bad(file, doc, "gantry's config file is not a mapping");
    const yaml::Node* lc = doc.find("licence_check");
    if (!lc || lc->is_null()) return p;
    if (lc->is_scalar()) {
        p.fallback = mode_of(file, *lc, "licence_check");
        return p;
    }
    if (!lc->is_map()) bad(file, *lc, "licence_check is not a mode nor a mapping");
    for (auto& [k, v] : lc->entries) {
        if (k.value == "default") {
            p.fallback = mode_of(file, v, "licence_check.default");
        } else if (k.value == "registries") {
            if (!v.is_map()) bad(file, v, "licence_check.registries is not a mapping");
            for (auto& [rk, rv] : v.entries)
                p.registries.emplace_back(
                    rk.value, mode_of(file, rv, "licence_check.registries." + rk.value));
        } else if (k.value == "public") {
            if (!v.is_seq()) bad(file, v, "licence_check.public is not a list of registries");
            p.public_registries.clear();
            for (auto& i : v.items) {
                if (!i.is_scalar() || i.value.empty())
                    bad(file, i, "an item of licence_check.public is not a registry name");
                p.public_registries.push_back(i.value);
            }
        } else {
            bad(file, k,
                "licence_check has no key \"" + k.value +
                    "\" (it has default, registries, public)");
        }
    }
    return p;
}

LicencePolicy load_licence_policy() {
    std::string file = config_file::path();
    if (file.empty()) return {};
    return parse_licence_policy(config_file::read(file), file);
}

LicenceCheck licence_mode(const LicencePolicy& p, const std::string& registry,
                          const std::optional<std::string>& flag) {
    if (flag) return parse_licence_check(*flag, "--licence-check");
    for (auto& [r, m] : p.registries)
        if (r == registry) return m;
    return p.fallback;
}

PushLicenceSummary push_licence_summary(const Report& r, const LicencePolicy& p,
                                        const std::string& registry, const std::string& image) {
    PushLicenceSummary s;
    bool is_public = std::find(p.public_registries.begin(), p.public_registries.end(), registry) !=
                     p.public_registries.end();
    std::vector<std::string> rules = {"GPU-DRIVER-IN-IMAGE", "VENDOR-FILE-IN-LOWER-LAYER"};
    for (auto& l : gpu_components::table().lists) rules.push_back(l.rule);
    if (is_public) rules.push_back("NGC-CONTAINER-LICENSE");
    for (auto& f : r.findings)
        if (std::find(rules.begin(), rules.end(), f.id) != rules.end()) s.findings.push_back(&f);
    if (r.gpu.empty()) return s;
    std::map<std::string, std::uint64_t> files; // component name -> files in the final image
    for (auto& c : r.gpu.components)
        if (c.final_files) files[c.name] += c.final_files;
    std::string what;
    std::size_t n = 0;
    for (auto& [name, count] : files) {
        if (n++ == 3) {
            what += ", ...";
            break;
        }
        what += (what.empty() ? "" : ", ") + name + " (" + std::to_string(count) + ")";
    }
    s.line = "GPU vendor files: " + (what.empty() ? std::string("none in the final image") : what);
    if (s.findings.empty()) {
        s.line += "; no licence findings";
    } else {
        s.line += "; findings:";
        for (auto* f : s.findings)
            s.line += " " + f->id +
                      (f->subject.count ? " (" + std::to_string(f->subject.count) + ")" : "");
    }
    s.line += "; details: gantry analyze " + image;
    return s;
}

} // namespace gantry::analyze
