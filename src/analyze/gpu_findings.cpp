// The findings of the GPU vendor inventory (analyze/model.hpp, gpu_findings). Their wording
// states facts: which licence, which list and version, where its text is; never a verdict.
#include "analyze/model.hpp"
#include "gpu_components/recognise.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace gantry::analyze {

namespace gc = gpu_components;

namespace {

constexpr std::size_t kPaths = 20;

void sort_paths(Finding& f) {
    std::stable_sort(f.subject.paths.begin(), f.subject.paths.end(),
                     [](auto& a, auto& b) { return a.second > b.second; });
    if (f.subject.paths.size() > kPaths) f.subject.paths.resize(kPaths);
}

std::string names(const std::set<std::string>& s, std::size_t max = 4) {
    std::string o;
    std::size_t n = 0;
    for (auto& x : s) {
        if (n == max) return o + ", ...";
        o += (n++ ? ", " : "") + x;
    }
    return o;
}

// TEXT with every "{path}" replaced by PATH.
std::string with_path(std::string text, const std::string& path) {
    for (auto at = text.find("{path}"); at != std::string::npos; at = text.find("{path}", at))
        text.replace(at, 6, path), at += path.size();
    return text;
}

} // namespace

void gpu_findings(const GpuInventory& g, const std::vector<const LayerScan*>& layers,
                  const MergedView& view, std::vector<Finding>& out) {
    const gc::Table& t = gc::table();
    // Files of the final view, by the finding they belong to.
    std::map<std::string, Finding> by_rule; // distributable-list rules
    Finding driver;
    std::set<std::string> driver_names, driver_licences, driver_vendors;
    std::map<std::string, std::set<std::string>> unlisted_components; // rule -> names
    for (auto& [path, ref] : view.final) {
        const Entry& e = layers[ref.layer]->entries[ref.index];
        if (e.kind != Kind::file) continue;
        const gc::Component* c = gc::component_of(e.path, e.elf);
        if (!c && !e.soname.empty() && e.soname.find('/') == std::string::npos)
            c = gc::component_of(e.soname, e.elf);
        if (!c) continue;
        if (c->role == gc::Role::driver || c->role == gc::Role::firmware) {
            driver.subject.bytes += e.size, ++driver.subject.count;
            driver.subject.paths.emplace_back(e.path, e.size);
            driver_names.insert(c->name);
            driver_vendors.insert(c->vendor);
            if (const gc::Licence* l = t.licence(c->licence)) driver_licences.insert(l->name);
            continue;
        }
        if (c->role == gc::Role::driver_compat) continue; // shipped on purpose (cuda-compat)
        auto lst = g.lists.find(c->licence);
        if (lst == g.lists.end() || gc::listed_in(*c, lst->second.first)) continue;
        const gc::DistributableList* dl = t.list(lst->second.first);
        Finding& f = by_rule[dl->id];
        f.subject.bytes += e.size, ++f.subject.count;
        f.subject.paths.emplace_back(e.path, e.size);
        unlisted_components[dl->id].insert(c->name);
    }
    for (auto& [list_id, f] : by_rule) {
        const gc::DistributableList* dl = t.list(list_id);
        const gc::Licence* lic = t.licence(dl->licence);
        const std::string& from = g.lists.at(dl->licence).second;
        f.id = dl->rule;
        f.severity = Severity::warn;
        f.subject.title = "Files not named by " + dl->name;
        f.message = std::to_string(f.subject.count) + " file(s) of the final image (" +
                    names(unlisted_components[list_id]) + ") fall under the " + lic->name +
                    " and are not named by " + dl->name + " (" +
                    (from == "table: newest" ? "the newest version gantry's table holds; the image "
                                               "carries no text of this licence"
                                             : "its text is in the image at " + from) +
                    ")";
        f.fix = "if the image does not need them at run time, build them in a separate stage and "
                "COPY only the files the list names (`gantry slim --remove toolchain,headers,"
                "static` removes development files)" +
                (lic->contact.empty() ? std::string() : "; " + lic->contact);
        f.subject.slim_class = "";
        f.subject.details = {
            {"list", dl->id},
            {"list_name", dl->name},
            {"licence", lic->id},
            {"text", from},
            {"components", std::vector<std::string>(unlisted_components[list_id].begin(),
                                                    unlisted_components[list_id].end())}};
        sort_paths(f);
        out.push_back(std::move(f));
    }
    if (driver.subject.count) {
        driver.id = "GPU-DRIVER-IN-IMAGE";
        driver.severity = Severity::warn;
        driver.subject.title = "GPU driver libraries or firmware in the image";
        // the vendors' notes on their drivers (gpu_components::DriverNote), in table order
        std::string injected_by, instead;
        for (const gc::DriverNote& d : t.driver_notes) {
            if (!driver_vendors.count(d.vendor)) continue;
            if (!d.injected_by.empty()) injected_by += " and " + d.injected_by;
            if (!d.instead.empty()) instead += "; " + d.instead;
        }
        driver.message = std::to_string(driver.subject.count) + " file(s) of the GPU driver (" +
                         names(driver_names) +
                         ") are in the image: they belong to the host, whose kernel module their "
                         "version must match; gantry run" +
                         (injected_by.empty() ? " injects" : injected_by + " inject") +
                         " the host's at run time. They fall under the " + names(driver_licences);
        driver.fix =
            "do not install the driver (or its libraries, or firmware) in the image" + instead;
        driver.subject.details = {
            {"components", std::vector<std::string>(driver_names.begin(), driver_names.end())}};
        sort_paths(driver);
        out.push_back(std::move(driver));
    }
    // Vendor files deleted or overwritten by a later layer: still in the lower layer's blob.
    Finding lower;
    std::set<std::string> lower_names;
    std::set<std::uint32_t> lower_layers;
    // Whether each lost candidate is ELF, from its own layer (one walk per layer involved).
    std::vector<const Lost*> cands;
    for (auto* v : {&view.deleted, &view.overwritten})
        for (auto& l : *v)
            if (gc::component_of(l.path, true)) cands.push_back(&l);
    std::map<std::uint32_t, std::map<std::string_view, bool>> elf_of;
    for (auto* l : cands) elf_of[l->layer][l->path] = false;
    for (auto& [li, paths] : elf_of)
        for (auto& e : layers[li]->entries)
            if (e.kind == Kind::file)
                if (auto it = paths.find(e.path); it != paths.end()) it->second = e.elf;
    for (auto* l : cands) {
        const gc::Component* c = gc::component_of(l->path, elf_of[l->layer][l->path]);
        if (!c) continue;
        lower.subject.bytes += l->bytes, ++lower.subject.count;
        lower.subject.paths.emplace_back(l->path, l->bytes);
        lower_names.insert(c->name);
        lower_layers.insert(l->layer + 1);
    }
    if (lower.subject.count) {
        std::string ls;
        for (auto n : lower_layers) ls += (ls.empty() ? "" : ", ") + std::to_string(n);
        lower.id = "VENDOR-FILE-IN-LOWER-LAYER";
        lower.severity = Severity::warn;
        lower.subject.title =
            "GPU vendor files deleted in a later layer but shipped in a lower one";
        lower.message = std::to_string(lower.subject.count) + " GPU vendor file(s) (" +
                        names(lower_names) +
                        ") were deleted or replaced by a later layer, but layer " + ls +
                        " still carries them: whoever pulls the image receives them";
        lower.fix = "delete them in the same RUN step that adds them, or build in a separate "
                    "stage and COPY the result (`gantry slim` writes the image as one layer)";
        lower.subject.slim_class = "squash";
        lower.subject.details = {
            {"layers", std::vector<std::uint32_t>(lower_layers.begin(), lower_layers.end())}};
        sort_paths(lower);
        out.push_back(std::move(lower));
    }
    // a licence that governs the whole image (gpu_components::Licence::note_id): its note, once
    // per licence
    std::set<std::string> noted;
    for (auto& f : g.licence_files) {
        const gc::Licence* lic = f.in_final ? t.licence(f.licence) : nullptr;
        if (!lic || lic->note_id.empty() || !noted.insert(lic->id).second) continue;
        Finding n;
        n.id = lic->note_id;
        n.severity = Severity::info;
        n.subject.title = lic->note_title;
        n.subject.count = 1;
        n.message = with_path(lic->note_message, f.path);
        n.fix = with_path(lic->note_fix, f.path);
        n.subject.paths.emplace_back(f.path.substr(1), 0);
        n.subject.details = {{"path", f.path}};
        out.push_back(std::move(n));
    }
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        if (a.subject.bytes != b.subject.bytes) return a.subject.bytes > b.subject.bytes;
        return a.id < b.id;
    });
}

} // namespace gantry::analyze
