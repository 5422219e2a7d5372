#include "gpu_vendors/amd/rocm.hpp"

#include "gpu_vendors/amd/topology.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>

namespace gantry::gpu_vendors::amd {

namespace {

// A decimal number of 1..max_digits digits at the start of S; advances S past it.
std::optional<unsigned> take_number(std::string_view& s, std::size_t max_digits) {
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0 || n > max_digits) return std::nullopt;
    unsigned v = 0;
    std::from_chars(s.data(), s.data() + n, v);
    s.remove_prefix(n);
    return v;
}

} // namespace

std::string RocmRelease::str() const {
    return std::to_string(major) + "." + std::to_string(minor);
}

std::optional<RocmRelease> parse_rocm_version(std::string_view text) {
    text = text::trim(text);
    auto major = take_number(text, 3);
    if (!major || text.empty() || text.front() != '.') return std::nullopt;
    text.remove_prefix(1);
    auto minor = take_number(text, 3);
    if (!minor) return std::nullopt;
    if (!text.empty() && text.front() != '.' && text.front() != '-' && text.front() != '+')
        return std::nullopt;
    return RocmRelease{static_cast<int>(*major), static_cast<int>(*minor)};
}

std::optional<RocmRelease> rocm_from_dir_name(std::string_view name) {
    if (!name.starts_with("rocm-")) return std::nullopt;
    name.remove_prefix(5);
    // digits and dots only: "rocm-6.1.2", not "rocm-6.1.2.bak" or "rocm-dev"
    if (name.empty() || name.find_first_not_of("0123456789.") != std::string_view::npos)
        return std::nullopt;
    return parse_rocm_version(name);
}

std::optional<RocmRelease> rocm_from_library_name(std::string_view name) {
    constexpr std::string_view hip = "libamdhip64.so.", hsa = "libhsa-runtime64.so.";
    if (name.starts_with(hip)) {
        name.remove_prefix(hip.size());
        auto parts = text::split(name, '.');
        if (parts.size() < 3) return std::nullopt; // libamdhip64.so.6 says only the major
        for (auto p : parts)
            if (p.empty() || !text::all_digits(p)) return std::nullopt;
        return parse_rocm_version(name);
    }
    if (name.starts_with(hsa)) {
        name.remove_prefix(hsa.size());
        auto parts = text::split(name, '.');
        if (parts.size() != 3) return std::nullopt;
        for (auto p : parts)
            if (p.empty() || !text::all_digits(p)) return std::nullopt;
        auto code = parts[2];
        if (code.size() < 5 || code.size() > 6) return std::nullopt; // 50700, 60100, 70200
        unsigned v = 0;
        std::from_chars(code.data(), code.data() + code.size(), v);
        return RocmRelease{static_cast<int>(v / 10000), static_cast<int>(v / 100 % 100)};
    }
    return std::nullopt;
}

std::optional<RocmRelease> rocm_from_torch_tag(std::string_view version) {
    auto plus = version.find("+rocm");
    if (plus == std::string_view::npos) return std::nullopt;
    return parse_rocm_version(version.substr(plus + 5));
}

std::optional<std::string> parse_torch_hip(std::string_view version_py) {
    for (auto line : text::lines(version_py)) {
        line = text::trim(line);
        if (!line.starts_with("hip")) continue;
        auto rest = line.substr(3);
        // "hip: Optional[str] = '6.1...'" or "hip = '6.1...'"
        if (!rest.empty() && rest.front() == ':') {
            auto eq = rest.find('=');
            if (eq == std::string_view::npos) continue;
            rest = rest.substr(eq);
        }
        rest = text::trim(rest);
        if (rest.empty() || rest.front() != '=') continue;
        rest = text::trim(rest.substr(1));
        if (rest == "None") return std::string();
        if (rest.size() < 2 || (rest.front() != '\'' && rest.front() != '"') ||
            rest.back() != rest.front())
            continue;
        auto value = rest.substr(1, rest.size() - 2);
        if (value.size() > 64 || value.find_first_of("'\"\\") != std::string_view::npos) continue;
        return std::string(value);
    }
    return std::nullopt;
}

// ---- the KMD table ----

const char* const kKmdCompatSource =
    "AMD's \"User and AMD GPU Driver (amdgpu) support matrix\", "
    "https://rocm.docs.amd.com/projects/install-on-linux/en/latest/reference/"
    "user-kernel-space-compat-matrix.html (2025-09-17: +/-2 releases before ROCm 6.4, a year "
    "apart from 6.4 on); the 30.30 row from ROCm/amdgpu-docs PR #97 "
    "(docs/compatibility/compatibility-matrix.rst)";

const std::vector<KmdCompatRow>& kmd_compat_table() {
    static const std::vector<KmdCompatRow> rows = {
        {"30.30", {6, 3}, {7, 2}}, {"30.10", {6, 2}, {7, 0}}, {"6.4", {6, 1}, {7, 0}},
        {"6.3", {6, 1}, {7, 0}},   {"6.2", {6, 0}, {7, 0}},   {"6.1", {5, 7}, {6, 4}},
        {"6.0", {5, 6}, {6, 2}},   {"5.7", {5, 5}, {6, 1}},   {"5.6", {5, 4}, {6, 0}},
        {"5.5", {5, 3}, {5, 7}},   {"5.4", {5, 2}, {5, 6}},   {"5.3", {5, 1}, {5, 5}},
    };
    return rows;
}

const std::vector<DriverRelease>& driver_release_table() {
    static const std::vector<DriverRelease> rows = {
        {"5.18", "5.4", "ROCm/amdgpu#148: ROCm 5.4.5's amdgpu-dkms reports driver version 5.18.13"},
        {"6.16", "30.20",
         "ROCm/rocm-install-on-linux#684: AMD GPU Driver 30.20.1 is amdgpu 6.16.6"},
    };
    return rows;
}

const DriverRelease* driver_release(std::string_view amdgpu_version) {
    amdgpu_version = text::trim(amdgpu_version);
    for (const auto& r : driver_release_table()) {
        std::string_view prefix = r.driver;
        if (amdgpu_version == prefix ||
            (amdgpu_version.starts_with(prefix) && amdgpu_version.size() > prefix.size() &&
             (amdgpu_version[prefix.size()] == '.' || amdgpu_version[prefix.size()] == '-')))
            return &r;
    }
    return nullptr;
}

KmdCheck check_kmd(std::string_view kmd, const RocmRelease& user_space) {
    KmdCheck c;
    for (const auto& row : kmd_compat_table()) {
        if (kmd != row.kmd) continue;
        c.row = &row;
        c.verdict = user_space > row.hi   ? KmdVerdict::user_space_too_new
                    : user_space < row.lo ? KmdVerdict::user_space_too_old
                                          : KmdVerdict::supported;
        return c;
    }
    return c;
}

// ---- targets ----

std::optional<GfxOverride> parse_hsa_override(std::string_view value) {
    std::string_view s = value;
    GfxOverride o;
    unsigned* parts[] = {&o.major, &o.minor, &o.stepping};
    for (int i = 0; i < 3; ++i) {
        auto n = take_number(s, 2);
        if (!n) return std::nullopt;
        *parts[i] = *n;
        if (i < 2) {
            if (s.empty() || s.front() != '.') return std::nullopt;
            s.remove_prefix(1);
        }
    }
    if (!s.empty()) return std::nullopt;
    auto name = gpu_vendors::amd::gfx_name(o.major * 10000u + o.minor * 100u + o.stepping);
    if (!name) return std::nullopt;
    o.processor = *name;
    return o;
}

namespace {

// LLVM AMDGPUUsage, table "AMDGPU Generic Processors" (llvm/docs/AMDGPUUsage.rst).
struct Generic {
    const char* name;
    std::vector<std::string_view> processors;
};
const std::vector<Generic>& generics() {
    static const std::vector<Generic> table = {
        {"gfx9-generic", {"gfx900", "gfx902", "gfx904", "gfx906", "gfx909", "gfx90c"}},
        {"gfx9-4-generic", {"gfx940", "gfx941", "gfx942", "gfx950"}},
        {"gfx10-1-generic", {"gfx1010", "gfx1011", "gfx1012", "gfx1013"}},
        {"gfx10-3-generic",
         {"gfx1030", "gfx1031", "gfx1032", "gfx1033", "gfx1034", "gfx1035", "gfx1036"}},
        {"gfx11-generic",
         {"gfx1100", "gfx1101", "gfx1102", "gfx1103", "gfx1150", "gfx1151", "gfx1152", "gfx1153"}},
        {"gfx12-generic", {"gfx1200", "gfx1201"}},
    };
    return table;
}

bool feature_fits(amd::TargetFeature code_object, amd::TargetFeature device) {
    if (code_object == amd::TargetFeature::any || code_object == amd::TargetFeature::unsupported)
        return true;
    return device == amd::TargetFeature::any || device == code_object;
}

} // namespace

std::optional<std::string> generic_target_of(std::string_view processor) {
    for (const auto& g : generics())
        if (std::find(g.processors.begin(), g.processors.end(), processor) != g.processors.end())
            return std::string(g.name);
    return std::nullopt;
}

bool has_xnack_feature(std::string_view processor) {
    // LLVM AMDGPUUsage "AMDGPU Processors": the targets listing the xnack feature.
    static constexpr std::string_view kXnack[] = {
        "gfx801", "gfx810", "gfx900",  "gfx902",  "gfx904",  "gfx906",
        "gfx908", "gfx909", "gfx90a",  "gfx90c",  "gfx940",  "gfx941",
        "gfx942", "gfx950", "gfx1010", "gfx1011", "gfx1012", "gfx1013"};
    return std::find(std::begin(kXnack), std::end(kXnack), processor) != std::end(kXnack);
}

bool hip_code_object_fits(const amd::TargetId& code_object, const amd::TargetId& device) {
    if (code_object.processor != device.processor &&
        code_object.processor != generic_target_of(device.processor))
        return false;
    return feature_fits(code_object.sramecc, device.sramecc) &&
           feature_fits(code_object.xnack, device.xnack);
}

std::vector<std::string> parse_arch_list(std::string_view text) {
    std::vector<std::string> out;
    std::string_view s = text;
    while (!s.empty()) {
        auto cut = s.find_first_of(";, \t");
        auto item = text::trim(s.substr(0, cut));
        s = cut == std::string_view::npos ? std::string_view() : s.substr(cut + 1);
        if (item.empty()) continue;
        auto t = amd::parse_target_id(item);
        std::string p = t ? t->processor : std::string(item.substr(0, item.find(':')));
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    return out;
}

} // namespace gantry::gpu_vendors::amd
