#include "gpu_vendors/nvidia/fatbin_report.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::nvidia {

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

void fatbin_report_json(const FatbinFile& fb, json& out) {
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

} // namespace gantry::gpu_vendors::nvidia
