#include "docker_model/gpu_memory.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <charconv>
#include <map>

namespace gantry::docker_model {

using json = nlohmann::json;

namespace {

// "REGION BYTES" lines (dmem.max, dmem.min, dmem.current) as REGION -> BYTES ("max": none).
std::map<std::string, json> dmem_lines(const std::string& text) {
    std::map<std::string, json> out;
    for (std::string_view line : text::lines(text)) {
        auto w = text::words(line);
        if (w.size() != 2) continue;
        std::uint64_t v = 0;
        auto [end, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), v);
        out[std::string(w[0])] = ec == std::errc{} && end == w[1].data() + w[1].size()
                                     ? json(v)
                                     : json(std::string(w[1]));
    }
    return out;
}

} // namespace

json gpu_memory(const records::ContainerState& s, bool running) {
    const auto& res = s.spec.resources;
    auto field = [&](const char* file) {
        auto it = res.unified.find(file);
        return it == res.unified.end() ? std::map<std::string, json>() : dmem_lines(it->second);
    };
    const auto max = field("dmem.max"), min = field("dmem.min");
    if (max.empty() && min.empty()) return json::array();
    std::map<std::string, json> current;
    if (running && s.cgroup.is_object() && s.cgroup.contains("dirs") &&
        s.cgroup["dirs"].contains("") && s.cgroup["dirs"][""].is_string()) {
        try {
            current = dmem_lines(
                fs::read_file(s.cgroup["dirs"][""].get<std::string>() + "/dmem.current"));
        } catch (const Error&) {
        }
    }
    std::map<std::string, json> regions;
    for (auto& [r, v] : max) regions[r]["Limit"] = v;
    for (auto& [r, v] : min) regions[r]["Reservation"] = v;
    json out = json::array();
    for (auto& [r, fields] : regions) {
        fields["Region"] = r;
        if (auto it = current.find(r); it != current.end()) fields["Usage"] = it->second;
        out.push_back(fields);
    }
    return out;
}

} // namespace gantry::docker_model
