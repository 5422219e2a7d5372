#include "lint/lint.hpp"

#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "util/error.hpp"
#include "util/spelling.hpp"

#include <algorithm>

namespace gantry::lint {

namespace {

constexpr text::Spelling<Level> kLevels[] = {
    {Level::error, "error"}, {Level::warning, "warning"}, {Level::info, "info"}};

} // namespace

const char* to_string(Level l) {
    return text::word_for(kLevels, l, "?");
}

Level parse_level(std::string_view s) {
    if (auto l = text::value_for(kLevels, s)) return *l;
    throw Error(Errc::usage, "unknown severity \"" + std::string(s) + "\"",
                "use error, warning or info");
}

const std::vector<RuleInfo>& rules() {
    static const std::vector<RuleInfo> r = {
        {"GL001", Level::error,
         "the shipped stage is built on a CUDA devel or ROCm development image"},
        {"GL002", Level::warning,
         "a compiler, CUDA toolkit or ROCm SDK is installed in the shipped stage"},
        {"GL003", Level::warning, "base image untagged or tagged latest"},
        {"GL004", Level::info, "base image not pinned by digest"},
        {"GL005", Level::warning, "apt-get install without --no-install-recommends"},
        {"GL006", Level::warning, "apt lists not removed in the RUN that creates them"},
        {"GL007", Level::warning, "pip install without --no-cache-dir or a cache mount"},
        {"GL008", Level::error,
         "torch/jaxlib GPU build does not match the base image's CUDA or ROCm"},
        {"GL009", Level::warning, "NVIDIA_DRIVER_CAPABILITIES=all"},
        {"GL010", Level::warning, "dataset or model weights copied into the image"},
        {"GL011", Level::warning, "whole build context copied before dependencies are installed"},
        {"GL012", Level::warning, "conda install without conda clean or a cache mount"},
        {"GL013", Level::warning, "GPU used at build time (nvidia-smi, rocminfo, /dev/kfd in RUN)"},
        {"GL014", Level::warning, "model weights downloaded into the image by RUN"},
        {"GL015", Level::error, "CUDA driver stubs on LD_LIBRARY_PATH"},
        {"GL016", Level::info,
         "CUDA_VISIBLE_DEVICES (or HIP_/ROCR_VISIBLE_DEVICES) fixed in the image"},
        {"GL017", Level::warning,
         "PYTORCH_ROCM_ARCH / GPU_TARGETS / AMDGPU_TARGETS lists disagree"},
        {"GL018", Level::warning,
         "COPY --from of CUDA Toolkit files Attachment A does not list into the shipped stage"},
    };
    return r;
}

void RuleContext::add(const char* code, const Stage& st, const Step* step, std::string message,
                      std::string fix) const {
    Finding f;
    f.code = code;
    for (auto& r : rules())
        if (f.code == r.code) f.level = r.level;
    const Instruction* in = step ? &build.file->instructions[step->index] : st.from;
    f.line = in->line;
    f.instruction =
        step ? step->index : static_cast<std::size_t>(in - build.file->instructions.data());
    f.message = std::move(message);
    f.fix = std::move(fix);
    f.stage = st.label();
    out.push_back(std::move(f));
}

namespace {

// "gantry-lint ignore=GL001,GL002" / "gantry-lint global ignore=..." in a comment.
bool pragma(const std::string& comment, bool& global, std::set<std::string>& codes) {
    static const Rx re(R"(^gantry-lint\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9_,\s]+)$)",
                       RxCase::insensitive);
    RxMatch m;
    if (!rx_match(comment, m, re)) return false;
    global = m[1].matched;
    std::string list = m[2];
    std::string cur;
    for (char c : list + ",") {
        if (c == ',' || c == ' ' || c == '\t') {
            if (!cur.empty()) codes.insert(cur);
            cur.clear();
        } else {
            cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    return true;
}

} // namespace

std::vector<Finding> lint(const Dockerfile& df, const Options& opt) {
    Build build = model_build(df, opt.build);
    std::vector<Finding> all;
    RuleContext cx{build, opt, all};
    rules_base(cx);
    rules_packages(cx);
    rules_gpu(cx);
    rules_copy(cx);
    rules_arch(cx);
    rules_licence(cx);

    std::set<std::string> global_ignore;
    std::vector<std::set<std::string>> local(df.instructions.size());
    for (std::size_t i = 0; i < df.instructions.size(); ++i)
        for (auto& c : df.instructions[i].comments) {
            bool global = false;
            std::set<std::string> codes;
            if (pragma(c, global, codes)) (global ? global_ignore : local[i]).merge(codes);
        }
    std::vector<Finding> out;
    for (auto& f : all) {
        if (opt.ignore.count(f.code) || global_ignore.count(f.code) ||
            local[f.instruction].count(f.code))
            continue;
        if (auto it = opt.severity.find(f.code); it != opt.severity.end()) f.level = it->second;
        out.push_back(std::move(f));
    }
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        return a.line != b.line ? a.line < b.line : a.code < b.code;
    });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const Finding& a, const Finding& b) {
                              return a.line == b.line && a.code == b.code && a.message == b.message;
                          }),
              out.end());
    return out;
}

bool fails(const std::vector<Finding>& findings, std::optional<Level> threshold) {
    if (!threshold) return false;
    return std::any_of(findings.begin(), findings.end(),
                       [&](const Finding& f) { return f.level <= *threshold; });
}

} // namespace gantry::lint
