#include "compat/forward_compat.hpp"

#include "compat/version.hpp"

#include <nlohmann/json.hpp>

namespace gantry::compat {

// The image's cuda-compat libcuda will be used on data-center GPUs: a CUDA the host driver is
// too old for runs if the compat driver serves it (its note's "CUDA Version", else its branch).
void apply_forward_compat(std::vector<Finding>& out, const std::string& compat_path,
                          const std::string& compat_version, const std::string& note) {
    int served = 0;
    if (!note.empty()) {
        auto j = nlohmann::json::parse(note, nullptr, false);
        if (j.is_object() && j.contains("CUDA Version") && j["CUDA Version"].is_string())
            if (auto v = CudaVersion::parse(j["CUDA Version"].get<std::string>()))
                served = v->encoded();
    }
    if (!served)
        if (auto d = DriverVersion::parse(compat_version)) served = max_cuda_for_driver(*d);
    if (!served) return;
    for (auto& f : out) {
        if (f.id != "CUDA-DRIVER-TOO-OLD" && f.id != "TORCH-CUDA-TOO-NEW") continue;
        if (f.cuda == 0 || f.cuda > served) continue; // the CUDA version the rule was about
        f.id = f.id == "CUDA-DRIVER-TOO-OLD" ? "CUDA-FORWARD-COMPAT" : "TORCH-FORWARD-COMPAT";
        f.severity = Severity::warn;
        f.message += "; the image's forward-compatibility library " + compat_path + " (CUDA " +
                     cuda_string(served) + ") makes it run on this data-center GPU";
        f.fix = "upgrade the host driver to drop the dependency on forward compatibility "
                "(it works only on data-center GPUs and supported driver branches)";
    }
}

} // namespace gantry::compat
