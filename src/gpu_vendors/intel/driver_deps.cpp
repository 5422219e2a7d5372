// The dependency rule and driver versions (see driver_deps.hpp).
#include "gpu_vendors/intel/driver_deps.hpp"

#include <charconv>
#include <vector>

namespace gantry::gpu_vendors::intel {

namespace {

// glibc's libraries and loader, the compiler's runtime: every glibc image has its own.
constexpr std::string_view kIntelRuntimePrefixes[] = {
    "libc.so.",      "libm.so.",      "libdl.so.",    "libpthread.so.", "librt.so.",
    "libresolv.so.", "libutil.so.",   "libanl.so.",   "libmvec.so.",    "ld-linux",
    "libgcc_s.so.",  "libstdc++.so.", "libatomic.so."};

// The driver's own: Intel's GMM library and graphics compiler, the LLVM the compiler links
// (Debian 12's libigc1 and libigdfcl1: readelf -d, reference intel-gpu.md §5).
constexpr std::string_view kIntelDriverPrefixes[] = {
    "libigdgmm.so.", "libigc.so.",          "libigdfcl.so.",       "libiga64.so.",    "libLLVM-",
    "libLLVM.so.",   "libLLVMSPIRVLib.so.", "libopencl-clang.so.", "libclang-cpp.so."};

std::vector<int> intel_numbers(std::string_view s, char sep) {
    std::vector<int> out;
    while (!s.empty()) {
        auto end = s.find(sep);
        std::string_view part = s.substr(0, end);
        int v = 0;
        auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (ec != std::errc() || p != part.data() + part.size() || part.empty() || part.size() > 9)
            return out;
        out.push_back(v);
        if (end == std::string_view::npos) break;
        s.remove_prefix(end + 1);
    }
    return out;
}

} // namespace

DepKind classify_dependency(std::string_view soname) {
    for (auto p : kIntelRuntimePrefixes)
        if (soname.starts_with(p)) return DepKind::c_runtime;
    for (auto p : kIntelDriverPrefixes)
        if (soname.starts_with(p)) return DepKind::driver;
    return DepKind::general;
}

std::optional<int> driver_build(std::string_view version) {
    // the upstream part: before a Debian revision or a suffix
    auto cut = version.find_first_of("-+~");
    auto nums = intel_numbers(version.substr(0, cut), '.');
    if (nums.size() < 3) return std::nullopt;
    return nums[2];
}

std::optional<DriverVersion> driver_version_from_file(std::string_view file_name) {
    for (std::string_view base : {"libze_intel_gpu.so.", "libze_intel_gpu_legacy1.so."}) {
        if (!file_name.starts_with(base)) continue;
        auto rest = file_name.substr(base.size());
        auto nums = intel_numbers(rest, '.');
        if (nums.size() < 3 || nums.size() > 4) return std::nullopt;
        return DriverVersion{nums[2], std::string(rest),
                             "the driver file's name " + std::string(file_name)};
    }
    return std::nullopt;
}

std::string LoaderVersion::str() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<LoaderVersion> loader_version_from_file(std::string_view file_name) {
    constexpr std::string_view base = "libze_loader.so.";
    if (!file_name.starts_with(base)) return std::nullopt;
    auto nums = intel_numbers(file_name.substr(base.size()), '.');
    if (nums.size() != 3) return std::nullopt;
    return LoaderVersion{nums[0], nums[1], nums[2]};
}

std::optional<DriverMinimum> loader_driver_minimum(const LoaderVersion& l) {
    if (l.major == 1 && (l.minor > 2 || (l.minor == 2 && l.patch >= 3)))
        return DriverMinimum{19150, "21.09.19150"};
    if (l.major == 1 && l.minor == 0) return DriverMinimum{17625, "20.32.17625"};
    return std::nullopt;
}

} // namespace gantry::gpu_vendors::intel
