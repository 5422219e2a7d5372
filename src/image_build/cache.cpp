#include "image_build/cache.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>

namespace gantry::image_build {
namespace {

void field(Sha256& h, std::string_view tag, std::string_view value) {
    // Tag and length first: no two different field lists give the same byte stream.
    h.update(tag);
    h.update(std::to_string(value.size()));
    h.update(":");
    h.update(value);
}

bool valid_key(std::string_view key) {
    return key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

} // namespace

std::string step_key(std::string_view parent, std::string_view instruction,
                     const std::vector<std::string>& input_digests) {
    Sha256 h;
    field(h, "gantry-build-step-v1", "");
    field(h, "parent", parent);
    field(h, "instruction", instruction);
    for (const auto& d : input_digests) field(h, "input", d);
    return h.hex_final();
}

std::optional<CacheEntry> StepCache::lookup(std::string_view key) const {
    if (!valid_key(key)) return std::nullopt;
    std::string text;
    try {
        text = fs::read_file(dir_ / (std::string(key) + ".json"));
    } catch (const Error&) {
        return std::nullopt; // missing or unreadable: a miss
    }
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    try {
        CacheEntry e;
        e.layer_digest = j.at("layer").get<std::string>();
        e.diff_id = j.at("diff_id").get<std::string>();
        e.config = j.at("config");
        e.created_by = j.at("created_by").get<std::string>();
        return e;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

void StepCache::record(std::string_view key, const CacheEntry& entry) const {
    if (!valid_key(key))
        throw Error(Errc::internal, "invalid build cache key '" + std::string(key) + "'");
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec || !std::filesystem::is_directory(dir_))
        throw Error(Errc::io,
                    "the build cache " + dir_.string() +
                        " is damaged: " + (ec ? ec.message() : std::string("not a directory")),
                    "`gantry builder prune` clears the build cache (or remove that path)");
    nlohmann::json j = {{"layer", entry.layer_digest},
                        {"diff_id", entry.diff_id},
                        {"config", entry.config},
                        {"created_by", entry.created_by}};
    fs::write_atomic(dir_ / (std::string(key) + ".json"), j.dump());
}

} // namespace gantry::image_build
