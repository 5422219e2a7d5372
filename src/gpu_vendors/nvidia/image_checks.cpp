#include "gpu_vendors/nvidia/image_checks.hpp"

#include "elf/dynamic.hpp"
#include "gpu_host/ldcache.hpp"
#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "gpu_vendors/nvidia/forward_compat.hpp"
#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

// libc.so.6 (or glibc < 2.34's libc-2.NN.so it links to) in a library directory of the image.
bool is_libc(const std::string& path, const std::string& name) {
    bool named = name == "libc.so.6" ||
                 (name.starts_with("libc-2.") && name.size() < 16 && name.ends_with(".so"));
    if (!named) return false;
    auto dir = path.substr(0, path.size() - name.size());
    for (const char* d : {"lib/", "lib64/", "usr/lib/", "usr/lib64/"})
        if (dir == d) return true;
    for (const char* d : {"lib/", "usr/lib/"})
        if (dir.starts_with(d) && dir.size() > std::strlen(d) + 1 &&
            dir.find('/', std::strlen(d)) == dir.size() - 1 &&
            dir.find("-linux-gnu") != std::string::npos)
            return true;
    return false;
}

// The names in the image's library directories (the loader's default ones and Debian's
// multiarch ones), links included, and the sonames its linker cache lists (directories of its
// ld.so.conf: /usr/local/lib, a conda prefix): what a driver library's DT_NEEDED can be found as.
std::set<std::string> image_library_names(const store::Store& store, const store::Image& img) {
    std::set<std::string> names;
    try {
        for (auto& e : gpu_host::ldcache::parse(
                           rootfs::read_image_file(store, img.config.diff_ids, "etc/ld.so.cache"))
                           .entries)
            names.insert(e.key);
    } catch (const Error&) { // no cache, or one the loader would not read either
    }
    std::vector<std::string> dirs{"lib", "lib64", "usr/lib", "usr/lib64"};
    for (const char* parent : {"lib", "usr/lib"})
        for (auto& n : rootfs::list_image_dir(store, img.config.diff_ids, parent))
            if (n.ends_with("-linux-gnu")) dirs.push_back(std::string(parent) + "/" + n);
    for (auto& d : dirs)
        for (auto& n : rootfs::list_image_dir(store, img.config.diff_ids, d)) names.insert(n);
    return names;
}

// GeForce and TITAN GPUs do not support CUDA forward compatibility (error 804).
bool no_forward_compat(const gpu_vendors::nvidia::Device* d) {
    std::string b = text::lower(d->brand);
    return b.find("geforce") != std::string::npos || b.find("titan") != std::string::npos;
}

} // namespace

std::vector<findings::Finding>
image_findings(const store::Store& store, const store::Image& img, const std::string& ref,
               const std::vector<std::string>& env, const gpu_vendors::nvidia::Host& host,
               const gpu_vendors::nvidia::GpuRequest& req,
               const gpu_vendors::nvidia::Selection& sel, const std::string& path_prefix) {
    ImageFacts facts;
    facts.ref = ref;
    facts.platform = img.config.platform;
    facts.env = env;
    facts.cuda_version_json =
        rootfs::read_image_file(store, img.config.diff_ids, "usr/local/cuda/version.json");
    std::vector<ImageBinary> binaries;
    std::vector<std::string> compat_libs;
    std::map<std::string, std::string> compat_hosts;
    std::vector<std::pair<std::string, std::string>> libc_candidates; // (path, host path)
    // One walk over the merged image: CUDA library names, PyTorch's version.py, and the GPU code
    // of every ELF file (under path_prefix when given).
    rootfs::walk_image_files(
        store, img.config.diff_ids, [&](const std::string& path, const std::string& host_path) {
            std::string name = path.substr(path.rfind('/') + 1);
            if (name.starts_with("libcuda.so.") && std::count(name.begin(), name.end(), '.') >= 4 &&
                path.starts_with("usr/local/cuda") && path.find("/compat/") != std::string::npos) {
                compat_libs.push_back(path);
                compat_hosts[path] = host_path;
            }
            std::string text;
            if (wants_contents(path)) try {
                    text = fs::read_file(host_path,
                                         path == "var/lib/dpkg/status" ? 64 << 20 : 1 << 20);
                } catch (const Error&) { // too large or unreadable: no evidence
                }
            add_file_facts(facts, path, text);
            if (is_libc(path, name)) libc_candidates.push_back({path, host_path});
            if (!path.starts_with(path_prefix)) return;
            Fd fd(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC));
            char magic[4] = {};
            if (!fd || ::read(fd.get(), magic, 4) != 4 ||
                std::memcmp(magic,
                            "\x7f"
                            "ELF",
                            4) != 0)
                return;
            try {
                auto k = nvidia::scan_fatbin_file(host_path).kernel_entries();
                if (!k.empty()) binaries.push_back({path, std::move(k)});
            } catch (const Error&) { // an unreadable ELF file carries no verdict
            }
        });
    // The image's glibc: the GLIBC_x.y its libc.so.6 defines (what the dynamic loader checks),
    // the native-architecture one first; else the libc6 version in the dpkg database.
    for (auto& [path, host_path] : libc_candidates) {
        try {
            auto info = elf::read_file(host_path, true);
            if (info.machine != elf::native_machine() || info.bits != elf::native_bits()) continue;
            auto v = elf::max_glibc_version(info.version_defs);
            if (v.first == 0) continue;
            facts.glibc = std::to_string(v.first) + "." + std::to_string(v.second);
            facts.glibc_source = "/" + path;
            facts.glibc_defs.clear();
            for (auto& d : info.version_defs)
                if (d.starts_with("GLIBC_")) facts.glibc_defs.push_back(d);
            break;
        } catch (const Error&) { // not an ELF object we can read: try the next
        }
    }
    add_env_facts(facts);
    auto out = check_image(host, facts, req, sel);
    if (req.inject && host.has_driver()) {
        std::vector<GlibcNeed> needs;
        std::vector<DriverLibNeeds> objects;
        std::set<std::string> injected;
        for (auto& lib : host.libraries) {
            if (lib.lib32 || !lib.selected_by(req.caps)) continue;
            injected.insert(lib.name);
            injected.insert(lib.soname);
            try {
                auto info = elf::read_file(lib.host_path, true);
                needs.push_back({lib.host_path, elf::max_glibc_version(info.version_needs)});
                objects.push_back({lib.host_path, info.needed});
            } catch (const Error&) { // discovery already vetted the file; nothing to add
            }
        }
        auto g = check_glibc(facts, needs);
        out.insert(out.end(), g.begin(), g.end());
        auto d = check_driver_needs(ref, image_library_names(store, img), injected, objects,
                                    !binaries.empty());
        out.insert(out.end(), d.begin(), d.end());
    }
    // Forward-compat libraries (cuda-compat): will gantry enable them here, and can they work?
    for (auto& compat_path : compat_libs) {
        std::string name = compat_path.substr(compat_path.rfind('/') + 1);
        std::string ver = name.substr(11); // after "libcuda.so."
        std::string note;
        try {
            note = cuda_fwd_compat_note(compat_hosts[compat_path]).value_or("");
        } catch (const Error&) {
        }
        if (!host.has_driver() || !req.inject) break;
        if (host.wsl) { // nvidia-ctk's wsl mode has no cuda-compat step, nor has gantry's
            out.push_back(
                {"FWD-COMPAT-UNUSED", findings::Severity::info,
                 "/" + compat_path + " is not used on WSL2: the Windows driver serves CUDA there",
                 ""});
            break;
        }
        bool used =
            gpu_vendors::nvidia::compat_applies(ver, host.driver_version, note, host.cuda_version);
        if (!used) {
            out.push_back(
                {"FWD-COMPAT-UNUSED", findings::Severity::info,
                 "/" + compat_path + " (driver " + ver + ") is not used with host driver " +
                     host.driver_version +
                     (note.empty() ? ""
                                   : " (its note does not list this branch, or the host is newer)"),
                 ""});
            break;
        }
        bool unsupported = std::any_of(sel.gpus.begin(), sel.gpus.end(), no_forward_compat);
        if (!unsupported) apply_forward_compat(out, "/" + compat_path, ver, note);
        for (auto* d : sel.gpus) {
            if (no_forward_compat(d))
                out.push_back(
                    {"FWD-COMPAT-UNSUPPORTED-GPU", findings::Severity::fail,
                     "/" + compat_path + " would be used, but GPU " + std::to_string(d->index) +
                         " (" + d->name + ", brand " + d->brand +
                         ") does not support CUDA forward compatibility: CUDA fails with error 804",
                     "upgrade the host driver to serve the image's CUDA, or remove "
                     "/usr/local/cuda/compat "
                     "from the image"});
        }
        break;
    }
    auto kern = check_kernels(host, sel, binaries);
    out.insert(out.end(), kern.begin(), kern.end());
    return out;
}

} // namespace gantry::gpu_vendors::nvidia
