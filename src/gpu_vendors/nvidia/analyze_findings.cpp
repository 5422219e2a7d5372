#include "gpu_vendors/nvidia/analyze_findings.hpp"

#include "util/units.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::nvidia {

namespace {

using findings::Finding;
using findings::Severity;

class NvidiaImageFindings : public ImageFindings {
  public:
    void file(const ImageFile& f) override {
        auto it = f.device_code.find("cuda");
        if (it == f.device_code.end() || it->second.empty()) return;
        std::uint64_t t = 0;
        for (auto& [a, n] : it->second) arch_bytes_[a] += n, t += n;
        total_ += t;
        ++files_;
        paths_.emplace_back(f.path, t);
    }

    void report(const nlohmann::json& config, std::vector<Finding>& out) override {
        fatbin_arches(out);
        const auto& cfg = config.contains("config") && config["config"].is_object()
                              ? config["config"]
                              : nlohmann::json::object();
        if (cfg.contains("Env") && cfg["Env"].is_array())
            for (auto& v : cfg["Env"])
                if (v.is_string() && v.get<std::string>() == "NVIDIA_DRIVER_CAPABILITIES=all") {
                    Finding f;
                    f.id = "NVIDIA-CAPS-ALL";
                    f.severity = Severity::warn;
                    f.subject.title = "NVIDIA_DRIVER_CAPABILITIES=all";
                    f.message = "the image asks for every driver capability (graphics, video, "
                                "display, ...): more host files are mounted into every container";
                    f.fix = "set NVIDIA_DRIVER_CAPABILITIES=compute,utility (add video or "
                            "graphics only if the app uses them)";
                    out.push_back(f);
                }
    }

  private:
    // Fat binaries: bytes per GPU architecture; keeping only the newest sm_XX is the saving.
    void fatbin_arches(std::vector<Finding>& out) {
        if (arch_bytes_.size() < 2) return;
        Finding f;
        f.id = "FATBIN-ARCHES";
        f.subject.title = "GPU code for several architectures";
        std::string best;
        unsigned best_sm = 0;
        nlohmann::json per = nlohmann::json::object(), saves = nlohmann::json::object();
        for (auto& [a, n] : arch_bytes_) {
            per[a] = n;
            if (a.starts_with("sm_")) {
                saves[a] = total_ - n;
                unsigned sm = static_cast<unsigned>(std::atoi(a.c_str() + 3));
                if (sm >= best_sm) best_sm = sm, best = a;
            }
        }
        std::vector<std::pair<std::string, std::uint64_t>> sorted(arch_bytes_.begin(),
                                                                  arch_bytes_.end());
        findings::keep_largest(sorted, 100);
        std::string list;
        for (auto& [a, n] : sorted)
            list += (list.empty() ? "" : ", ") + a + " " + units::human_size(n);
        f.subject.bytes = best.empty() ? 0 : total_ - arch_bytes_[best];
        f.subject.count = files_;
        f.subject.paths = paths_;
        findings::keep_largest(f.subject.paths);
        f.severity = findings::by_size(f.subject.bytes);
        f.message = std::to_string(files_) + " file(s) hold " + units::human_size(total_) +
                    " of GPU code for " + std::to_string(arch_bytes_.size()) + " architectures (" +
                    list + ")";
        if (!best.empty())
            f.message += "; keeping only " + best + " saves " + units::human_size(f.subject.bytes);
        f.fix = "`gantry tailor IMAGE -t NEW` on the GPU host (or `gantry slim IMAGE -t NEW "
                "--keep-arch sm_XX`) keeps only the code your GPUs run, without a rebuild; "
                "`gantry analyze --keep-arch sm_XX` predicts the saving";
        f.subject.details = {
            {"total", total_}, {"bytes_per_arch", per}, {"saves_keeping_only", saves}};
        out.push_back(std::move(f));
    }

    std::map<std::string, std::uint64_t> arch_bytes_;
    std::uint64_t total_ = 0, files_ = 0;
    std::vector<std::pair<std::string, std::uint64_t>> paths_;
};

} // namespace

std::unique_ptr<ImageFindings> analyze_findings() {
    return std::make_unique<NvidiaImageFindings>();
}

} // namespace gantry::gpu_vendors::nvidia
