#include "gpu_vendors/amd/request.hpp"

#include "gpu_host/gpus_flag.hpp"
#include "gpu_vendors/gpu_request.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace gantry::gpu_vendors::amd {

namespace {

constexpr std::string_view kBlanksAndQuotes = " \t\"'";
constexpr std::uint32_t kMaxIndex = 1023; // no host has more GPUs: a larger index is a typo
constexpr std::size_t kMaxDevices = 4096; // after ranges are expanded
constexpr std::size_t kMaxUuid = 64;

const char* const kForms = "use all, none, void, indices (0,2), ranges (0-3), unique ids "
                           "(0xEF2C1799A1F3E2ED) or UUIDs as rocminfo prints them "
                           "(GPU-ef2c1799a1f3e2ed)";

std::optional<std::string> env_get(const std::vector<std::string>& env, std::string_view key) {
    std::optional<std::string> v;
    for (auto& e : env)
        if (e.size() > key.size() && e[key.size()] == '=' && e.starts_with(key))
            v = e.substr(key.size() + 1);
    return v;
}

bool all_hex(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

[[noreturn]] void bad(const std::string& source, std::string_view token, const std::string& why) {
    throw Error(Errc::usage, source + ": " + why + " \"" + std::string(token) + "\"", kForms);
}

std::uint32_t index_of(const std::string& source, std::string_view whole, std::string_view digits) {
    auto n = text::to_u32(digits);
    if (!n || *n > kMaxIndex)
        bad(source, whole, "GPU index out of range (at most " + std::to_string(kMaxIndex) + ") in");
    return *n;
}

void add(std::vector<std::string>& out, std::string token, const std::string& source) {
    if (out.size() == kMaxDevices)
        throw Error(Errc::usage,
                    source + ": more than " + std::to_string(kMaxDevices) + " devices listed",
                    kForms);
    out.push_back(std::move(token));
}

} // namespace

std::vector<std::string> parse_device_list(const std::string& value, const std::string& source) {
    std::vector<std::string> out;
    for (std::string_view item : text::split(value, ',')) {
        std::string_view t = text::trim(item, kBlanksAndQuotes);
        if (t.empty()) continue;
        if (text::all_digits(t)) {
            add(out, std::to_string(index_of(source, t, t)), source);
        } else if (t.size() > 2 && (t.starts_with("0x") || t.starts_with("0X"))) {
            std::string_view hex = t.substr(2);
            std::uint64_t id = 0;
            if (hex.size() > 16 || !all_hex(hex)) bad(source, t, "not a 64-bit hex unique id:");
            std::from_chars(hex.data(), hex.data() + hex.size(), id, 16);
            char buf[24];
            std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(id));
            add(out, buf, source);
        } else if (t.size() > 4 && text::iequals(t.substr(0, 4), "GPU-")) {
            std::string_view rest = t.substr(4);
            bool ok = rest.size() <= kMaxUuid && std::all_of(rest.begin(), rest.end(), [](char c) {
                          return c == '-' || all_hex(std::string_view(&c, 1));
                      });
            if (!ok) bad(source, t, "not a GPU UUID:");
            add(out, "GPU-" + text::lower(rest), source);
        } else if (auto dash = t.find('-'); dash != std::string_view::npos && dash > 0) {
            std::string_view a = t.substr(0, dash), b = t.substr(dash + 1);
            if (!text::all_digits(a) || !text::all_digits(b)) bad(source, t, "cannot parse");
            std::uint32_t from = index_of(source, t, a), to = index_of(source, t, b);
            if (from > to) bad(source, t, "empty range");
            for (std::uint32_t i = from; i <= to; ++i) add(out, std::to_string(i), source);
        } else {
            bad(source, t, "cannot parse");
        }
    }
    return out;
}

GpuRequest parse_request(const std::vector<std::string>& env,
                         const std::optional<std::string>& gpus) {
    GpuRequest r;
    if (gpus) {
        // docker's grammar (all | N | device=LIST | count=N | a UUID), as NVIDIA reads it
        r.source = "--gpus";
        auto f = read_gpus_flag(*gpus, "amd", "AMD's",
                                [&r](const std::string& item, std::vector<std::string>& out) {
                                    for (auto& t : parse_device_list(item, r.source))
                                        add(out, t, r.source);
                                });
        r.all = f.all;
        r.devices = std::move(f.devices);
        r.inject = f.inject;
        return r;
    }
    auto v = env_get(env, "AMD_VISIBLE_DEVICES");
    if (!v) return r;
    r.source = "AMD_VISIBLE_DEVICES";
    bool any_all = false, any_void = false, only_none = true;
    for (std::string_view item : text::split(*v, ',')) {
        std::string t = text::lower(text::trim(item, kBlanksAndQuotes));
        if (t.empty()) continue;
        any_all |= t == "all";
        any_void |= t == "void";
        only_none &= t == "none";
    }
    if (any_void || only_none) return r; // "", void, none: no GPU, nothing injected
    if (any_all) {
        r.inject = r.all = true;
        return r;
    }
    r.devices = parse_device_list(*v, r.source);
    r.inject = !r.devices.empty();
    return r;
}

Selection select(const Host& host, const GpuRequest& req) {
    Selection s;
    if (!req.inject) return s;
    s.gpus = select_gpus(
        host.gpus, req.all, req.devices,
        [](const std::string& tok, const Gpu& g) {
            if (tok.starts_with("0x")) return g.unique_id && tok == "0x" + g.uuid.substr(4);
            if (tok.starts_with("GPU-")) return text::lower(g.uuid) == text::lower(tok);
            return tok == std::to_string(g.index);
        },
        [](const Gpu& g) {
            return std::to_string(g.index) + " (" + (g.uuid.empty() ? "no unique id" : g.uuid) +
                   ", " + g.gfx_target + ")";
        },
        req.source + ": unknown AMD GPU",
        "use an index, a range, a 0x unique id or a GPU- UUID (`gantry doctor --gpu-vendor amd` "
        "lists them)");
    return s;
}

} // namespace gantry::gpu_vendors::amd
