#include "gpu_vendors/amd/analyze_findings.hpp"

#include "util/units.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace gantry::gpu_vendors::amd {

namespace {

using findings::Finding;
using Paths = std::vector<std::pair<std::string, std::uint64_t>>;

std::string_view amd_basename(std::string_view p) {
    auto s = p.rfind('/');
    return s == std::string_view::npos ? p : p.substr(s + 1);
}

// ROCm development content in the final view: /opt/rocm*/llvm (the compiler), /opt/rocm*/include
// (headers) and static libraries under /opt/rocm*. One finding with the bytes of each part; the
// headers and static libraries are also counted by DEVEL-HEADERS / DEVEL-STATIC-LIBS.
struct RocmDevel {
    struct Part {
        std::uint64_t bytes = 0, count = 0;
    };
    Part llvm, headers, statics;
    Paths paths;
    std::set<std::string> roots; // "opt/rocm-6.1.2"

    void add(const std::string& path, std::uint64_t size) {
        std::string_view p = path;
        if (!p.starts_with("opt/rocm")) return;
        auto slash = p.find('/', 4);
        if (slash == std::string_view::npos) return;
        std::string_view root = p.substr(0, slash), rest = p.substr(slash + 1);
        // opt/rocm, opt/rocm-6.1.2 (not opt/rocmfoo)
        if (root.size() > 8 && root[8] != '-') return;
        Part* part = nullptr;
        if (rest.starts_with("llvm/"))
            part = &llvm;
        else if (rest.starts_with("include/"))
            part = &headers;
        else if (amd_basename(rest).ends_with(".a") && amd_basename(rest).size() > 2)
            part = &statics;
        if (!part) return;
        part->bytes += size;
        ++part->count;
        roots.emplace(root);
        paths.emplace_back(path, size);
        if (paths.size() > 200) findings::keep_largest(paths, 50);
    }

    void report(std::vector<Finding>& out) {
        std::uint64_t total = llvm.bytes + headers.bytes + statics.bytes;
        std::uint64_t n = llvm.count + headers.count + statics.count;
        if (!n) return;
        Finding f;
        f.id = "ROCM-DEVEL";
        f.severity = findings::by_size(total);
        f.subject.title = "ROCm development content in the final image";
        f.subject.bytes = total;
        f.subject.count = n;
        findings::keep_largest(paths);
        f.subject.paths = paths;
        std::string where;
        for (auto& r : roots) where += (where.empty() ? "/" : ", /") + r;
        f.message =
            std::to_string(n) + " file(s), " + units::human_size(total) + " of ROCm development " +
            "content under " + where + ": compiler (llvm/) " + units::human_size(llvm.bytes) +
            ", headers (include/) " + units::human_size(headers.bytes) + ", static libraries " +
            units::human_size(statics.bytes) + "; none of it is needed to run built HIP code";
        f.fix = "build in a rocm/dev-* (or -complete) stage and COPY --from=<it> only the "
                "artifacts into a stage that installs rocm-hip-runtime and the libraries the app "
                "links; `gantry slim --remove headers,static` removes the headers and static "
                "libraries";
        auto part = [](const Part& p) {
            return nlohmann::json{{"bytes", p.bytes}, {"files", p.count}};
        };
        f.subject.details = {{"llvm", part(llvm)},
                             {"headers", part(headers)},
                             {"static", part(statics)},
                             {"roots", roots}};
        out.push_back(std::move(f));
    }
};

// HIP code objects: bytes per gfx target ID, as FATBIN-ARCHES does for CUDA. No target is
// "newest" across AMD's families (gfx1100 is a Radeon, gfx942 an Instinct), so the headline
// keeps the target found in the most files (ties: the most bytes, then the name); the saving of
// keeping each target alone is in details.saves_keeping_only.
struct HipArches {
    std::map<std::string, std::uint64_t> bytes, files; // per target ID
    std::uint64_t total = 0, nfiles = 0;
    Paths paths;

    void add(const ImageFile& f) {
        auto it = f.device_code.find("hip");
        if (it == f.device_code.end() || it->second.empty()) return;
        std::uint64_t t = 0;
        for (auto& [a, n] : it->second) bytes[a] += n, t += n, ++files[a];
        total += t;
        ++nfiles;
        paths.emplace_back(f.path, t);
    }

    void report(std::vector<Finding>& out) {
        if (bytes.size() < 2) return;
        Finding f;
        f.id = "HIP-FATBIN-ARCHES";
        f.subject.title = "HIP GPU code for several AMD GPU targets";
        std::string best;
        nlohmann::json per = nlohmann::json::object(), saves = nlohmann::json::object(),
                       in_files = nlohmann::json::object();
        for (auto& [t, n] : bytes) {
            per[t] = n;
            saves[t] = total - n;
            in_files[t] = files.at(t);
            if (best.empty() || files.at(t) > files.at(best) ||
                (files.at(t) == files.at(best) && n > bytes.at(best)))
                best = t;
        }
        Paths sorted(bytes.begin(), bytes.end());
        findings::keep_largest(sorted, 100);
        std::string list;
        for (auto& [t, n] : sorted)
            list += (list.empty() ? "" : ", ") + t + " " + units::human_size(n);
        f.subject.bytes = total - bytes.at(best);
        f.subject.count = nfiles;
        f.subject.paths = std::move(paths);
        findings::keep_largest(f.subject.paths);
        f.severity = findings::by_size(f.subject.bytes);
        f.message = std::to_string(nfiles) + " file(s) hold " + units::human_size(total) +
                    " of HIP code objects for " + std::to_string(bytes.size()) + " GPU targets (" +
                    list + "); keeping only " + best + " saves " +
                    units::human_size(f.subject.bytes);
        f.fix = "`gantry tailor IMAGE -t NEW` on the GPU host (or `gantry slim IMAGE -t NEW "
                "--keep-arch gfxXXX`) keeps only the code objects your GPUs run, without a "
                "rebuild; at build time: --offload-arch=gfxXXX (GPU_TARGETS, PYTORCH_ROCM_ARCH); "
                "a target with :xnack-/:xnack+ runs only in that mode, one without features runs "
                "in both";
        f.subject.details = {{"total", total},
                             {"bytes_per_target", per},
                             {"files_per_target", in_files},
                             {"saves_keeping_only", saves}};
        out.push_back(std::move(f));
    }
};

class AmdImageFindings : public ImageFindings {
  public:
    void file(const ImageFile& f) override {
        hip_.add(f);
        rocm_.add(f.path, f.size);
    }
    void report(const nlohmann::json&, std::vector<Finding>& out) override {
        hip_.report(out);
        rocm_.report(out);
    }

  private:
    HipArches hip_;
    RocmDevel rocm_;
};

} // namespace

std::unique_ptr<ImageFindings> analyze_findings() {
    return std::make_unique<AmdImageFindings>();
}

} // namespace gantry::gpu_vendors::amd
