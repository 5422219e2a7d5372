// Data: which CUDA the torch wheel on the default index (PyPI, Linux x86_64) of each release is
// built for. `pip install torch==2.1.0` with no PyTorch index gets a CUDA 12.1 build (its
// nvidia-*-cu12 dependencies bring that CUDA's runtime), so GL008 (lint/stacks.hpp:
// Stack::pypi_torch) compares it with the base image as it compares an explicit +cu121 pin. Sources
// are recorded per entry in the .cpp.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace gantry::gpu_vendors::nvidia {

struct TorchPypiCuda {
    int torch_major, torch_minor; // the release line: 2.1 covers 2.1.0, 2.1.1, 2.1.2
    int cuda_major, cuda_minor;
    const char* source; // where the pairing is stated
};

// The table, oldest first.
const TorchPypiCuda* torch_pypi_table(std::size_t* size);

// The CUDA (major, minor) of the default-index wheel of torch `version` ("2.1.0", "2.1.*",
// "2.1"); nullopt when the release line is not in the table (older than 1.13, where the
// default build is not stated by the sources, or newer than the table) or the version does not
// parse.
std::optional<std::pair<int, int>> torch_pypi_cuda(std::string_view version);

} // namespace gantry::gpu_vendors::nvidia
