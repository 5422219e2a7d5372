// gpu_vendors/nvidia/cuda_version: NVIDIA driver and CUDA versions, and the tables that relate them
// (Linux x86_64): which driver each CUDA toolkit release needs, which CUDA a driver branch serves,
// the major minimum that minor-version compatibility accepts, and which CUDA driver a PTX ISA
// needs. Facts: the shared reference cuda.md §1.1-1.2. Pure functions, no I/O.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// An NVIDIA driver (RM) version: "580.95.05", "570.26", "455.32.00". Components compare
// numerically, a missing one counts as 0 ("570.26" == "570.26.00"); text keeps the spelling.
struct DriverVersion {
    int major = 0, minor = 0, patch = 0;
    int components = 0; // how many were given (1-3); 0 = empty / unknown
    std::string text;   // as parsed, or formatted by make()

    // "580", "580.95", "580.95.05" (digits and dots only, each component < 100000).
    static std::optional<DriverVersion> parse(std::string_view s);
    // Formats the patch with two digits, like NVIDIA does ("580.95.05").
    static DriverVersion make(int major, int minor, int patch = -1);

    bool empty() const { return components == 0; }
    const std::string& str() const { return text; }

    friend bool operator==(const DriverVersion& a, const DriverVersion& b) {
        return a.major == b.major && a.minor == b.minor && a.patch == b.patch;
    }
    friend std::strong_ordering operator<=>(const DriverVersion& a, const DriverVersion& b) {
        if (auto c = a.major <=> b.major; c != 0) return c;
        if (auto c = a.minor <=> b.minor; c != 0) return c;
        return a.patch <=> b.patch;
    }
};

// A CUDA version: "12.4", "13.0.1", "12" (minor 0); patch < 0 when not given. The integer
// encoding of cuda.h (CUDA_VERSION, cudaDriverGetVersion) is 1000*major + 10*minor: 12040.
struct CudaVersion {
    int major = 0, minor = 0, patch = -1;

    // "12.4", "12.4.1", "v12.4.1", "12" — digits and dots (one leading 'v' allowed).
    static std::optional<CudaVersion> parse(std::string_view s);
    // 12040 -> 12.4, 13000 -> 13.0; nullopt for <= 0.
    static std::optional<CudaVersion> from_encoded(int encoded);

    bool has_patch() const { return patch >= 0; }
    int encoded() const { return 1000 * major + 10 * minor; }
    std::string str() const;         // "12.4" or "12.4.1"
    std::string major_minor() const; // "12.4"
    CudaVersion without_patch() const { return {major, minor, -1}; }

    // Compares major, minor and patch, a missing patch counting as 0.
    friend bool operator==(const CudaVersion& a, const CudaVersion& b) { return (a <=> b) == 0; }
    friend std::strong_ordering operator<=>(const CudaVersion& a, const CudaVersion& b) {
        if (auto c = a.major <=> b.major; c != 0) return c;
        if (auto c = a.minor <=> b.minor; c != 0) return c;
        return (a.patch < 0 ? 0 : a.patch) <=> (b.patch < 0 ? 0 : b.patch);
    }
};

// "12.4" from 12040; "unknown" for 0.
std::string cuda_string(int encoded);

// One row of NVIDIA's "CUDA Toolkit and Corresponding Driver Versions" table (Linux x86_64).
struct ToolkitRelease {
    CudaVersion
        version;       // first version of the release: 12.8.0 (GA), 12.8.1 (Update 1), 11.0.2 (GA)
    std::string label; // "12.8 GA", "12.8 Update 1", "11.0.1 RC"
    DriverVersion min_driver; // ">= 570.26"; for branch-only rows just the branch ("610")
    bool ga = false;          // the general-availability release of its major.minor
    bool branch_only = false; // NVIDIA names only the branch (13.3 -> R610, 13.4 -> R615)
    std::string note;         // where the row is not a plain table row (runfile driver, ...)
};

// Every row, oldest first (10.0 ... 13.4).
const std::vector<ToolkitRelease>& toolkit_releases();

// The release a CUDA version belongs to: for "12.8.1" the 12.8 Update 1 row, for "12.8" (no patch)
// the GA row; a patch between rows maps to the newest row not after it. nullopt when NVIDIA lists
// no toolkit for that major.minor (12.7, 14.0).
std::optional<ToolkitRelease> toolkit_release(const CudaVersion& v);

// The exact minimum driver of toolkit_release(v).
std::optional<DriverVersion> min_driver_for(const CudaVersion& v);

// Minor-version compatibility (CUDA >= 11): an application built with any CUDA X.y runs, with a
// limited feature set, on a driver >= the X.0 minimum: 11 -> 450.80.02, 12 -> 525.60.13,
// 13 -> 580.65.06. nullopt for CUDA 10 and older (no minor-version compatibility) and for unknown
// majors.
std::optional<DriverVersion> minor_compat_min_driver(int cuda_major);

// The newest CUDA a driver serves (what nvidia-smi shows as "CUDA Version"), from its branch:
// 580 -> 13000, 570 -> 12080, 565 -> 12070, 535 -> 12020. 0 for drivers older than R410.
int max_cuda_for_driver(const DriverVersion& d);

// The minimum CUDA driver version (encoded) that can JIT PTX of ISA major.minor: 8.5 -> 12050,
// 8.6 -> 12070, 9.0 -> 13000 (cuda-python _ptx_utils mapping; 9.2-9.4 from the 13.x release notes).
// nullopt for ISAs it does not know.
std::optional<int> ptx_isa_min_cuda(int isa_major, int isa_minor);

// The newest PTX ISA a driver serving `driver_cuda` (encoded) can JIT, as {major, minor};
// nullopt when driver_cuda is older than every known ISA.
std::optional<std::pair<int, int>> max_ptx_isa_for_cuda(int driver_cuda);

enum class DriverStatus {
    ok,                      // driver >= the release's minimum: full support
    ok_minor_version_compat, // below it but >= the major minimum: runs with caveats
    too_old,                 // cudaErrorInsufficientDriver (35)
    unknown,                 // the CUDA version is not in the table and the driver cannot decide
};
const char* to_string(DriverStatus s);

struct DriverCheck {
    DriverStatus status = DriverStatus::unknown;
    CudaVersion cuda;
    DriverVersion driver;
    std::optional<DriverVersion> minimum;       // full-support minimum (exact table row)
    std::optional<DriverVersion> major_minimum; // minor-version-compatibility minimum
    std::string release;                        // table row label, "12.8 Update 1"
    std::vector<std::string> caveats;           // for ok_minor_version_compat (and unknown)
    std::string message;                        // one sentence naming the versions

    bool runs() const {
        return status == DriverStatus::ok || status == DriverStatus::ok_minor_version_compat;
    }
};

// Can an application built with CUDA `cuda` run on driver `driver`? ok when the driver meets the
// release's exact minimum (or serves that CUDA version by branch when the release is not in the
// table), ok_minor_version_compat when it meets the major minimum only (caveats: PTX from the
// newer toolkit cannot be JIT-compiled, error 222; newer APIs fail, error 36), too_old otherwise
// with the exact minimum driver in the message.
DriverCheck check_driver(const CudaVersion& cuda, const DriverVersion& driver);
// The same from strings ("12.8.1", "570.26"); throws Error(invalid) when one does not parse.
DriverCheck check_driver(std::string_view cuda, std::string_view driver);

} // namespace gantry::gpu_vendors::nvidia
