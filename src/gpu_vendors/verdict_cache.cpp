#include "gpu_vendors/verdict_cache.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors {

std::vector<findings::Finding>
cached_verdict(const std::string& cache_dir, const std::string& prefix, const std::string& key,
               const std::function<std::vector<findings::Finding>()>& find) {
    using findings::Severity;
    if (cache_dir.empty()) return find();
    Sha256 h;
    h.update(key);
    std::string path = cache_dir + "/" + prefix + "-" + h.hex_final() + ".json";
    try {
        std::vector<findings::Finding> out;
        auto entry = nlohmann::json::parse(fs::read_file(path, 4 << 20));
        for (const auto& f : entry.at("findings")) {
            int sev = f.at("severity").get<int>();
            if (sev < 0 || sev > static_cast<int>(Severity::fail)) throw Error(Errc::invalid, path);
            out.push_back({f.at("id"), static_cast<Severity>(sev), f.at("message"), f.at("fix")});
        }
        return out;
    } catch (const std::exception&) { // missing or damaged: found afresh
    }
    auto found = find();
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& f : found)
        arr.push_back({{"id", f.id},
                       {"severity", static_cast<int>(f.severity)},
                       {"message", f.message},
                       {"fix", f.fix}});
    try {
        fs::make_dirs(cache_dir);
        fs::write_atomic(path, nlohmann::json{{"findings", arr}}.dump(), 0600);
    } catch (const Error&) { // an unwritable cache only costs the next run a scan
    }
    return found;
}

} // namespace gantry::gpu_vendors
