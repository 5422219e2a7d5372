#include "cli/gpu_checks.hpp"

#include "rootfs/rootfs.hpp"
#include "spec/gpu.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace gantry::cli {

std::vector<compat::Finding>
image_findings(const store::Store& store, const store::Image& img, const std::string& ref,
               const std::vector<std::string>& env, const gpu::Host& host, const gpu::Request& req,
               const gpu::Selection& sel, const std::string& path_prefix) {
    compat::ImageFacts facts;
    facts.ref = ref;
    facts.platform = img.config.platform;
    facts.env = env;
    facts.cuda_version_json =
        rootfs::read_image_file(store, img.config.diff_ids, "usr/local/cuda/version.json");
    std::vector<compat::ImageBinary> binaries;
    std::vector<std::string> compat_libs;
    std::map<std::string, std::string> compat_hosts;
    // One walk over the merged image: CUDA library names, PyTorch's version.py, and the GPU code
    // of every ELF file (under path_prefix when given).
    rootfs::walk_image_files(
        store, img.config.diff_ids, [&](const std::string& path, const std::string& host_path) {
            std::string name = path.substr(path.rfind('/') + 1);
            if (name.rfind("libcuda.so.", 0) == 0 &&
                std::count(name.begin(), name.end(), '.') >= 4 &&
                path.rfind("usr/local/cuda", 0) == 0 &&
                path.find("/compat/") != std::string::npos) {
                compat_libs.push_back(path);
                compat_hosts[path] = host_path;
            }
            for (const char* p : {"libcudart.so", "libcudnn", "libnccl.so", "libcublas"})
                if (name.rfind(p, 0) == 0) facts.lib_names.push_back(name);
            if (facts.torch_version_py.empty() && path.size() > 16 &&
                path.compare(path.size() - 16, 16, "torch/version.py") == 0 &&
                path.find("-packages/") != std::string::npos) {
                try {
                    facts.torch_version_py = fs::read_file(host_path, 1 << 16);
                    facts.torch_path = "/" + path;
                } catch (const Error&) {
                }
            }
            if (!path_prefix.empty() && path.rfind(path_prefix, 0) != 0) return;
            Fd fd(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC));
            char magic[4] = {};
            if (!fd || ::read(fd.get(), magic, 4) != 4 ||
                std::memcmp(magic,
                            "\x7f"
                            "ELF",
                            4) != 0)
                return;
            try {
                auto k = compat::scan_fatbin_file(host_path).kernel_entries();
                if (!k.empty()) binaries.push_back({path, std::move(k)});
            } catch (const Error&) { // an unreadable ELF file carries no verdict
            }
        });
    auto out = compat::check_image(host, facts, req, sel);
    // Forward-compat libraries (cuda-compat): will gantry enable them here, and can they work?
    for (auto& compat_path : compat_libs) {
        std::string name = compat_path.substr(compat_path.rfind('/') + 1);
        std::string ver = name.substr(11); // after "libcuda.so."
        std::string note;
        try {
            note = compat::cuda_fwd_compat_note(compat_hosts[compat_path]).value_or("");
        } catch (const Error&) {
        }
        if (!host.has_driver() || !req.inject) break;
        bool used = spec::compat_applies(ver, host.driver_version, note, host.cuda_version);
        if (!used) {
            out.push_back(
                {"FWD-COMPAT-UNUSED", compat::Severity::info,
                 "/" + compat_path + " (driver " + ver + ") is not used with host driver " +
                     host.driver_version +
                     (note.empty() ? ""
                                   : " (its note does not list this branch, or the host is newer)"),
                 ""});
            break;
        }
        for (auto* d : sel.gpus) {
            std::string b = d->brand;
            for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (b.find("geforce") != std::string::npos || b.find("titan") != std::string::npos)
                out.push_back(
                    {"FWD-COMPAT-UNSUPPORTED-GPU", compat::Severity::fail,
                     "/" + compat_path + " would be used, but GPU " + std::to_string(d->index) +
                         " (" + d->name + ", brand " + d->brand +
                         ") does not support CUDA forward compatibility: CUDA fails with error 804",
                     "upgrade the host driver to serve the image's CUDA, or remove "
                     "/usr/local/cuda/compat "
                     "from the image"});
        }
        break;
    }
    auto kern = compat::check_kernels(host, sel, binaries);
    out.insert(out.end(), kern.begin(), kern.end());
    return out;
}

std::vector<compat::Finding> image_findings_cached(const store::Store& store,
                                                   const store::Image& img, const std::string& ref,
                                                   const std::vector<std::string>& env,
                                                   const gpu::Host& host, const gpu::Request& req,
                                                   const gpu::Selection& sel,
                                                   const std::string& cache_dir) {
    if (cache_dir.empty()) return image_findings(store, img, ref, env, host, req, sel);
    Sha256 h;
    h.update("doctor-1\n" + img.manifest_digest.str() + "\n" + host.driver_version + "\n" +
             std::to_string(host.cuda_version) + "\n");
    for (auto* d : sel.gpus)
        h.update(d->uuid + ":" + std::to_string(d->cc_major) + "." + std::to_string(d->cc_minor) +
                 ":" + d->brand + ":" + (d->mig_enabled ? "mig" : "") + "\n");
    h.update(sel.whole_gpu_requested ? "whole\n" : "\n");
    for (auto c : req.caps) h.update(std::string(gpu::to_string(c)) + ",");
    for (auto& e : env) h.update(e + "\n");
    std::string path = cache_dir + "/doctor-" + h.hex_final() + ".json";
    try {
        auto j = nlohmann::json::parse(fs::read_file(path, 4 << 20));
        std::vector<compat::Finding> out;
        for (auto& f : j)
            out.push_back({f.at("id"), static_cast<compat::Severity>(f.at("severity").get<int>()),
                           f.at("message"), f.at("fix")});
        return out;
    } catch (const std::exception&) { // missing or damaged: check afresh
    }
    auto out = image_findings(store, img, ref, env, host, req, sel);
    nlohmann::json j = nlohmann::json::array();
    for (auto& f : out)
        j.push_back({{"id", f.id},
                     {"severity", static_cast<int>(f.severity)},
                     {"message", f.message},
                     {"fix", f.fix}});
    try {
        fs::make_dirs(cache_dir);
        fs::write_atomic(path, j.dump(), 0600);
    } catch (const Error&) {
    }
    return out;
}

} // namespace gantry::cli
