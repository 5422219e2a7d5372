#include "gpu_vendors/nvidia/gpu_facts.hpp"

#include "gpu_host/ldcache.hpp"
#include "gpu_vendors/nvidia/forward_compat.hpp"
#include "gpu_vendors/nvidia/image_checks.hpp"
#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>

namespace gantry::gpu_vendors::nvidia {

// Where the image keeps its libraries, its CUDA forward-compat libcuda and what its linker cache
// lists: where the driver's files go and whether ldconfig must run.
gantry::gpu_vendors::nvidia::ImageGpuLayout image_gpu_layout(const rootfs::ImageFiles& files) {
    gantry::gpu_vendors::nvidia::ImageGpuLayout layout;
    // Debian's multiarch directories, or RHEL's lib64. A Debian-built program staged alone (no
    // debian_version, only /lib/x86_64-linux-gnu) runs on Debian's loader, which never searches
    // /usr/lib64: the driver put there was not found (the first real GPU host, tests/gpu).
    if (!files.has("etc/debian_version") && !files.has(std::string("usr/lib/") + kMultiarch) &&
        !files.has(std::string("lib/") + kMultiarch)) {
        layout.lib_dir = "/usr/lib64";
        layout.lib32_dir = "/usr/lib";
    }
    for (auto& n : files.list("usr/local/cuda/compat"))
        if (n.starts_with("libcuda.so.") && std::count(n.begin(), n.end(), '.') >= 4)
            layout.compat_libcuda = "/usr/local/cuda/compat/" + n;
    if (!layout.compat_libcuda.empty()) {
        Fd lib(files.open(layout.compat_libcuda.substr(1)));
        if (lib) try {
                layout.compat_note =
                    cuda_fwd_compat_note("/proc/self/fd/" + std::to_string(lib.get())).value_or("");
            } catch (const Error&) {
            }
    }
    std::string cache;
    try {
        cache = files.read("etc/ld.so.cache");
    } catch (const Error&) {
        cache = "unreadable"; // parse fails below: ldconfig rebuilds it
    }
    if (!cache.empty()) {
        layout.cached_sonames.emplace();
        try {
            for (auto& e : gpu_host::ldcache::parse(cache).entries)
                layout.cached_sonames->insert(e.key);
        } catch (const Error&) { // unreadable cache: let ldconfig rebuild it
            layout.cached_sonames->insert("libcuda.so.1");
        }
    }
    return layout;
}

nlohmann::json to_json(const ImageGpuFacts& facts) {
    nlohmann::json findings = nlohmann::json::array();
    for (auto& f : facts.findings)
        findings.push_back({{"id", f.id},
                            {"severity", static_cast<int>(f.severity)},
                            {"message", f.message},
                            {"fix", f.fix}});
    const auto& l = facts.layout;
    nlohmann::json sonames = nullptr;
    if (l.cached_sonames) sonames = *l.cached_sonames;
    return {{"findings", findings},
            {"layout",
             {{"lib_dir", l.lib_dir},
              {"lib32_dir", l.lib32_dir},
              {"compat_libcuda", l.compat_libcuda},
              {"compat_note", l.compat_note},
              {"cached_sonames", sonames}}}};
}

ImageGpuFacts gpu_facts_from_json(const nlohmann::json& j) {
    ImageGpuFacts facts;
    for (auto& f : j.at("findings"))
        facts.findings.push_back({f.at("id"),
                                  static_cast<findings::Severity>(f.at("severity").get<int>()),
                                  f.at("message"), f.at("fix")});
    const auto& l = j.at("layout");
    auto& out = facts.layout;
    out.lib_dir = l.at("lib_dir");
    out.lib32_dir = l.at("lib32_dir");
    out.compat_libcuda = l.at("compat_libcuda");
    out.compat_note = l.at("compat_note");
    if (!l.at("cached_sonames").is_null())
        out.cached_sonames = l.at("cached_sonames").get<std::set<std::string>>();
    return facts;
}

ImageGpuFacts image_gpu_facts_cached(const store::Store& store, const store::Image& img,
                                     const rootfs::ImageFiles& files, const std::string& ref,
                                     const std::vector<std::string>& env,
                                     const gpu_vendors::nvidia::Host& host,
                                     const gpu_vendors::nvidia::GpuRequest& req,
                                     const gpu_vendors::nvidia::Selection& sel,
                                     const std::string& cache_dir) {
    auto find = [&] {
        return ImageGpuFacts{image_findings(store, img, ref, env, host, req, sel),
                             image_gpu_layout(files)};
    };
    if (cache_dir.empty()) return find();
    Sha256 h;
    // a squashfs view and the store's of one manifest are read differently: never one entry
    h.update("gpu-facts-3\n" + std::string(files.kind()) + "\n" + img.manifest_digest.str() + "\n" +
             host.driver_version + "\n" + std::to_string(host.cuda_version) + "\n");
    for (auto* d : sel.gpus)
        h.update(d->uuid + ":" + std::to_string(d->cc_major) + "." + std::to_string(d->cc_minor) +
                 ":" + d->brand + ":" + (d->mig_enabled ? "mig" : "") + "\n");
    h.update(sel.whole_gpu_requested ? "whole\n" : "\n");
    for (auto c : req.caps) h.update(std::string(gpu_vendors::nvidia::to_string(c)) + ",");
    for (auto& e : env) h.update(e + "\n");
    std::string path = cache_dir + "/doctor-" + h.hex_final() + ".json";
    try {
        return gpu_facts_from_json(nlohmann::json::parse(fs::read_file(path, 4 << 20)));
    } catch (const std::exception&) { // missing or damaged: found afresh
    }
    auto facts = find();
    try {
        fs::make_dirs(cache_dir);
        fs::write_atomic(path, to_json(facts).dump(), 0600);
    } catch (const Error&) {
    }
    return facts;
}

} // namespace gantry::gpu_vendors::nvidia
