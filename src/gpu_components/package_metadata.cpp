#include "gpu_components/package_metadata.hpp"

#include <algorithm>
#include <cctype>

namespace gantry::gpu_components {

namespace {

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

} // namespace

std::vector<Paragraph> parse_deb822(std::string_view text, const Deb822Limits& lim) {
    std::vector<Paragraph> out;
    Paragraph cur;
    bool dropping = false; // the current field was dropped (limits): skip its continuations
    auto finish = [&] {
        if (!cur.empty() && out.size() < lim.max_paragraphs) out.push_back(std::move(cur));
        cur.clear();
        dropping = false;
    };
    std::size_t pos = 0;
    while (pos < text.size() && out.size() < lim.max_paragraphs) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (trim(line).empty()) {
            finish();
            continue;
        }
        if (line.front() == '#') continue; // comments (copyright files allow them)
        if (line.front() == ' ' || line.front() == '\t') {
            if (cur.empty() || dropping) continue; // a continuation of nothing
            std::string_view v = trim(line);
            if (v == ".") v = {};
            std::string& val = cur.back().second;
            if (val.size() + v.size() + 1 > lim.max_value) {
                dropping = true;
                continue;
            }
            val += '\n';
            val.append(v);
            continue;
        }
        std::size_t colon = line.find(':');
        // not a field (no name before the colon, "\r:" included): ignore it and what continues it
        if (colon == std::string_view::npos || trim(line.substr(0, colon)).empty()) {
            dropping = true;
            continue;
        }
        if (cur.size() >= lim.max_fields) {
            dropping = true;
            continue;
        }
        std::string_view v = trim(line.substr(colon + 1));
        if (v.size() > lim.max_value) v = v.substr(0, lim.max_value);
        cur.emplace_back(std::string(trim(line.substr(0, colon))), std::string(v));
        dropping = false;
    }
    finish();
    return out;
}

const std::string* field(const Paragraph& p, std::string_view name) {
    for (auto& [k, v] : p)
        if (iequal(k, name)) return &v;
    return nullptr;
}

std::vector<DpkgPackage> dpkg_installed(std::string_view status) {
    std::vector<DpkgPackage> out;
    for (auto& p : parse_deb822(status)) {
        const std::string* name = field(p, "Package");
        const std::string* st = field(p, "Status");
        if (!name || name->empty() || !st || !std::string_view(*st).ends_with(" installed"))
            continue;
        DpkgPackage d;
        d.name = *name;
        if (const std::string* v = field(p, "Version")) d.version = *v;
        if (const std::string* s = field(p, "Source")) d.source = s->substr(0, s->find(' '));
        out.push_back(std::move(d));
    }
    return out;
}

std::optional<std::string> debian_copyright_licence(std::string_view copyright) {
    Deb822Limits lim;
    lim.max_paragraphs = 64; // the "Files: *" paragraph comes first or early
    auto ps = parse_deb822(copyright, lim);
    if (ps.empty() || !field(ps.front(), "Format")) return std::nullopt;
    for (auto& p : ps) {
        const std::string* files = field(p, "Files");
        const std::string* lic = field(p, "License");
        if (!files || !lic || trim(*files) != "*") continue;
        std::string first = lic->substr(0, lic->find('\n'));
        if (first.empty()) return std::nullopt;
        return first;
    }
    return std::nullopt;
}

std::optional<PipMetadata> parse_pip_metadata(std::string_view text) {
    Deb822Limits lim;
    lim.max_paragraphs = 1; // headers end at the first blank line; the body is the description
    auto ps = parse_deb822(text, lim);
    if (ps.empty()) return std::nullopt;
    const Paragraph& p = ps.front();
    const std::string* name = field(p, "Name");
    const std::string* version = field(p, "Version");
    if (!name || name->empty() || !version || version->empty()) return std::nullopt;
    PipMetadata m;
    m.name = *name;
    m.version = *version;
    if (const std::string* e = field(p, "License-Expression"))
        m.licence = *e;
    else if (const std::string* l = field(p, "License"))
        m.licence = l->substr(0, l->find('\n'));
    for (auto& [k, v] : p)
        if (iequal(k, "License-File")) m.licence_files.push_back(v);
    return m;
}

} // namespace gantry::gpu_components
