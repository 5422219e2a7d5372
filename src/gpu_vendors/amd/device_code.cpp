#include "gpu_vendors/amd/device_code.hpp"

#include "gpu_vendors/amd/hip_fatbin.hpp"
#include "gpu_vendors/amd/hip_report.hpp"
#include "gpu_vendors/amd/tailor_hip.hpp"
#include "util/error.hpp"

#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::amd {

namespace {

class HipFormat final : public device_code::Format {
  public:
    std::string_view name() const override { return "hip"; }

    const device_code::KeepGrammar& keep_grammar() const override {
        static const device_code::KeepGrammar grammar = hip_keep_grammar();
        return grammar;
    }

    std::map<std::string, std::uint64_t> target_bytes(std::string_view elf,
                                                      const std::string& path) const override {
        return hip_target_bytes(elf, path);
    }

    device_code::FileReport tailor(std::string& elf, const device_code::KeepSet& keep,
                                   const std::string& path, bool write) const override {
        return tailor_hip(elf, keep, path, write);
    }

    // A damaged bundle throws Error(invalid) naming the file (exit 4).
    device_code::Listing list(const std::string& path) const override {
        auto hip = read_hip_fatbin_file(path);
        device_code::Listing l;
        l.found = hip.found;
        if (!hip.found) {
            l.headline = path + ": no .hip_fatbin section";
            return l;
        }
        const std::size_t code = hip_code_objects(hip);
        l.headline = path + ": .hip_fatbin with " + std::to_string(hip.bundles.size()) +
                     " offload bundle" + (hip.bundles.size() == 1 ? "" : "s") + ", " +
                     std::to_string(code) + " HIP code object" + (code == 1 ? "" : "s");
        if (code > 0) l.tables = {hip_code_object_rows(hip)};
        return l;
    }

    void list_json(const std::string& path, nlohmann::json& document) const override {
        hip_report_json(read_hip_fatbin_file(path), document);
    }

    std::map<std::string, std::string>
    build_env(const std::vector<std::string>& targets) const override {
        std::string list;
        for (const auto& t : targets) list += (list.empty() ? "" : ";") + t;
        return {{"PYTORCH_ROCM_ARCH", list}, {"GPU_TARGETS", list}, {"AMDGPU_TARGETS", list}};
    }
};

} // namespace

const device_code::Format& hip_format() {
    static const HipFormat format;
    return format;
}

std::map<std::string, std::uint64_t> hip_target_bytes(std::string_view elf,
                                                      const std::string& name) {
    std::map<std::string, std::uint64_t> out;
    HipFatbin hf;
    try {
        hf = read_hip_fatbin_bytes(elf, name);
    } catch (const Error&) {
        return out; // a damaged bundle is doctor's business; the size report goes on
    }
    if (!hf.found) return out;
    for (const auto& b : hf.bundles) {
        std::uint64_t inflated = 0;
        for (std::size_t i = b.first_entry; i < b.first_entry + b.entry_count; ++i)
            if (i < hf.entries.size() && hf.entries[i].is_device_code())
                inflated += hf.entries[i].size;
        for (std::size_t i = b.first_entry; i < b.first_entry + b.entry_count; ++i) {
            if (i >= hf.entries.size() || !hf.entries[i].is_device_code()) continue;
            const auto& e = hf.entries[i];
            std::string target = e.target_id.empty() ? e.target.str() : e.target_id;
            std::uint64_t bytes = e.size;
            if (b.compression != BundleCompression::none && inflated)
                bytes = static_cast<std::uint64_t>(static_cast<long double>(b.size) * e.size /
                                                   inflated);
            out[target] += bytes;
        }
    }
    return out;
}

} // namespace gantry::gpu_vendors::amd
