// Finding Intel's compute user space under a driver root (see userspace.hpp).
#include "gpu_vendors/intel/userspace.hpp"

#include "elf/dynamic.hpp"
#include "gpu_host/ldcache.hpp"
#include "gpu_vendors/in_root.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

namespace gantry::gpu_vendors::intel {

namespace {

struct IntelWanted {
    const char* name; // exact SONAME, or a prefix when prefix is set
    bool prefix;
};

// The Level Zero loader and drivers, the graphics compiler both drivers load by name (strings in
// the drivers, not NEEDED entries). Reference: docs/reference/intel-gpu.md §5. One of the two
// Level Zero drivers is enough (the legacy1 build serves Gen8-Gen11 GPUs; a host may have both).
constexpr IntelWanted kIntelWanted[] = {{"libze_loader.so.1", false},
                                        {"libze_intel_gpu.so.1", false},
                                        {"libze_intel_gpu_legacy1.so.1", false},
                                        {"libigc.so.", true},
                                        {"libigdfcl.so.", true}};
constexpr const char* kIntelDrivers[] = {"libze_intel_gpu.so.1", "libze_intel_gpu_legacy1.so.1"};
// The ICD files of the regular and the legacy1 build (compute-runtime's intel-opencl-icd
// packages install etc/OpenCL/vendors/intel*.icd).
constexpr const char* kIntelIcds[] = {"intel.icd", "intel_legacy1.icd"};
constexpr std::size_t kIntelMaxLibraries = 64; // a bound on following NEEDED entries

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

// A library looked up as the dynamic linker would: the root's ld.so.cache (native entries),
// then the default directories (and EXTRA under each, for the OpenCL driver's intel-opencl/).
class IntelLookup {
  public:
    IntelLookup(InRootResolver& res, const std::optional<gpu_host::ldcache::Cache>& cache)
        : res_(res), cache_(cache) {}

    std::optional<Library> find(const IntelWanted& w) {
        if (cache_)
            for (const auto& e : cache_->entries)
                if (gpu_host::ldcache::is_native(e) && intel_matches(w, e.key))
                    if (auto l = intel_library(res_, e.value)) return l;
        for (const char* dir : kIntelLibDirs)
            for (const auto& n : intel_in_dir(res_, dir, w))
                if (auto l = intel_library(res_, std::string(dir) + "/" + n)) return l;
        return std::nullopt;
    }

    std::optional<Library> find_named(const std::string& name, const char* extra = nullptr) {
        if (auto l = find({name.c_str(), false})) return l;
        if (extra)
            for (const char* dir : kIntelLibDirs)
                if (auto l = intel_library(res_, std::string(dir) + "/" + extra + "/" + name))
                    return l;
        return std::nullopt;
    }

  private:
    InRootResolver& res_;
    const std::optional<gpu_host::ldcache::Cache>& cache_;
};

void intel_read_icds(UserSpace& u, InRootResolver& res, IntelLookup& look) {
    for (const char* name : kIntelIcds) {
        std::string in_root = std::string("/etc/OpenCL/vendors/") + name;
        auto icd = res.regular_file(in_root);
        if (!icd) continue;
        IcdFile f;
        f.path = in_root;
        f.host_path = res.host(*icd);
        try {
            f.library = std::string(text::trim(fs::read_file(f.host_path, 4096)));
        } catch (const Error& e) {
            u.notes.push_back("cannot read " + f.host_path + ": " + e.message());
        }
        std::optional<Library> lib;
        if (f.library.starts_with("/"))
            lib = intel_library(res, f.library);
        else if (!f.library.empty() && f.library.find('/') == std::string::npos)
            lib = look.find_named(f.library, "intel-opencl");
        if (lib && !u.has(lib->name))
            u.libraries.push_back(std::move(*lib));
        else if (!lib)
            u.missing.push_back("the OpenCL driver " + f.host_path + " names (\"" + f.library +
                                "\")");
        u.icds.push_back(std::move(f));
    }
    if (u.icds.empty()) u.missing.push_back("/etc/OpenCL/vendors/intel.icd");
}

// Follows the NEEDED entries of every library found (those added included) under the rule of
// driver_deps.hpp.
void intel_add_dependencies(UserSpace& u, IntelLookup& look) {
    std::set<std::string> known;
    for (const auto& l : u.libraries) known.insert(l.name);
    for (std::size_t i = 0; i < u.libraries.size() && i < kIntelMaxLibraries; ++i) {
        const std::string who = u.libraries[i].name;
        elf::Info info;
        try {
            info = elf::read_file(u.libraries[i].host_path);
        } catch (const Error& e) {
            u.notes.push_back("cannot read what " + u.libraries[i].host_path +
                              " needs: " + e.message());
            continue;
        }
        if (!info.soname.empty()) known.insert(info.soname);
        for (const auto& n : info.needed) {
            if (known.count(n)) continue;
            switch (classify_dependency(n)) {
            case DepKind::c_runtime:
                break;
            case DepKind::general:
                if (std::find(u.left_to_image_names.begin(), u.left_to_image_names.end(), n) ==
                    u.left_to_image_names.end()) {
                    u.left_to_image_names.push_back(n);
                    u.left_to_image.push_back(n + " (needed by " + who + ")");
                }
                break;
            case DepKind::driver:
                known.insert(n);
                if (auto l = look.find_named(n)) {
                    l->needed_by = who;
                    u.libraries.push_back(std::move(*l));
                } else {
                    u.missing.push_back(n + " (needed by " + who + ")");
                }
                break;
            }
        }
    }
}

// From the driver file's versioned name, which Intel's packaging and Debian's both give it. Not
// from a package database: dpkg's is its own to read (dpkg-query), and the file is the driver
// that runs.
std::optional<DriverVersion> intel_driver_version(const UserSpace& u) {
    for (const auto& l : u.libraries)
        if (l.name == kIntelDrivers[0] || l.name == kIntelDrivers[1])
            if (auto v = driver_version_from_file(intel_base_of(l.real_path))) return v;
    return std::nullopt;
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
    IntelLookup look(res, cache);
    for (const auto& w : kIntelWanted) {
        if (auto found = look.find(w))
            u.libraries.push_back(std::move(*found));
        else if (w.name != std::string_view(kIntelDrivers[0]) &&
                 w.name != std::string_view(kIntelDrivers[1]))
            u.missing.emplace_back(w.prefix ? std::string(w.name) + "*" : w.name);
    }
    if (!u.has(kIntelDrivers[0]) && !u.has(kIntelDrivers[1]))
        u.missing.insert(u.missing.begin() + (u.has("libze_loader.so.1") ? 0 : 1),
                         kIntelDrivers[0]);
    // OpenCL: the ICD loader reads /etc/OpenCL/vendors/*.icd, each naming a driver library
    intel_read_icds(u, res, look);
    intel_add_dependencies(u, look);
    u.driver_version = intel_driver_version(u);
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
