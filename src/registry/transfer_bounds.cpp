#include "registry/transfer_bounds.hpp"

#include "util/config_file.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <optional>

namespace gantry::registry {

const char* const kTransferBoundsHint =
    "a transfer slower than this is abandoned rather than left to hang; on a slow link lower "
    "GANTRY_REGISTRY_MIN_RATE (bytes a second) or raise GANTRY_REGISTRY_RATE_WINDOW and "
    "GANTRY_REGISTRY_DOCUMENT_TIME (seconds), or set them under `registry_transfer:` in "
    "gantry's config.yaml (docs/registry.md, Slow registries)";

namespace {

constexpr long kMaxSeconds = 24 * 3600;
constexpr long kMaxRate = 1L << 40;

struct Field {
    const char* key; // in config.yaml's registry_transfer:
    const char* env;
    long TransferBounds::*member;
    long max;
    const char* unit;
};

constexpr Field kFields[] = {
    {"min_rate", "GANTRY_REGISTRY_MIN_RATE", &TransferBounds::min_rate, kMaxRate, "bytes a second"},
    {"rate_window", "GANTRY_REGISTRY_RATE_WINDOW", &TransferBounds::rate_window, kMaxSeconds,
     "seconds"},
    {"document_time", "GANTRY_REGISTRY_DOCUMENT_TIME", &TransferBounds::document_time, kMaxSeconds,
     "seconds"},
};

constexpr const char* kExample = "e.g.\n  registry_transfer:\n    min_rate: 1024\n"
                                 "    rate_window: 30\n    document_time: 60\n"
                                 "(docs/registry.md, Slow registries)";

std::optional<long> whole(const std::string& v, long max) {
    if (v.empty() || v.size() > 20) return std::nullopt;
    for (char c : v)
        if (c < '0' || c > '9') return std::nullopt;
    errno = 0;
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > max) return std::nullopt;
    return n;
}

std::string range_text(const Field& f, long fallback) {
    return "a whole number of " + std::string(f.unit) + " from 1 to " + std::to_string(f.max) +
           " (the default is " + std::to_string(fallback) + ")";
}

} // namespace

TransferBounds transfer_bounds(const yaml::Node& doc, const std::string& file) {
    const TransferBounds d;
    TransferBounds b;
    const yaml::Node* map = doc.is_map() ? doc.find("registry_transfer") : nullptr;
    if (map && !map->is_null()) {
        const std::string where = file + " line " + std::to_string(map->line);
        if (!map->is_map())
            throw Error(Errc::invalid, where + ": registry_transfer is not a mapping", kExample);
        for (auto& [key, value] : map->entries) {
            const Field* f = nullptr;
            for (auto& k : kFields)
                if (key.value == k.key) f = &k;
            const std::string at =
                file + " line " + std::to_string(key.line) + ": registry_transfer." + key.value;
            if (!f)
                throw Error(Errc::invalid, at + " is not a setting",
                            "registry_transfer has min_rate, rate_window and document_time; " +
                                std::string(kExample));
            auto n = value.is_scalar() ? whole(value.value, f->max) : std::nullopt;
            if (!n)
                throw Error(Errc::invalid,
                            at + " is \"" + value.value.substr(0, 40) + "\", not " +
                                range_text(*f, d.*(f->member)),
                            kExample);
            b.*(f->member) = *n;
        }
    }
    for (auto& f : kFields) {
        const char* v = std::getenv(f.env);
        if (!v || !*v) continue;
        auto n = whole(v, f.max);
        if (!n)
            throw Error(Errc::usage,
                        std::string(f.env) + "=" + std::string(v).substr(0, 40) + " is not " +
                            range_text(f, d.*(f.member)),
                        "set it to such a number, or unset it (docs/registry.md, Slow registries)");
        b.*(f.member) = *n;
    }
    return b;
}

TransferBounds transfer_bounds() {
    static std::mutex mu;
    static std::optional<TransferBounds> known;
    std::lock_guard hold(mu);
    if (!known) {
        std::string file;
        yaml::Node doc = config_file::load(file, kExample);
        known = transfer_bounds(doc, file);
    }
    return *known;
}

bool too_slow(const TransferBounds& b, double bytes, double seconds) {
    return seconds >= static_cast<double>(b.rate_window) &&
           bytes < static_cast<double>(b.min_rate) * seconds;
}

} // namespace gantry::registry
