// gpu_vendors/amd/rocm_rules.hpp's fact gathering: what one image file or the environment says
// about the image's ROCm, PyTorch and CUDA (the rules are in rocm_rules.cpp).
#include "gpu_vendors/amd/rocm_rules.hpp"
#include "image_facts/image_facts.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::amd {

namespace {

constexpr std::size_t kMaxEvidence = 64; // a hostile image cannot grow the facts without bound

void add(std::vector<image_facts::Evidence>& v, std::string version, std::string source) {
    if (v.size() >= kMaxEvidence) return;
    for (const auto& e : v)
        if (e.version == version && e.source == source) return;
    v.push_back({std::move(version), std::move(source), 0});
}

bool is_torch_version_py(const std::string& path) {
    return path.ends_with("/torch/version.py") && path.find("-packages/") != std::string::npos;
}

bool is_rocm_info_version(const std::string& path) {
    if (!path.starts_with("opt/rocm") || !path.ends_with("/.info/version")) return false;
    auto dir = path.substr(4, path.size() - 4 - std::string_view("/.info/version").size());
    return dir == "rocm" || rocm_from_dir_name(dir).has_value();
}

bool is_cuda_version_json(const std::string& path) {
    return path.starts_with("usr/local/cuda") && path.ends_with("/version.json") &&
           std::count(path.begin(), path.end(), '/') == 3;
}

// Libraries a ROCm build of PyTorch bundles in torch/lib (rocm.md §3).
bool is_bundled_rocm_lib(std::string_view name) {
    for (std::string_view stem : {"libamdhip64.so", "libhsa-runtime64.so", "librocblas.so",
                                  "libMIOpen.so", "librccl.so", "libroctx64.so", "libhipblas.so"})
        if (name.starts_with(stem)) return true;
    return false;
}

} // namespace

bool rocm_wants_contents(const std::string& path) {
    return is_rocm_info_version(path) || is_torch_version_py(path) || is_cuda_version_json(path);
}

void add_rocm_file_facts(RocmImageFacts& img, const std::string& path, const std::string& text) {
    const std::string name = path.substr(path.rfind('/') + 1);
    if (is_rocm_info_version(path)) {
        if (auto r = parse_rocm_version(text)) add(img.rocm, r->str(), "/" + path);
    }
    if (path.starts_with("opt/rocm-")) {
        auto dir = path.substr(4, path.find('/', 4) - 4);
        if (auto r = rocm_from_dir_name(dir)) add(img.rocm, r->str(), "/opt/" + dir);
    }
    const bool in_torch_lib = path.find("/torch/lib/") != std::string::npos;
    if (auto r = rocm_from_library_name(name)) add(img.rocm, r->str(), "/" + path);
    if (in_torch_lib && is_bundled_rocm_lib(name) && img.torch_rocm_libs.size() < kMaxEvidence)
        img.torch_rocm_libs.push_back(name);
    if (is_torch_version_py(path) && !img.torch) {
        img.torch = true;
        img.torch_path = "/" + path;
        if (auto v = image_facts::python_assignment(text, "__version__"); v && !v->empty()) {
            img.torch_version = *v;
            img.torch_cuda = image_facts::python_assignment(text, "cuda").value_or("");
        }
        img.torch_hip = parse_torch_hip(text).value_or("");
        if (auto r = parse_rocm_version(img.torch_hip))
            add(img.rocm, r->str(), img.torch_path + " (torch.version.hip)");
    }
    // site-packages/torch-2.4.0+rocm6.1.dist-info/METADATA: the wheel's tag
    if (name == "METADATA" && path.find("-packages/torch-") != std::string::npos) {
        auto dir_end = path.rfind(".dist-info/");
        auto start = path.rfind("/torch-", dir_end);
        if (dir_end != std::string::npos && start != std::string::npos && dir_end > start + 7) {
            std::string version = path.substr(start + 7, dir_end - start - 7);
            if (auto r = rocm_from_torch_tag(version))
                add(img.rocm, r->str(), "pip torch " + version);
        }
    }
    // CUDA: the toolkit's version.json, a CUDA runtime library
    if (is_cuda_version_json(path)) {
        std::string version = "?";
        try {
            auto j = safe_json::parse(text, path);
            version = j.at("cuda").at("version").get<std::string>();
        } catch (const std::exception&) { // damaged: the file still says CUDA
        }
        add(img.cuda, version.substr(0, 32), "/" + path);
    }
    if (auto v = image_facts::file_name_version(name, "libcudart.so.", 2))
        add(img.cuda, *v, "/" + path);
}

void add_rocm_env_facts(RocmImageFacts& img, const std::vector<std::string>& env) {
    for (const auto& e : env) {
        auto eq = e.find('=');
        if (eq == std::string::npos) continue;
        std::string key = e.substr(0, eq), value = e.substr(eq + 1);
        if (key == "HSA_OVERRIDE_GFX_VERSION")
            img.hsa_override = value;
        else if (key == "PYTORCH_ROCM_ARCH")
            img.pytorch_rocm_arch = value;
        else if (key == "HSA_XNACK")
            img.xnack_on = value == "1";
        else if (key == "CUDA_VERSION" && !value.empty()) {
            img.cuda.erase(std::remove_if(img.cuda.begin(), img.cuda.end(),
                                          [](auto& c) { return c.source == "env CUDA_VERSION"; }),
                           img.cuda.end());
            img.cuda.insert(img.cuda.begin(), {value.substr(0, 32), "env CUDA_VERSION", 0});
        }
    }
}

} // namespace gantry::gpu_vendors::amd
