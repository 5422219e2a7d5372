// amd/hip_report: what `gantry doctor --fatbin FILE` shows of a file's HIP offload bundles.
#include "gpu_vendors/amd/hip_report.hpp"

#include <map>
#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::amd {

namespace {

using nlohmann::json;

struct Total {
    std::uint64_t entries = 0, size = 0;
};

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
    std::map<std::string, Total> totals;
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

void hip_report_json(const HipFatbin& hip, json& document) {
    document["hip"] = hip_json(hip);
}

std::size_t hip_code_objects(const HipFatbin& hip) {
    std::size_t code = 0;
    for (const auto& e : hip.entries) code += e.is_device_code() ? 1 : 0;
    return code;
}

device_code::TableRows hip_code_object_rows(const HipFatbin& h) {
    device_code::TableRows rows{{"KIND", "TARGET", "VERSION", "COMPRESSION", "SIZE", "BUNDLE"}};
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

} // namespace gantry::gpu_vendors::amd
