#include "gpu_components/recognise.hpp"

#include <algorithm>
#include <cctype>
#include <fnmatch.h>
#include <map>
#include <memory>

namespace gantry::gpu_components {

namespace {

std::string_view base_name(std::string_view p) {
    auto s = p.rfind('/');
    return s == std::string_view::npos ? p : p.substr(s + 1);
}

std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

bool glob(const std::string& pattern, std::string_view s) {
    return ::fnmatch(pattern.c_str(), std::string(s).c_str(), 0) == 0;
}

bool is_wild(char c) {
    return c == '*' || c == '?' || c == '[';
}

// The globs of a table indexed by their literal parts: a file-name glob by the first two
// characters of its literal prefix, a path glob by its longest literal run (the path must
// contain it), so that a file of an image is compared with a few globs, not all.
struct Index {
    struct Glob {
        std::size_t component;
        const std::string* pattern;
    };
    std::map<std::string, std::vector<Glob>, std::less<>> by_prefix;   // file-name globs
    std::vector<Glob> file_rest;                                       // no 2-char prefix
    std::vector<std::pair<std::string, std::vector<Glob>>> by_literal; // path globs

    explicit Index(const Table& t) {
        for (std::size_t i = 0; i < t.components.size(); ++i) {
            for (auto& f : t.components[i].files) {
                std::size_t n = 0;
                while (n < f.size() && !is_wild(f[n])) ++n;
                if (n >= 2)
                    by_prefix[f.substr(0, 2)].push_back({i, &f});
                else
                    file_rest.push_back({i, &f});
            }
            for (auto& p : t.components[i].paths) {
                std::string best, run;
                for (char c : p + "*") {
                    if (is_wild(c) || c == ']') {
                        if (run.size() > best.size()) best = run;
                        run.clear();
                    } else {
                        run += c;
                    }
                }
                auto it = std::find_if(by_literal.begin(), by_literal.end(),
                                       [&](auto& e) { return e.first == best; });
                if (it == by_literal.end())
                    by_literal.push_back({best, {{i, &p}}});
                else
                    it->second.push_back({i, &p});
            }
        }
    }
};

const Index& index_of(const Table& t) {
    // The compiled-in table is indexed once; another table (tests) gets an index per call.
    static const Index compiled(table());
    if (&t == &table()) return compiled;
    thread_local std::unique_ptr<Index> other;
    thread_local const Table* other_of = nullptr;
    if (other_of != &t) other = std::make_unique<Index>(t), other_of = &t;
    return *other;
}

struct Marker {
    const char* spdx;
    const char* name;
    const char* all[2]; // both (the second may be null)
    const char* none;   // and not this one (null: no condition)
};
// Common open-source licences by phrases of their texts (the licences' own wording).
constexpr Marker kOpenSource[] = {
    {"Apache-2.0", "Apache License 2.0", {"Apache License", "Version 2.0"}, nullptr},
    {"NCSA",
     "University of Illinois/NCSA Open Source License",
     {"University of Illinois/NCSA Open Source License", nullptr},
     nullptr},
    {"BSD-3-Clause",
     "BSD 3-Clause License",
     {"Redistribution and use in source and binary forms", "Neither the name"},
     nullptr},
    {"BSD-2-Clause",
     "BSD 2-Clause License",
     {"Redistribution and use in source and binary forms", nullptr},
     "Neither the name"},
    {"MIT", "MIT License", {"Permission is hereby granted, free of charge", nullptr}, nullptr},
};

bool has_all(std::string_view text, const std::vector<std::string>& markers) {
    if (markers.empty()) return false;
    for (auto& m : markers)
        if (text.find(m) == std::string_view::npos) return false;
    return true;
}

} // namespace

bool is_notice_file(std::string_view path, const Table& t) {
    if (path.find(".dist-info/") != std::string_view::npos) return true; // a wheel's metadata
    std::string b = lower(base_name(path));
    for (const char* p : {"eula", "license", "licence", "notice", "copying", "copyright",
                          "ngc-dl-container-license", "third_party_notices", "readme"})
        if (b.starts_with(p)) return true;
    for (auto& g : t.notice_files)
        if (glob(g, b)) return true;
    return b == "version.json" || b == "version.txt";
}

namespace {

// auditwheel's name for a library it bundles into a wheel: "libcudart-9f1e2d3c.so.13" (the
// name, '-', 8 hex digits of the content's hash, the rest): the name without the hash, else "".
std::string unhashed(std::string_view base) {
    auto so = base.find(".so");
    if (so == std::string_view::npos || so < 10 || base[so - 9] != '-') return {};
    for (std::size_t i = so - 8; i < so; ++i)
        if (!std::isxdigit(static_cast<unsigned char>(base[i]))) return {};
    return std::string(base.substr(0, so - 9)) + std::string(base.substr(so));
}

} // namespace

const Component* component_of(std::string_view path, bool elf, const Table& t) {
    if (is_notice_file(path, t)) return nullptr;
    if (std::string u = unhashed(base_name(path)); !u.empty())
        if (const Component* c = component_of(u, elf, t)) return c;
    const Index& ix = index_of(t);
    std::size_t best = t.components.size();
    auto consider = [&](const Index::Glob& g, std::string_view subject) {
        if (g.component >= best) return;
        const Component& c = t.components[g.component];
        if (c.elf && !elf) return;
        if (glob(*g.pattern, subject)) best = g.component;
    };
    std::string_view base = base_name(path);
    if (base.size() >= 2)
        if (auto it = ix.by_prefix.find(base.substr(0, 2)); it != ix.by_prefix.end())
            for (auto& g : it->second) consider(g, base);
    for (auto& g : ix.file_rest) consider(g, base);
    for (auto& [lit, globs] : ix.by_literal)
        if (path.find(lit) != std::string_view::npos)
            for (auto& g : globs) consider(g, path);
    return best < t.components.size() ? &t.components[best] : nullptr;
}

bool listed_in(const Component& c, std::string_view list) {
    return std::find(c.listed_in.begin(), c.listed_in.end(), list) != c.listed_in.end();
}

std::optional<LicenceText> identify_licence(std::string_view text, const Table& t) {
    for (auto& l : t.lists)
        if (has_all(text, l.markers)) {
            const Licence* lic = t.licence(l.licence);
            return LicenceText{lic->id, lic->name, l.id, lic->open_source};
        }
    for (auto& l : t.licences)
        if (has_all(text, l.markers)) return LicenceText{l.id, l.name, "", l.open_source};
    for (auto& m : kOpenSource) {
        bool ok = true;
        for (const char* s : m.all)
            if (s && text.find(s) == std::string_view::npos) ok = false;
        if (ok && m.none && text.find(m.none) != std::string_view::npos) ok = false;
        if (ok) return LicenceText{m.spdx, m.name, "", true};
    }
    return std::nullopt;
}

bool package_matches(const Component& c, std::string_view package) {
    std::string p = lower(package);
    for (auto& c2 : p)
        if (c2 == '_') c2 = '-'; // pip: vendor_lib -> vendor-lib (PEP 503)
    for (auto& g : c.packages)
        if (glob(g, p)) return true;
    return false;
}

const Component* component_of_package(std::string_view package, const Table& t) {
    for (auto& c : t.components)
        if (package_matches(c, package)) return &c;
    return nullptr;
}

TextRule text_rule(std::string_view path, const Table& t) {
    constexpr std::size_t kLicence = 1u << 20;    // licence texts: identified by their opening
    constexpr std::size_t kStatus = 64u << 20;    // a large image's dpkg status is a few MB
    constexpr std::size_t kMetadata = 256u << 10; // a wheel's METADATA headers
    if (path == "var/lib/dpkg/status") return {TextKind::dpkg_status, kStatus};
    if (path.starts_with("var/lib/dpkg/status.d/") && path.find('/', 22) == std::string_view::npos)
        return {TextKind::dpkg_status, kMetadata};
    std::string_view base = base_name(path);
    for (auto& g : t.licence_texts)
        if (glob(g, path)) return {TextKind::licence, kLicence};
    // usr/share/doc/<package>/copyright of a vendor package
    if (path.starts_with("usr/share/doc/") && base == "copyright") {
        std::string_view pkg = path.substr(14, path.size() - 14 - 10);
        if (pkg.find('/') == std::string_view::npos && component_of_package(pkg, t))
            return {TextKind::copyright, kLicence};
        return {};
    }
    // <site>/<name>-<version>.dist-info/{METADATA,LICENSE*,License.txt,licenses/*} of a vendor
    // wheel
    std::size_t di = path.find(".dist-info/");
    if (di == std::string_view::npos) return {};
    std::size_t start = path.rfind('/', di);
    start = start == std::string_view::npos ? 0 : start + 1;
    std::string_view dist = path.substr(start, di - start);
    std::string_view name = dist.substr(0, dist.find('-'));
    if (!component_of_package(name, t)) return {};
    std::string_view rest = path.substr(di + 11);
    if (rest == "METADATA") return {TextKind::pip_metadata, kMetadata};
    if (rest.starts_with("licenses/") || rest.starts_with("LICENSE") ||
        rest.starts_with("License") || rest.starts_with("license"))
        return {TextKind::licence, kLicence};
    return {};
}

} // namespace gantry::gpu_components
