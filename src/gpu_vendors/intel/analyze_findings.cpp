#include "gpu_vendors/intel/analyze_findings.hpp"

#include "util/units.hpp"

#include <nlohmann/json.hpp>

namespace gantry::gpu_vendors::intel {

namespace {

using findings::Finding;

class IntelImageFindings : public ImageFindings {
  public:
    void file(const ImageFile& f) override {
        auto it = f.device_code.find("intel");
        if (it == f.device_code.end() || it->second.empty()) return;
        std::uint64_t t = 0;
        for (auto& [target, n] : it->second) bytes_[target] += n, t += n, ++files_[target];
        total_ += t;
        ++nfiles_;
        paths_.emplace_back(f.path, t);
    }

    // As HIP-FATBIN-ARCHES: the headline keeps the target found in the most files (ties: the
    // most bytes, then the name).
    void report(const nlohmann::json&, std::vector<Finding>& out) override {
        if (bytes_.size() < 2) return;
        Finding f;
        f.id = "INTEL-DEVICE-TARGETS";
        f.subject.title = "Intel GPU device code for several targets";
        std::string best;
        nlohmann::json per = nlohmann::json::object(), saves = nlohmann::json::object(),
                       in_files = nlohmann::json::object();
        for (auto& [t, n] : bytes_) {
            per[t] = n;
            saves[t] = total_ - n;
            in_files[t] = files_.at(t);
            if (best.empty() || files_.at(t) > files_.at(best) ||
                (files_.at(t) == files_.at(best) && n > bytes_.at(best)))
                best = t;
        }
        std::vector<std::pair<std::string, std::uint64_t>> sorted(bytes_.begin(), bytes_.end());
        findings::keep_largest(sorted, 100);
        std::string list;
        for (auto& [t, n] : sorted)
            list += (list.empty() ? "" : ", ") + t + " " + units::human_size(n);
        f.subject.bytes = total_ - bytes_.at(best);
        f.subject.count = nfiles_;
        f.subject.paths = paths_;
        findings::keep_largest(f.subject.paths);
        f.severity = findings::by_size(f.subject.bytes);
        f.message = std::to_string(nfiles_) + " file(s) hold " + units::human_size(total_) +
                    " of Intel GPU device code for " + std::to_string(bytes_.size()) +
                    " targets (" + list +
                    "; spirv is SPIR-V, compiled by the driver at run time); "
                    "keeping only " +
                    best + " saves " + units::human_size(f.subject.bytes);
        f.fix = "build for the devices you run on: -fsycl-targets=spir64_gen -Xsycl-target-backend "
                "\"-device pvc\" (ahead-of-time only) or spir64 (SPIR-V only, one JIT compile per "
                "start); gantry tailor keeps Intel device code whole";
        f.subject.details = {{"total", total_},
                             {"bytes_per_target", per},
                             {"files_per_target", in_files},
                             {"saves_keeping_only", saves}};
        out.push_back(std::move(f));
    }

  private:
    std::map<std::string, std::uint64_t> bytes_, files_;
    std::uint64_t total_ = 0, nfiles_ = 0;
    std::vector<std::pair<std::string, std::uint64_t>> paths_;
};

} // namespace

std::unique_ptr<ImageFindings> analyze_findings() {
    return std::make_unique<IntelImageFindings>();
}

} // namespace gantry::gpu_vendors::intel
