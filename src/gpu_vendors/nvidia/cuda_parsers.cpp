#include "gpu_vendors/nvidia/cuda_parsers.hpp"

#include "image_facts/image_facts.hpp"
#include "util/text.hpp"

#include <cctype>
#include <cstdlib>
#include <string_view>

namespace gantry::gpu_vendors::nvidia {

std::optional<std::string> parse_cudnn_version_h(const std::string& text) {
    return image_facts::header_version(text, "CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL");
}

std::optional<std::string> parse_nccl_h(const std::string& text) {
    return image_facts::header_version(text, "NCCL_MAJOR", "NCCL_MINOR", "NCCL_PATCH");
}

std::optional<std::string> parse_tensorrt_version_h(const std::string& text) {
    if (auto v = image_facts::header_version(text, "NV_TENSORRT_MAJOR", "NV_TENSORRT_MINOR",
                                             "NV_TENSORRT_PATCH"))
        return v;
    return image_facts::header_version(text, "NV_TENSORRT_SONAME_MAJOR", "NV_TENSORRT_SONAME_MINOR",
                                       "NV_TENSORRT_SONAME_PATCH");
}

int cuda_tag_major(const std::string& text) {
    std::string t = text::lower(text);
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    for (const char* tag : {"+cuda", "-cuda-", "-cuda", "-cu", "_cu", "+cu"}) {
        std::size_t at = 0;
        while ((at = t.find(tag, at)) != std::string::npos) {
            std::size_t d = at + std::string_view(tag).size();
            std::size_t e = d;
            while (e < t.size() && is_digit(t[e]) && e - d < 4) ++e;
            // cu12, cuda13.0, cuda-12; "cu121" (a torch tag) is major 12 minor 1
            if (e > d &&
                (e == t.size() || !std::isalnum(static_cast<unsigned char>(t[e])) || t[e] == '.')) {
                std::string digits = t.substr(d, e - d);
                int v = std::atoi(digits.c_str());
                if (digits.size() == 3) v /= 10; // cu121 -> 12, cu118 -> 11
                if (v >= 7 && v <= 99) return v;
            }
            at = d;
        }
    }
    return 0;
}

std::optional<TorchInfo> parse_torch_version(const std::string& py) {
    // __version__ = '2.4.0+cu121' and cuda: Optional[str] = '12.1' (or = None)
    auto v = image_facts::python_assignment(py, "__version__");
    if (!v || v->empty()) return std::nullopt;
    TorchInfo t;
    t.version = *v;
    t.cuda = image_facts::python_assignment(py, "cuda").value_or("");
    return t;
}

} // namespace gantry::gpu_vendors::nvidia
