#include "gpu_vendors/nvidia/device_code.hpp"

#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/fatbin_report.hpp"
#include "gpu_vendors/nvidia/tailor_cuda.hpp"

#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::nvidia {

namespace {

class CudaFormat final : public device_code::Format {
  public:
    std::string_view name() const override { return "cuda"; }

    const device_code::KeepGrammar& keep_grammar() const override {
        static const device_code::KeepGrammar grammar = cuda_keep_grammar();
        return grammar;
    }

    std::map<std::string, std::uint64_t> target_bytes(std::string_view elf,
                                                      const std::string&) const override {
        FatbinOptions options;
        options.cubin = FatbinOptions::Cubin::none;
        std::map<std::string, std::uint64_t> bytes;
        for (const auto& e : scan_fatbin_bytes(elf, options).entries)
            bytes[e.arch_name()] += e.disk_size();
        return bytes;
    }

    device_code::FileReport tailor(std::string& elf, const device_code::KeepSet& keep,
                                   const std::string& path, bool write) const override {
        return tailor_cuda(elf, keep, path, write);
    }

    device_code::Listing list(const std::string& path) const override {
        auto fb = scan_fatbin_file(path, listing_options());
        device_code::Listing l;
        l.found = !fb.containers.empty();
        l.problems = fb.problems;
        l.damaged = !fb.problems.empty();
        const std::size_t stubs = fb.stub_containers();
        const std::uint64_t entries = fatbin_totals(fb).back().entries;
        l.headline = path + ": " + std::to_string(fb.containers.size()) + " fatbin container" +
                     (fb.containers.size() == 1 ? "" : "s");
        if (stubs)
            l.headline += " (" + std::to_string(stubs) + " nvlink stub" + (stubs == 1 ? "" : "s") +
                          " without code skipped)";
        l.headline += ", " + std::to_string(entries) + (entries == 1 ? " entry" : " entries");
        if (entries > 0) l.tables = {fatbin_entry_rows(fb), fatbin_total_rows(fb)};
        return l;
    }

    void list_json(const std::string& path, nlohmann::json& document) const override {
        fatbin_report_json(scan_fatbin_file(path, listing_options()), document);
    }

    std::map<std::string, std::string>
    build_env(const std::vector<std::string>& targets) const override {
        std::string torch, cmake;
        for (const auto& t : targets) {
            unsigned sm = sm_number(t);
            if (!torch.empty()) torch += ';', cmake += ';';
            torch += std::to_string(sm / 10);
            torch += '.';
            torch += std::to_string(sm % 10);
            cmake += std::to_string(sm);
        }
        return {{"TORCH_CUDA_ARCH_LIST", torch},
                {"CMAKE_CUDA_ARCHITECTURES", cmake},
                {"CUDAARCHS", cmake}};
    }

  private:
    static FatbinOptions listing_options() {
        FatbinOptions options;
        options.cubin = FatbinOptions::Cubin::all;
        return options;
    }
};

} // namespace

const device_code::Format& cuda_format() {
    static const CudaFormat format;
    return format;
}

} // namespace gantry::gpu_vendors::nvidia
