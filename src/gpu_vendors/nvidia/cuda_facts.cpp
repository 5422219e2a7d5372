#include "gpu_vendors/nvidia/cuda_facts.hpp"

#include "util/json.hpp"

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

namespace gantry::gpu_vendors::nvidia {

namespace {

std::string facts_env(const std::vector<std::string>& env, const std::string& key) {
    std::string v;
    for (auto& e : env)
        if (e.starts_with(key + "=")) v = e.substr(key.size() + 1);
    return v;
}

std::string facts_base_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

// The dist-info directory of a METADATA path, lower case: "nvidia_cudnn_cu12-9.1.0.70.dist-info".
std::string dist_info_dir(const std::string& path) {
    auto end = path.rfind('/');
    if (end == std::string::npos) return {};
    auto start = path.rfind('/', end - 1);
    std::string d = path.substr(start == std::string::npos ? 0 : start + 1,
                                end - (start == std::string::npos ? 0 : start + 1));
    for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return d;
}

void add_evidence(std::vector<image_facts::Evidence>& to, image_facts::Evidence e) {
    for (auto& x : to)
        if (x.version == e.version && x.source == e.source) return;
    if (to.size() < 64) to.push_back(std::move(e));
}

// A release "12.4", "13.0.1", "v12.4.1", "12" (minor 0) as (major, minor): digits and dots, at
// most three components, major below 1000 and minor below 100; nullopt for anything else.
std::optional<std::pair<int, int>> release_of(std::string_view s) {
    if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
    std::vector<long> parts;
    std::size_t i = 0;
    while (true) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
        long v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v >= 1000000) return std::nullopt;
            ++i;
        }
        parts.push_back(v);
        if (parts.size() > 3) return std::nullopt;
        if (i == s.size()) break;
        if (s[i] != '.') return std::nullopt;
        ++i;
    }
    if (parts[0] >= 1000 || (parts.size() > 1 && parts[1] >= 100)) return std::nullopt;
    return std::pair{static_cast<int>(parts[0]), parts.size() > 1 ? static_cast<int>(parts[1]) : 0};
}

} // namespace

std::vector<image_facts::Evidence> image_cuda_versions(const ImageFacts& img) {
    std::vector<image_facts::Evidence> all;
    std::string v = facts_env(img.env, "CUDA_VERSION");
    if (!v.empty()) all.push_back({v, "CUDA_VERSION=" + v, 0});
    if (!img.cuda_version_json.empty()) {
        auto j = safe_json::parse_or_discarded(img.cuda_version_json);
        if (j.is_object() && j.contains("cuda") && j["cuda"].is_object() &&
            j["cuda"].contains("version") && j["cuda"]["version"].is_string())
            all.push_back(
                {j["cuda"]["version"].get<std::string>(), "/usr/local/cuda/version.json", 0});
    }
    all.insert(all.end(), img.cuda.begin(), img.cuda.end());
    std::vector<image_facts::Evidence> out;
    std::set<std::pair<int, int>> seen;
    for (auto& e : all) {
        auto c = release_of(e.version);
        if (!c || !seen.insert(*c).second) continue;
        image_facts::Evidence x = e;
        x.built_for_major = c->first;
        out.push_back(std::move(x));
    }
    return out;
}

std::optional<std::string> image_cuda_version(const ImageFacts& img) {
    auto all = image_cuda_versions(img);
    if (all.empty()) return std::nullopt;
    return all.front().version;
}

bool wants_contents(const std::string& path) {
    std::string name = facts_base_name(path);
    if (name == "METADATA" && path.find("-packages/") != std::string::npos) {
        std::string d = dist_info_dir(path);
        return d.ends_with(".dist-info") &&
               (d.starts_with("nvidia") || d.starts_with("torch-") || d.starts_with("tensorrt"));
    }
    if (name == "version.py" && path.ends_with("torch/version.py") &&
        path.find("-packages/") != std::string::npos)
        return true;
    return name == "cudnn_version.h" || name == "NvInferVersion.h" || name == "nccl.h" ||
           path == "var/lib/dpkg/status";
}

void add_file_facts(ImageFacts& img, const std::string& path, const std::string& text) {
    const std::string name = facts_base_name(path), where = "/" + path;
    for (const char* p : {"libcudart.so", "libcudnn", "libnccl.so", "libcublas", "libnvinfer.so"})
        if (name.starts_with(p) && img.lib_names.size() < 4096) img.lib_names.push_back(name);
    if (auto v = image_facts::file_name_version(name, "libcudart.so.", 3))
        if (auto mm = image_facts::major_minor(*v))
            add_evidence(img.cuda, {std::to_string(mm->first) + "." + std::to_string(mm->second),
                                    where, mm->first});
    if (auto v = image_facts::file_name_version(name, "libcudnn.so.", 3))
        add_evidence(img.cudnn, {*v, where, 0});
    if (auto v = image_facts::file_name_version(name, "libnccl.so.", 3))
        add_evidence(img.nccl, {*v, where, 0});
    if (auto v = image_facts::file_name_version(name, "libnvinfer.so.", 3))
        add_evidence(img.tensorrt, {*v, where, 0});
    if (text.empty()) return;
    if (name == "METADATA") {
        auto p = image_facts::parse_pip_metadata(text, where);
        if (!p || img.pip.size() >= 256) return;
        std::string src = "pip " + p->name + " " + p->version;
        int tag = cuda_tag_major(p->name);
        auto mm = image_facts::major_minor(p->version);
        auto starts = [&](const char* prefix) { return p->name.starts_with(prefix); };
        if (starts("nvidia-cuda-runtime") && mm && mm->first >= 7)
            add_evidence(img.cuda, {std::to_string(mm->first) + "." + std::to_string(mm->second),
                                    src, tag ? tag : mm->first});
        if (starts("nvidia-cudnn") && mm && mm->first > 0)
            add_evidence(img.cudnn, {p->version, src, tag});
        if (starts("nvidia-nccl") && mm && mm->first > 0)
            add_evidence(img.nccl, {p->version, src, tag});
        if (starts("tensorrt") && mm && mm->first > 0)
            add_evidence(img.tensorrt, {p->version, src, tag});
        img.pip.push_back(std::move(*p));
    } else if (name == "version.py") {
        if (img.torch_version_py.empty()) {
            img.torch_version_py = text;
            img.torch_path = where;
        }
    } else if (name == "cudnn_version.h") {
        if (auto v = parse_cudnn_version_h(text)) add_evidence(img.cudnn, {*v, where, 0});
    } else if (name == "nccl.h") {
        if (auto v = parse_nccl_h(text)) add_evidence(img.nccl, {*v, where, 0});
    } else if (name == "NvInferVersion.h") {
        if (auto v = parse_tensorrt_version_h(text)) add_evidence(img.tensorrt, {*v, where, 0});
    } else if (path == "var/lib/dpkg/status") {
        if (auto v = image_facts::dpkg_package_version(text, "libc6");
            v && img.glibc_defs.empty()) {
            if (auto mm = image_facts::major_minor(*v)) {
                img.glibc = std::to_string(mm->first) + "." + std::to_string(mm->second);
                img.glibc_source = where + " (libc6 " + *v + ")";
            }
        }
    }
}

void add_env_facts(ImageFacts& img) {
    auto env = [&](const char* k) { return facts_env(img.env, k); };
    if (auto v = env("NV_CUDNN_VERSION"); !v.empty() && image_facts::major_minor(v)) {
        int tag = cuda_tag_major(env("NV_CUDNN_PACKAGE_NAME"));
        add_evidence(img.cudnn, {v.substr(0, v.find('-')), "NV_CUDNN_VERSION=" + v, tag});
    }
    if (auto v = env("NCCL_VERSION"); !v.empty() && image_facts::major_minor(v)) {
        int tag = cuda_tag_major(env("NV_LIBNCCL_PACKAGE"));
        add_evidence(img.nccl, {v.substr(0, v.find('-')), "NCCL_VERSION=" + v, tag});
    }
    if (auto v = env("NV_TENSORRT_VERSION"); !v.empty() && image_facts::major_minor(v))
        add_evidence(img.tensorrt,
                     {v.substr(0, v.find('-')), "NV_TENSORRT_VERSION=" + v, cuda_tag_major(v)});
}

} // namespace gantry::gpu_vendors::nvidia
