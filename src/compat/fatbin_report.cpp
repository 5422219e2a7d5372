#include "compat/fatbin_report.hpp"

#include <map>

namespace gantry::compat {

namespace {

using nlohmann::json;

std::string version_column(const FatbinEntry& e) {
    if (e.is_ptx()) return std::to_string(e.code_major) + "." + std::to_string(e.code_minor);
    if (e.is_sass() && e.toolkit)
        return std::to_string(e.toolkit / 10) + "." + std::to_string(e.toolkit % 10);
    return "-";
}

std::string kind_column(const FatbinEntry& e) {
    std::string k =
        e.kind == EntryKind::unknown ? "kind" + std::to_string(e.raw_kind) : to_string(e.kind);
    if (e.relocatable) k += " (rdc)";
    return k;
}

std::string hip_target(const HipBundleEntry& e) {
    return e.target_id.empty() ? e.target.str() : e.target_id;
}

json hip_json(const HipFatbin& h) {
    json out{
        {"found", h.found}, {"section_offset", h.section_offset}, {"section_size", h.section_size}};
    out["bundles"] = json::array();
    for (const auto& b : h.bundles)
        out["bundles"].push_back({{"offset", b.offset},
                                  {"size", b.size},
                                  {"compression", to_string(b.compression)},
                                  {"ccob_version", b.ccob_version},
                                  {"uncompressed_size", b.uncompressed_size},
                                  {"entries", b.entry_count}});
    out["entries"] = json::array();
    std::vector<std::string> order;
    std::map<std::string, FatbinTotal> totals;
    for (const auto& e : h.entries) {
        json j{{"id", e.id},
               {"kind", e.kind_name},
               {"triple", e.triple},
               {"target_id", hip_target(e)},
               {"offset", e.offset},
               {"size", e.size},
               {"bundle", e.bundle},
               {"compression", to_string(h.bundles[e.bundle].compression)},
               {"device_code", e.is_device_code()}};
        if (e.size > 0 && e.header.is_amdgpu) {
            j["processor"] = e.header.target.processor;
            j["code_object_version"] = e.header.code_object_version;
            j["e_flags"] = e.header.e_flags;
            j["xnack"] = to_string(e.header.target.xnack);
            j["sramecc"] = to_string(e.header.target.sramecc);
        } else if (e.size > 0) {
            j["header_error"] = e.header.error;
        }
        out["entries"].push_back(std::move(j));
        if (!e.is_device_code()) continue;
        auto t = hip_target(e);
        if (!totals.count(t)) order.push_back(t);
        totals[t].entries += 1;
        totals[t].size += e.size;
    }
    out["totals"] = json::array();
    for (const auto& t : order)
        out["totals"].push_back(
            {{"target_id", t}, {"entries", totals[t].entries}, {"size", totals[t].size}});
    return out;
}

} // namespace

std::vector<FatbinTotal> fatbin_totals(const FatbinFile& fb) {
    std::vector<FatbinTotal> out;
    FatbinTotal all{"total"};
    for (const auto& e : fb.entries) {
        if (e.stub) continue;
        auto name = e.arch_name() + (e.relocatable ? " (rdc)" : "");
        auto it = std::find_if(out.begin(), out.end(),
                               [&](const FatbinTotal& t) { return t.arch == name; });
        if (it == out.end()) it = out.insert(out.end(), FatbinTotal{name});
        for (auto* x : {&*it, &all}) {
            x->entries += 1;
            x->size += e.disk_size();
            x->uncompressed += e.uncompressed_size;
        }
    }
    out.push_back(all);
    return out;
}

json fatbin_report_json(const FatbinFile& fb, const HipFatbin& hip) {
    json out;
    out["path"] = fb.path;
    out["file_size"] = fb.file_size;
    out["elf"] = fb.elf;
    out["containers"] = json::array();
    for (const auto& c : fb.containers) {
        json j{{"offset", c.offset},           {"size", c.size},
               {"declared_size", c.declared},  {"section", c.region},
               {"relocatable", c.relocatable}, {"nvlink_stub", c.stub},
               {"entries", c.entry_count}};
        if (!c.error.empty()) j["error"] = c.error;
        out["containers"].push_back(std::move(j));
    }
    out["entries"] = json::array();
    for (const auto& e : fb.entries) {
        json j{{"kind", to_string(e.kind)},
               {"arch", e.arch_name()},
               {"sm", e.arch},
               {"variant", e.variant == ArchVariant::a   ? "a"
                           : e.variant == ArchVariant::f ? "f"
                                                         : ""},
               {"compression", to_string(e.compression)},
               {"offset", e.offset},
               {"size", e.disk_size()},
               {"payload_size", e.size},
               {"uncompressed_size", e.uncompressed_size},
               {"flags", e.flags},
               {"container", e.container},
               {"section", fb.containers[e.container].region},
               {"relocatable", e.relocatable},
               {"nvlink_stub", e.stub}};
        if (e.is_ptx())
            j["ptx_isa"] = std::to_string(e.code_major) + "." + std::to_string(e.code_minor);
        if (e.is_sass() && e.toolkit) j["toolkit"] = version_column(e);
        if (e.is_sass() && e.cubin_sm) j["cubin_sm"] = e.cubin_sm;
        if (!e.cubin_error.empty()) j["cubin_error"] = e.cubin_error;
        out["entries"].push_back(std::move(j));
    }
    out["totals"] = json::array();
    auto totals = fatbin_totals(fb);
    totals.pop_back(); // the JSON has no sum row
    for (const auto& t : totals)
        out["totals"].push_back({{"arch", t.arch},
                                 {"entries", t.entries},
                                 {"size", t.size},
                                 {"uncompressed_size", t.uncompressed}});
    out["problems"] = fb.problems;
    out["hip"] = hip_json(hip);
    return out;
}

TableRows fatbin_entry_rows(const FatbinFile& fb) {
    TableRows rows{
        {"KIND", "ARCH", "COMPRESSION", "SIZE", "UNCOMPRESSED", "PTX-ISA/TOOLKIT", "SECTION"}};
    for (const auto& e : fb.entries) {
        if (e.stub) continue;
        rows.push_back({kind_column(e), e.arch_name(), to_string(e.compression),
                        std::to_string(e.disk_size()), std::to_string(e.uncompressed_size),
                        version_column(e), fb.containers[e.container].region});
    }
    return rows;
}

TableRows fatbin_total_rows(const FatbinFile& fb) {
    TableRows rows{{"ARCH", "ENTRIES", "SIZE", "UNCOMPRESSED"}};
    for (const auto& t : fatbin_totals(fb))
        rows.push_back({t.arch, std::to_string(t.entries), std::to_string(t.size),
                        std::to_string(t.uncompressed)});
    return rows;
}

std::size_t hip_code_objects(const HipFatbin& hip) {
    std::size_t code = 0;
    for (const auto& e : hip.entries) code += e.is_device_code() ? 1 : 0;
    return code;
}

TableRows hip_code_object_rows(const HipFatbin& h) {
    TableRows rows{{"KIND", "TARGET", "VERSION", "COMPRESSION", "SIZE", "BUNDLE"}};
    for (const auto& e : h.entries) {
        if (!e.is_device_code()) continue;
        const auto& b = h.bundles[e.bundle];
        std::string co = e.header.is_amdgpu ? "co v" + std::to_string(e.header.code_object_version)
                                            : "? (" + e.header.error + ")";
        std::string comp = to_string(b.compression);
        if (b.ccob_version) comp += " (CCOB v" + std::to_string(b.ccob_version) + ")";
        rows.push_back({e.kind_name, hip_target(e), co, comp, std::to_string(e.size),
                        std::to_string(e.bundle)});
    }
    return rows;
}

} // namespace gantry::compat
