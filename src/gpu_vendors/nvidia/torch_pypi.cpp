#include "gpu_vendors/nvidia/torch_pypi.hpp"

#include "lint/model.hpp"

namespace gantry::gpu_vendors::nvidia {

namespace {

// Sources:
//  [PV]  pytorch.org "Previous PyTorch Versions", pytorch/pytorch.github.io
//        _get_started/previous-versions.md (commits 04862e37, e3f009bb): for v1.13.0 ...
//        v2.0.1 the "Linux CUDA 11.7" wheel command is plain `pip install torch==X` (no index
//        URL), the other CUDA builds need --index-url download.pytorch.org/whl/cuXYZ.
//  [TI]  pytorch/test-infra#1145 (2022-11): "Use pypi version for cuda 11.7 in release by
//        default".
//  [114281] pytorch/pytorch#114281 (2023-11): "Move small pypi build as default for linux cuda
//        12.1" (the 2.2 line).
//  [META] the wheels' Requires-Dist on PyPI (nvidia-cuda-runtime-cu12==12.1.105 for 2.1-2.4,
//        12.4.127 for 2.5-2.6, 12.6.77 for 2.7, 12.8.90 for 2.8-2.9): recalled, not re-read
//        here (no network on the development machine); [114281] and ComfyUI-Nvidia-Docker#63
//        (2025-08, "Torch now defaults to CUDA 12.8 for Linux builds") agree for 2.2 and 2.8.
//  [CT]  googlecolab/colabtools#5982 (PyTorch's release manager, 2026-05): 2.12 on PyPI is
//        "Cuda 13.0 ... CUDA 13 is now the default version installed".
// 2.10 and 2.11 are left out: the sources found disagree on what PyPI's 2.11 wheel carries.
constexpr TorchPypiCuda kTable[] = {
    {1, 13, 11, 7, "[PV] [TI]"}, {2, 0, 11, 7, "[PV]"},
    {2, 1, 12, 1, "[META]"},     {2, 2, 12, 1, "[114281] [META]"},
    {2, 3, 12, 1, "[META]"},     {2, 4, 12, 1, "[META]"},
    {2, 5, 12, 4, "[META]"},     {2, 6, 12, 4, "[META]"},
    {2, 7, 12, 6, "[META]"},     {2, 8, 12, 8, "[META] ComfyUI-Nvidia-Docker#63"},
    {2, 9, 12, 8, "[META]"},     {2, 12, 13, 0, "[CT]"},
};

} // namespace

const TorchPypiCuda* torch_pypi_table(std::size_t* size) {
    *size = std::size(kTable);
    return kTable;
}

std::optional<std::pair<int, int>> torch_pypi_cuda(std::string_view version) {
    auto dot = version.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto rest = version.substr(dot + 1);
    auto end = rest.find_first_not_of("0123456789");
    auto v = lint::version_pair(version.substr(0, dot), rest.substr(0, end));
    if (!v) return std::nullopt;
    // what may follow major.minor: nothing, ".patch", ".*" (a post or local part is another
    // build: +cu118 is handled as an explicit pin, rc/dev builds are not on the default index)
    if (end != std::string_view::npos) {
        auto tail = rest.substr(end);
        if (tail != ".*" && tail.find_first_not_of(".0123456789") != std::string_view::npos)
            return std::nullopt;
    }
    for (auto& e : kTable)
        if (e.torch_major == v->first && e.torch_minor == v->second)
            return std::pair{e.cuda_major, e.cuda_minor};
    return std::nullopt;
}

} // namespace gantry::gpu_vendors::nvidia
