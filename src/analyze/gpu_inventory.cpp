// The GPU vendor inventory of an image and its findings (analyze/gpu_inventory.hpp).
#include "analyze/model.hpp"
#include "gpu_components/package_metadata.hpp"
#include "gpu_components/recognise.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace gantry::analyze {

namespace gc = gpu_components;

namespace {

constexpr std::size_t kSamplePaths = 20;
constexpr std::size_t kMaxVersions = 8;

std::string_view file_name(std::string_view p) {
    auto s = p.rfind('/');
    return s == std::string_view::npos ? p : p.substr(s + 1);
}

// "13.0.96" from "libcudart.so.13.0.96", "9" from "libcudnn.so.9"; "" when none.
std::string so_version(std::string_view name) {
    auto at = name.find(".so.");
    if (at == std::string_view::npos) return {};
    std::string_view v = name.substr(at + 4);
    if (v.empty() || v.size() > 32) return {};
    for (char c : v)
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return {};
    return std::string(v);
}

// Versions and names from hostile metadata: longer than this is not a version.
constexpr std::size_t kMaxVersionLength = 64;

void add_unique(std::vector<std::string>& v, const std::string& s, std::size_t max = 16) {
    if (!s.empty() && s.size() <= kMaxVersionLength && v.size() < max &&
        std::find(v.begin(), v.end(), s) == v.end())
        v.push_back(s);
}

void keep_sample(std::vector<std::pair<std::string, std::uint64_t>>& v, const std::string& p,
                 std::uint64_t bytes) {
    v.emplace_back("/" + p, bytes);
    if (v.size() > kSamplePaths * 2) {
        std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
        v.resize(kSamplePaths);
    }
}

struct LicenceOf {
    std::string licence, name, from;
    bool open_source = false;
};

} // namespace

GpuInventory gpu_inventory(const std::vector<const LayerScan*>& layers, const MergedView& view) {
    const gc::Table& t = gc::table();
    GpuInventory g;
    auto in_final = [&](std::uint32_t layer, std::uint32_t index, const std::string& path) {
        auto it = view.final.find(path);
        return it != view.final.end() && it->second.layer == layer && it->second.index == index;
    };

    // 1. Licence texts and package metadata the layers carry.
    std::map<std::string, LicenceOf> pkg_licence; // "dpkg:name" / "pip:name" -> licence
    for (std::uint32_t li = 0; li < layers.size(); ++li) {
        const LayerScan& L = *layers[li];
        g.texts_skipped += L.texts_skipped;
        for (auto& k : L.texts) {
            const Entry& e = L.entries[k.entry];
            bool fin = in_final(li, k.entry, e.path);
            if (k.kind == gc::TextKind::licence) {
                LicenceFile f;
                f.layer = li, f.path = "/" + e.path, f.cut = k.cut, f.in_final = fin;
                if (auto id = gc::identify_licence(k.text)) {
                    f.licence = id->licence, f.name = id->name, f.list = id->list;
                    f.open_source = id->open_source;
                } else if (e.path == "NGC-DL-CONTAINER-LICENSE") {
                    const gc::Licence* l = t.licence("ngc-dl-container");
                    if (l) f.licence = l->id, f.name = l->name;
                }
                // a wheel's licence file is its package's licence
                if (auto di = e.path.find(".dist-info/");
                    di != std::string::npos && !f.licence.empty()) {
                    auto s = e.path.rfind('/', di);
                    std::string dist = e.path.substr(s == std::string::npos ? 0 : s + 1);
                    dist = dist.substr(0, dist.find('-'));
                    for (auto& c : dist) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
                    pkg_licence["pip:" + dist] = {f.licence, f.name, f.path, f.open_source};
                }
                g.licence_files.push_back(std::move(f));
            } else if (k.kind == gc::TextKind::copyright) {
                std::string pkg = e.path.substr(14, e.path.size() - 24);
                if (auto lic = gc::debian_copyright_licence(k.text)) {
                    LicenceOf& lo = pkg_licence["dpkg:" + pkg];
                    lo = {*lic, *lic + " (Debian copyright file)", "/" + e.path, false};
                    for (const char* os : {"Expat", "MIT", "NCSA", "BSD-3-clause", "BSD-2-clause",
                                           "Apache-2", "Apache-2.0", "GPL", "LGPL"})
                        if (lic->starts_with(os)) lo.open_source = true;
                }
            } else if (k.kind == gc::TextKind::dpkg_status) {
                for (auto& p : gc::dpkg_installed(k.text)) {
                    const gc::Component* c = gc::component_of_package(p.name);
                    if (!c) continue;
                    PackageInLayer pl;
                    pl.layer = li, pl.manager = "dpkg", pl.name = p.name;
                    if (p.version.size() <= kMaxVersionLength) pl.version = p.version;
                    pl.component = c->id;
                    g.packages.push_back(std::move(pl));
                }
            } else if (k.kind == gc::TextKind::pip_metadata) {
                auto m = gc::parse_pip_metadata(k.text);
                if (!m) continue;
                const gc::Component* c = gc::component_of_package(m->name);
                if (!c) continue;
                PackageInLayer pl;
                pl.layer = li, pl.manager = "pip", pl.name = m->name;
                if (m->version.size() <= kMaxVersionLength) pl.version = m->version;
                pl.component = c->id;
                if (!m->licence.empty())
                    pl.licence = pl.licence_name = m->licence, pl.licence_from = "/" + e.path;
                g.packages.push_back(std::move(pl));
            }
        }
    }
    for (auto& p : g.packages) {
        std::string key = p.manager + ":" + p.name;
        for (auto& c : key) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
        if (auto it = pkg_licence.find(key); it != pkg_licence.end()) {
            p.licence = it->second.licence, p.licence_name = it->second.name;
            p.licence_from = it->second.from, p.open_source = it->second.open_source;
        }
    }

    // 2. Which distributable list applies per licence: the newest one whose text the image
    // carries in its final view, else the newest of the table.
    for (auto& l : t.lists) {
        if (g.lists.count(l.licence)) continue;
        const gc::DistributableList* best = nullptr;
        std::string from;
        for (auto& f : g.licence_files)
            if (f.in_final && !f.list.empty() && f.licence == l.licence) {
                const gc::DistributableList* fl = t.list(f.list);
                if (!best || (fl && fl > best)) best = fl, from = f.path;
            }
        if (!best) best = t.newest_list(l.licence), from = "table: newest";
        g.lists[l.licence] = {best->id, from};
    }

    // 3. The components, per layer.
    for (std::uint32_t li = 0; li < layers.size(); ++li) {
        const LayerScan& L = *layers[li];
        std::map<const gc::Component*, ComponentInLayer> found;
        for (std::uint32_t i = 0; i < L.entries.size(); ++i) {
            const Entry& e = L.entries[i];
            if (e.kind != Kind::file) continue;
            const gc::Component* c = gc::component_of(e.path, e.elf);
            bool via_soname = false;
            if (!c && !e.soname.empty() && e.soname.find('/') == std::string::npos) {
                c = gc::component_of(e.soname, e.elf);
                via_soname = c != nullptr;
            }
            if (!c) continue;
            ComponentInLayer& ci = found[c];
            ci.files++, ci.bytes += e.size;
            if (in_final(li, i, e.path)) ci.final_files++;
            add_unique(ci.versions, so_version(file_name(e.path)), kMaxVersions);
            const char* how = via_soname                                        ? "SONAME"
                              : gc::component_of(file_name(e.path), e.elf) == c ? "file name"
                                                                                : "path";
            add_unique(ci.recognised_by, how);
            keep_sample(ci.paths, e.path, e.size);
        }
        for (auto& c : t.components) {
            auto it = found.find(&c);
            if (it == found.end()) continue;
            ComponentInLayer ci = std::move(it->second);
            ci.component = c.id, ci.name = c.name, ci.vendor = c.vendor;
            ci.role = gc::to_string(c.role), ci.layer = li;
            ci.source = c.source;
            if (const gc::Source* src = t.source(c.source.substr(0, c.source.find_first_of(" ;("))))
                ci.source_document = src->document + ", " + src->version;
            std::stable_sort(ci.paths.begin(), ci.paths.end(),
                             [](auto& a, auto& b) { return a.second > b.second; });
            if (ci.paths.size() > kSamplePaths) ci.paths.resize(kSamplePaths);
            // the licence: the image's own package metadata first, else the table
            for (auto& p : g.packages) {
                if (p.component != c.id) continue;
                add_unique(ci.recognised_by, p.manager);
                add_unique(ci.versions, p.version, kMaxVersions);
                if (ci.licence.empty() && !p.licence.empty()) {
                    ci.licence = p.licence, ci.licence_from = p.licence_from;
                    ci.licence_name = p.licence_name, ci.open_source = p.open_source;
                    if (const gc::Licence* l = t.licence(p.licence))
                        ci.licence_name = l->name, ci.open_source = l->open_source;
                }
            }
            // else the table's licence, with the image's copy of its text when it has one
            if (ci.licence.empty() && !c.licence.empty()) {
                const gc::Licence* l = t.licence(c.licence);
                ci.licence = l->id, ci.licence_name = l->name, ci.open_source = l->open_source;
                ci.licence_from = "table";
                for (auto& f : g.licence_files)
                    if (f.in_final && f.licence == l->id) {
                        ci.licence_from = f.path;
                        break;
                    }
            }
            if (auto lst = g.lists.find(ci.licence); lst != g.lists.end()) {
                ci.list = lst->second.first;
                ci.listed = gc::listed_in(c, ci.list) ? 1 : 0;
            }
            g.components.push_back(std::move(ci));
        }
    }
    return g;
}

} // namespace gantry::analyze
