#include "gpu_vendors/nvidia/cuda_version.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cstdio>

namespace gantry::gpu_vendors::nvidia {

namespace {

// Splits "a.b.c" into at most `max` numeric components, each below `limit`. False for anything
// else (empty components, non-digits, too many components, overflow).
bool split_numeric(std::string_view s, int max, long limit, std::vector<long>& out) {
    out.clear();
    if (s.empty()) return false;
    size_t i = 0;
    while (true) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
        long v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v >= limit) return false;
            ++i;
        }
        out.push_back(v);
        if (static_cast<int>(out.size()) > max) return false;
        if (i == s.size()) return true;
        if (s[i] != '.') return false;
        ++i;
    }
}

DriverVersion dv(int major, int minor, int patch = -1) {
    return DriverVersion::make(major, minor, patch);
}

ToolkitRelease row(int major, int minor, int patch, const char* label, DriverVersion min,
                   bool ga = false, const char* note = "") {
    ToolkitRelease r;
    r.version = {major, minor, patch};
    r.label = label;
    r.min_driver = std::move(min);
    r.ga = ga;
    r.note = note;
    return r;
}

ToolkitRelease branch_row(int major, int minor, int patch, const char* label, int branch, bool ga,
                          const char* note) {
    ToolkitRelease r;
    r.version = {major, minor, patch};
    r.label = label;
    r.min_driver = DriverVersion::parse(std::to_string(branch)).value();
    r.ga = ga;
    r.branch_only = true;
    r.note = note;
    return r;
}

struct Branch {
    int branch;
    int cuda; // encoded
};

// Driver branch -> newest CUDA it serves. 565 drivers report 12.7 (there is no 12.7 toolkit).
constexpr Branch kBranches[] = {
    {410, 10000}, {418, 10010}, {440, 10020}, {450, 11000}, {455, 11010}, {460, 11020},
    {465, 11030}, {470, 11040}, {495, 11050}, {510, 11060}, {515, 11070}, {520, 11080},
    {525, 12000}, {530, 12010}, {535, 12020}, {545, 12030}, {550, 12040}, {555, 12050},
    {560, 12060}, {565, 12070}, {570, 12080}, {575, 12090}, {580, 13000}, {590, 13010},
    {595, 13020}, {610, 13030}, {615, 13040},
};

struct PtxIsa {
    int major, minor;
    int cuda; // encoded minimum driver CUDA version
};

// PTX ISA -> minimum CUDA driver. 6.0-6.2 are CUDA 9.x; 8.5 is also what 12.6 emits; 9.3 is
// extrapolated (13.3), 9.2 and 9.4 are named by the 13.2 / 13.4 release notes.
constexpr PtxIsa kPtxIsas[] = {
    {6, 0, 9000},  {6, 1, 9010},  {6, 2, 9020},  {6, 3, 10000}, {6, 4, 10010}, {6, 5, 10020},
    {7, 0, 11000}, {7, 1, 11010}, {7, 2, 11020}, {7, 3, 11030}, {7, 4, 11040}, {7, 5, 11050},
    {7, 6, 11060}, {7, 7, 11070}, {7, 8, 11080}, {8, 0, 12000}, {8, 1, 12010}, {8, 2, 12020},
    {8, 3, 12030}, {8, 4, 12040}, {8, 5, 12050}, {8, 6, 12070}, {8, 7, 12080}, {8, 8, 12090},
    {9, 0, 13000}, {9, 1, 13010}, {9, 2, 13020}, {9, 3, 13030}, {9, 4, 13040},
};

} // namespace

std::optional<DriverVersion> DriverVersion::parse(std::string_view s) {
    std::vector<long> parts;
    if (!split_numeric(s, 3, 100000, parts)) return std::nullopt;
    DriverVersion v;
    v.major = static_cast<int>(parts[0]);
    if (parts.size() > 1) v.minor = static_cast<int>(parts[1]);
    if (parts.size() > 2) v.patch = static_cast<int>(parts[2]);
    v.components = static_cast<int>(parts.size());
    v.text = std::string(s);
    return v;
}

DriverVersion DriverVersion::make(int major, int minor, int patch) {
    DriverVersion v;
    v.major = major;
    v.minor = minor;
    v.patch = patch < 0 ? 0 : patch;
    v.components = patch < 0 ? 2 : 3;
    char buf[48];
    if (patch < 0)
        std::snprintf(buf, sizeof buf, "%d.%d", major, minor);
    else
        std::snprintf(buf, sizeof buf, "%d.%d.%02d", major, minor, patch);
    v.text = buf;
    return v;
}

std::optional<CudaVersion> CudaVersion::parse(std::string_view s) {
    if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
    std::vector<long> parts;
    if (!split_numeric(s, 3, 1000000, parts)) return std::nullopt;
    if (parts[0] >= 1000 || (parts.size() > 1 && parts[1] >= 100)) return std::nullopt;
    CudaVersion v;
    v.major = static_cast<int>(parts[0]);
    v.minor = parts.size() > 1 ? static_cast<int>(parts[1]) : 0;
    v.patch = parts.size() > 2 ? static_cast<int>(parts[2]) : -1;
    return v;
}

std::optional<CudaVersion> CudaVersion::from_encoded(int encoded) {
    if (encoded <= 0) return std::nullopt;
    return CudaVersion{encoded / 1000, (encoded % 1000) / 10, -1};
}

std::string CudaVersion::str() const {
    std::string s = major_minor();
    if (patch >= 0) s += "." + std::to_string(patch);
    return s;
}

std::string CudaVersion::major_minor() const {
    return std::to_string(major) + "." + std::to_string(minor);
}

std::string cuda_string(int encoded) {
    auto v = CudaVersion::from_encoded(encoded);
    return v ? v->str() : "unknown";
}

const std::vector<ToolkitRelease>& toolkit_releases() {
    static const std::vector<ToolkitRelease> rows = [] {
        std::vector<ToolkitRelease> r;
        r.push_back(row(10, 0, 130, "10.0.130", dv(410, 48), true));
        r.push_back(row(10, 1, 105, "10.1 (10.1.105 and updates)", dv(418, 39), true));
        r.push_back(row(10, 2, 89, "10.2.89", dv(440, 33), true));
        r.push_back(row(11, 0, 1, "11.0.1 RC", dv(450, 36, 6)));
        r.push_back(row(11, 0, 2, "11.0.2 GA", dv(450, 51, 5), true));
        r.push_back(row(11, 0, 3, "11.0.3 Update 1", dv(450, 51, 6)));
        r.push_back(row(11, 1, 0, "11.1 GA", dv(455, 23), true));
        r.push_back(row(11, 1, 1, "11.1.1 Update 1", dv(455, 32)));
        r.push_back(row(11, 2, 0, "11.2.0 GA", dv(460, 27, 3), true));
        r.push_back(row(11, 2, 1, "11.2.1 Update 1", dv(460, 32, 3)));
        r.push_back(row(11, 2, 2, "11.2.2 Update 2", dv(460, 32, 3)));
        r.push_back(row(11, 3, 0, "11.3.0 GA", dv(465, 19, 1), true));
        r.push_back(row(11, 3, 1, "11.3.1 Update 1", dv(465, 19, 1)));
        r.push_back(row(11, 4, 0, "11.4.0 GA", dv(470, 42, 1), true));
        r.push_back(row(11, 4, 1, "11.4 Update 1", dv(470, 57, 2)));
        r.push_back(row(11, 4, 2, "11.4 Update 2", dv(470, 57, 2)));
        r.push_back(row(11, 4, 3, "11.4 Update 3", dv(470, 82, 1)));
        r.push_back(row(11, 4, 4, "11.4 Update 4", dv(470, 82, 1)));
        r.push_back(row(11, 5, 0, "11.5 GA", dv(495, 29, 5), true));
        r.push_back(row(11, 5, 1, "11.5 Update 1", dv(495, 29, 5)));
        r.push_back(row(11, 5, 2, "11.5 Update 2", dv(495, 29, 5)));
        r.push_back(row(11, 6, 0, "11.6 GA", dv(510, 39, 1), true));
        r.push_back(row(11, 6, 1, "11.6 Update 1", dv(510, 47, 3)));
        r.push_back(row(11, 6, 2, "11.6 Update 2", dv(510, 47, 3)));
        r.push_back(row(11, 7, 0, "11.7 GA", dv(515, 43, 4), true));
        r.push_back(row(11, 7, 1, "11.7 Update 1", dv(515, 48, 7)));
        r.push_back(row(11, 8, 0, "11.8 GA", dv(520, 61, 5), true));
        r.push_back(row(12, 0, 0, "12.0 GA", dv(525, 60, 13), true));
        r.push_back(row(12, 0, 1, "12.0 Update 1", dv(525, 85, 12)));
        r.push_back(row(12, 1, 0, "12.1 GA", dv(530, 30, 2), true));
        r.push_back(row(12, 1, 1, "12.1 Update 1", dv(530, 30, 2)));
        r.push_back(row(12, 2, 0, "12.2 GA", dv(535, 54, 3), true));
        r.push_back(row(12, 2, 1, "12.2 Update 1", dv(535, 86, 9)));
        r.push_back(row(12, 2, 2, "12.2 Update 2", dv(535, 104, 5)));
        r.push_back(row(12, 3, 0, "12.3 GA", dv(545, 23, 6), true));
        r.push_back(row(12, 3, 1, "12.3 Update 1", dv(545, 23, 8)));
        r.push_back(row(12, 3, 2, "12.3 Update 2", dv(545, 23, 8), false,
                        "no table row; driver bundled with the runfile"));
        r.push_back(row(12, 4, 0, "12.4 GA", dv(550, 54, 14), true));
        r.push_back(row(12, 4, 1, "12.4 Update 1", dv(550, 54, 15)));
        r.push_back(row(12, 5, 0, "12.5 GA", dv(555, 42, 2), true));
        r.push_back(row(12, 5, 1, "12.5 Update 1", dv(555, 42, 6)));
        r.push_back(row(12, 6, 0, "12.6 GA", dv(560, 28, 3), true));
        r.push_back(row(12, 6, 1, "12.6 Update 1", dv(560, 35, 3)));
        r.push_back(row(12, 6, 2, "12.6 Update 2", dv(560, 35, 3)));
        r.push_back(row(12, 6, 3, "12.6 Update 3", dv(560, 35, 5)));
        r.push_back(row(12, 8, 0, "12.8 GA", dv(570, 26), true));
        r.push_back(row(12, 8, 1, "12.8 Update 1", dv(570, 124, 6)));
        r.push_back(row(12, 9, 0, "12.9 GA", dv(575, 51, 3), true));
        r.push_back(row(12, 9, 1, "12.9 Update 1", dv(575, 57, 8)));
        r.push_back(row(13, 0, 0, "13.0 GA", dv(580, 65, 6), true));
        r.push_back(row(13, 0, 1, "13.0 Update 1", dv(580, 82, 7)));
        r.push_back(row(13, 0, 2, "13.0 Update 2", dv(580, 95, 5)));
        r.push_back(row(13, 1, 0, "13.1 GA", dv(590, 44, 1), true));
        r.push_back(row(13, 1, 1, "13.1 Update 1", dv(590, 48, 1)));
        r.push_back(row(13, 2, 0, "13.2 GA", dv(595, 45, 4), true));
        r.push_back(row(13, 2, 1, "13.2 Update 1", dv(595, 58, 3)));
        r.push_back(row(13, 2, 2, "13.2 Update 2", dv(595, 71, 5)));
        r.push_back(branch_row(13, 3, 0, "13.3 GA", 610, true, "branch R610 only"));
        r.push_back(branch_row(13, 3, 1, "13.3 Update 1", 610, false, "branch R610 only"));
        r.push_back(branch_row(13, 4, 0, "13.4 GA", 615, true, "branch R615 only"));
        r.push_back(branch_row(13, 4, 1, "13.4 Update 1", 615, false, "branch R615 only"));
        return r;
    }();
    return rows;
}

std::optional<ToolkitRelease> toolkit_release(const CudaVersion& v) {
    const ToolkitRelease* ga = nullptr;
    const ToolkitRelease* best = nullptr;
    for (auto& r : toolkit_releases()) {
        if (r.version.major != v.major || r.version.minor != v.minor) continue;
        if (r.ga) ga = &r;
        if (v.has_patch() && r.version.patch <= v.patch) best = &r; // rows are sorted
    }
    if (!ga) return std::nullopt;
    if (!v.has_patch() || !best) return *ga;
    return *best;
}

std::optional<DriverVersion> min_driver_for(const CudaVersion& v) {
    auto r = toolkit_release(v);
    if (!r) return std::nullopt;
    return r->min_driver;
}

std::optional<DriverVersion> minor_compat_min_driver(int cuda_major) {
    switch (cuda_major) {
    case 11:
        return dv(450, 80, 2);
    case 12:
        return dv(525, 60, 13);
    case 13:
        return dv(580, 65, 6);
    default:
        return std::nullopt;
    }
}

int max_cuda_for_driver(const DriverVersion& d) {
    int best = 0;
    for (auto& b : kBranches)
        if (d.major >= b.branch) best = b.cuda;
    return best;
}

std::optional<int> ptx_isa_min_cuda(int isa_major, int isa_minor) {
    for (auto& p : kPtxIsas)
        if (p.major == isa_major && p.minor == isa_minor) return p.cuda;
    return std::nullopt;
}

std::optional<std::pair<int, int>> max_ptx_isa_for_cuda(int driver_cuda) {
    std::optional<std::pair<int, int>> best;
    for (auto& p : kPtxIsas)
        if (p.cuda <= driver_cuda) best = std::pair{p.major, p.minor};
    return best;
}

const char* to_string(DriverStatus s) {
    switch (s) {
    case DriverStatus::ok:
        return "ok";
    case DriverStatus::ok_minor_version_compat:
        return "ok-minor-version-compat";
    case DriverStatus::too_old:
        return "too-old";
    case DriverStatus::unknown:
        return "unknown";
    }
    return "unknown";
}

DriverCheck check_driver(const CudaVersion& cuda, const DriverVersion& driver) {
    DriverCheck c;
    c.cuda = cuda;
    c.driver = driver;
    auto rel = toolkit_release(cuda);
    c.major_minimum = minor_compat_min_driver(cuda.major);
    const std::string cu = "CUDA " + cuda.str();
    const std::string drv = "driver " + driver.str();
    const int served = max_cuda_for_driver(driver);

    if (rel) {
        c.minimum = rel->min_driver;
        c.release = rel->label;
        bool meets =
            rel->branch_only ? driver.major >= rel->min_driver.major : driver >= rel->min_driver;
        if (meets) {
            c.status = DriverStatus::ok;
            c.message = cu + " runs on " + drv + " (" + rel->label +
                        " needs >= " + (rel->branch_only ? "an R" : "") + rel->min_driver.str() +
                        ")";
            return c;
        }
    } else if (served > 0 && served >= cuda.encoded()) {
        c.status = DriverStatus::ok;
        c.message = cu + " runs on " + drv + ", which serves CUDA " + cuda_string(served);
        return c;
    }

    auto minimum_text = [&] {
        if (!rel) return std::string("a driver serving CUDA ") + cuda.major_minor();
        if (rel->branch_only)
            return "an R" + rel->min_driver.str() + " driver (" + rel->label + ")";
        return ">= " + rel->min_driver.str() + " (" + rel->label + ")";
    };

    if (c.major_minimum && driver >= *c.major_minimum) {
        c.status = DriverStatus::ok_minor_version_compat;
        const std::string have = served ? cuda_string(served) : driver.str();
        c.message = cu + " needs NVIDIA driver " + minimum_text() + " for full support; " + drv +
                    " (CUDA " + have + ") runs it only through minor-version compatibility (>= " +
                    c.major_minimum->str() + ")";
        c.caveats.push_back("PTX generated by CUDA " + cuda.major_minor() +
                            " cannot be JIT-compiled by this driver "
                            "(cudaErrorUnsupportedPtxVersion, 222): kernels need SASS for the GPU");
        c.caveats.push_back("APIs newer than CUDA " + have +
                            " fail with cudaErrorCallRequiresNewerDriver (36)");
        if (!rel)
            c.caveats.push_back(cu + " is not in gantry's driver table; its exact minimum driver "
                                     "is unknown");
        return c;
    }

    if (!rel && !c.major_minimum) {
        c.status = DriverStatus::unknown;
        c.message = cu + " is not in gantry's driver table and " + drv + " serves CUDA " +
                    cuda_string(served) + "; cannot tell whether it runs";
        return c;
    }

    c.status = DriverStatus::too_old;
    if (!c.minimum) c.minimum = c.major_minimum;
    c.message = cu + " needs NVIDIA driver " + minimum_text() + "; the driver is " + driver.str();
    if (served) c.message += " (CUDA " + cuda_string(served) + ")";
    if (c.major_minimum && (!rel || *c.major_minimum < rel->min_driver))
        c.message += ", older than the " + c.major_minimum->str() +
                     " that minor-version compatibility needs";
    c.caveats.push_back("forward compatibility (cuda-compat " + cuda.major_minor() +
                        " libraries in the image) can rescue this only on data-center GPUs with a "
                        "supported driver branch");
    return c;
}

DriverCheck check_driver(std::string_view cuda, std::string_view driver) {
    auto c = CudaVersion::parse(cuda);
    if (!c) throw Error(Errc::invalid, "invalid CUDA version \"" + std::string(cuda) + "\"");
    auto d = DriverVersion::parse(driver);
    if (!d) throw Error(Errc::invalid, "invalid driver version \"" + std::string(driver) + "\"");
    return check_driver(*c, *d);
}

} // namespace gantry::gpu_vendors::nvidia
