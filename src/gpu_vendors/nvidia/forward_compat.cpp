#include "gpu_vendors/nvidia/forward_compat.hpp"

#include "elf/sections.hpp"
#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/json.hpp"
#include "util/mapped_file.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>

namespace gantry::gpu_vendors::nvidia {

// The image's cuda-compat libcuda will be used on data-center GPUs: a CUDA the host driver is
// too old for runs if the compat driver serves it (its note's "CUDA Version", else its branch).
void apply_forward_compat(std::vector<findings::Finding>& out, const std::string& compat_path,
                          const std::string& compat_version, const std::string& note) {
    int served = 0;
    if (!note.empty()) {
        auto j = safe_json::parse_or_discarded(note);
        if (j.is_object() && j.contains("CUDA Version") && j["CUDA Version"].is_string())
            if (auto v = CudaVersion::parse(j["CUDA Version"].get<std::string>()))
                served = v->encoded();
    }
    if (!served)
        if (auto d = DriverVersion::parse(compat_version)) served = max_cuda_for_driver(*d);
    if (!served) return;
    for (auto& f : out) {
        if (f.id != "CUDA-DRIVER-TOO-OLD" && f.id != "TORCH-CUDA-TOO-NEW") continue;
        if (f.version == 0 || f.version > served) continue; // the CUDA version the rule was about
        f.id = f.id == "CUDA-DRIVER-TOO-OLD" ? "CUDA-FORWARD-COMPAT" : "TORCH-FORWARD-COMPAT";
        f.severity = findings::Severity::warn;
        f.message += "; the image's forward-compatibility library " + compat_path + " (CUDA " +
                     cuda_string(served) + ") makes it run on this data-center GPU";
        f.fix = "upgrade the host driver to drop the dependency on forward compatibility "
                "(it works only on data-center GPUs and supported driver branches)";
    }
}

std::optional<std::string> cuda_fwd_compat_note_bytes(std::string_view data) {
    elf::Bytes f = elf::Bytes::of(data);
    if (!is_elf64le(f)) return std::nullopt;
    std::vector<std::string> problems;
    for (auto& r : elf::regions(f, problems)) {
        if (r.name != ".note.cuda.fwd_compatibility") continue;
        elf::Bytes n = f.sub(r.off, r.len);
        for (std::uint64_t at = 0; n.has(at, 12);) {
            std::uint64_t namesz = n.get<std::uint32_t>(at), descsz = n.get<std::uint32_t>(at + 4);
            std::uint64_t name_at = at + 12, desc_at = name_at + ((namesz + 3) & ~std::uint64_t{3});
            if (!n.has(name_at, namesz) || !n.has(desc_at, descsz)) break;
            std::string owner(reinterpret_cast<const char*>(n.p + name_at), namesz);
            while (!owner.empty() && owner.back() == '\0') owner.pop_back();
            std::string desc(reinterpret_cast<const char*>(n.p + desc_at), descsz);
            while (!desc.empty() && desc.back() == '\0') desc.pop_back();
            if (owner == "NVIDIA Corporation") return desc;
            at = desc_at + ((descsz + 3) & ~std::uint64_t{3});
        }
    }
    return std::nullopt;
}

std::optional<std::string> cuda_fwd_compat_note(const std::string& path) {
    MappedFile file(path);
    if (file.size() == 0) return std::nullopt;
    return cuda_fwd_compat_note_bytes(file.bytes());
}

namespace {
int driver_major(const std::string& version) {
    try {
        return std::stoi(version.substr(0, version.find('.')));
    } catch (...) {
        return 0;
    }
}
} // namespace

bool compat_applies(const std::string& compat, const std::string& host, const std::string& note,
                    int host_cuda) {
    int c = driver_major(compat), h = driver_major(host);
    if (!note.empty()) {
        auto j = safe_json::parse_or_discarded(note);
        if (j.is_object() && j.contains("Driver") && j["Driver"].is_array() &&
            j.contains("CUDA Version") && j["CUDA Version"].is_string()) {
            bool listed = false;
            for (auto& b : j["Driver"])
                if (b.is_number_integer() && b.get<int>() == h) listed = true;
            std::string v = j["CUDA Version"];
            int major = 0, minor = 0;
            if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) < 1) return false;
            return listed && host_cuda > 0 && major * 1000 + minor * 10 > host_cuda;
        }
    }
    return c > 0 && h > 0 && c > h;
}

} // namespace gantry::gpu_vendors::nvidia
