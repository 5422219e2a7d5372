// Finding Intel's compute user space under a driver root (see userspace.hpp).
#include "gpu_vendors/intel/userspace.hpp"

#include "gpu_host/ldcache.hpp"
#include "gpu_vendors/in_root.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <filesystem>

namespace gantry::gpu_vendors::intel {

namespace {

struct IntelWanted {
    const char* name; // exact SONAME, or a prefix when prefix is set
    bool prefix;
};

// The Level Zero loader and driver, the graphics compiler both drivers load. Reference:
// docs/reference/intel-gpu.md §5 (Intel's packages: libze-intel-gpu1, intel-opencl-icd,
// intel-igc-core-2, intel-igc-opencl-2; Debian 12's: intel-opencl-icd with both drivers, libigc1,
// libigdfcl1; the loader: libze1). Not looked for: libigdgmm.so.12, which both drivers need.
constexpr IntelWanted kIntelWanted[] = {{"libze_loader.so.1", false},
                                        {"libze_intel_gpu.so.1", false},
                                        {"libigc.so.", true},
                                        {"libigdfcl.so.", true}};

constexpr const char* kIntelLibDirs[] = {
    "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib",
    "/lib/x86_64-linux-gnu",     "/lib64"};

bool intel_matches(const IntelWanted& w, const std::string& name) {
    return w.prefix ? name.starts_with(w.name) && name.size() > std::string_view(w.name).size()
                    : name == w.name;
}

std::string intel_dir_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == 0 ? "/" : p.substr(0, s);
}

std::string intel_base_of(const std::string& p) {
    return p.substr(p.rfind('/') + 1);
}

// Names in the resolved in-root directory DIR that W matches; the shortest first (the SONAME
// link "libigc.so.2" before the versioned file "libigc.so.2.5.6").
std::vector<std::string> intel_in_dir(InRootResolver& res, const std::string& dir,
                                      const IntelWanted& w) {
    std::vector<std::string> out;
    auto resolved = res.directory(dir);
    if (!resolved) return out;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(res.host(*resolved), ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        std::string n = it->path().filename().string();
        if (intel_matches(w, n)) out.push_back(n);
    }
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    return out;
}

std::optional<Library> intel_library(InRootResolver& res, const std::string& in_root) {
    auto real = res.regular_file(in_root);
    if (!real) return std::nullopt;
    Library l;
    l.name = intel_base_of(in_root);
    l.path = in_root;
    l.real_path = *real;
    l.host_path = res.host(*real);
    return l;
}

} // namespace

bool UserSpace::has(const std::string& name) const {
    return std::any_of(libraries.begin(), libraries.end(),
                       [&](const Library& l) { return l.name == name; });
}

UserSpace find_user_space(const std::string& driver_root) {
    UserSpace u;
    u.driver_root = driver_root.empty() ? "/" : driver_root;
    InRootResolver res(u.driver_root);
    std::optional<gpu_host::ldcache::Cache> cache;
    try {
        cache = gpu_host::ldcache::load(res.host("/etc/ld.so.cache"));
    } catch (const Error& e) {
        u.notes.push_back("no usable linker cache (" + e.message() +
                          "): libraries looked for in the usual directories");
    }
    for (const auto& w : kIntelWanted) {
        std::optional<Library> found;
        if (cache)
            for (const auto& e : cache->entries)
                if (gpu_host::ldcache::is_native(e) && intel_matches(w, e.key))
                    if ((found = intel_library(res, e.value))) break;
        for (const char* dir : kIntelLibDirs) {
            if (found) break;
            for (const auto& n : intel_in_dir(res, dir, w))
                if ((found = intel_library(res, std::string(dir) + "/" + n))) break;
        }
        if (found)
            u.libraries.push_back(std::move(*found));
        else
            u.missing.emplace_back(w.prefix ? std::string(w.name) + "*" : w.name);
    }
    // OpenCL: the ICD loader reads /etc/OpenCL/vendors/*.icd, each naming a driver library
    if (auto icd = res.regular_file("/etc/OpenCL/vendors/intel.icd")) {
        IcdFile f;
        f.host_path = res.host(*icd);
        try {
            f.library = std::string(text::trim(fs::read_file(f.host_path, 4096)));
        } catch (const Error& e) {
            u.notes.push_back("cannot read " + f.host_path + ": " + e.message());
        }
        std::optional<Library> lib;
        if (f.library.starts_with("/"))
            lib = intel_library(res, f.library);
        else if (!f.library.empty() && f.library.find('/') == std::string::npos) {
            if (cache)
                for (const auto& e : cache->entries)
                    if (gpu_host::ldcache::is_native(e) && e.key == f.library)
                        if ((lib = intel_library(res, e.value))) break;
            for (const char* dir : kIntelLibDirs) {
                if (lib) break;
                lib = intel_library(res, std::string(dir) + "/" + f.library);
                if (!lib) lib = intel_library(res, std::string(dir) + "/intel-opencl/" + f.library);
            }
        }
        if (lib)
            u.libraries.push_back(std::move(*lib));
        else
            u.missing.push_back("libigdrcl.so (named by " + f.host_path + ": \"" + f.library +
                                "\")");
        u.icd = std::move(f);
    } else {
        u.missing.push_back("/etc/OpenCL/vendors/intel.icd");
    }
    return u;
}

std::vector<std::string> library_dirs(const UserSpace& u) {
    std::vector<std::string> dirs;
    for (const auto& l : u.libraries)
        for (const auto& p : {l.path, l.real_path})
            if (auto d = intel_dir_of(p); std::find(dirs.begin(), dirs.end(), d) == dirs.end())
                dirs.push_back(d);
    return dirs;
}

} // namespace gantry::gpu_vendors::intel
