#include "lint/lint.hpp"

#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "util/error.hpp"
#include "util/spelling.hpp"

#include <algorithm>

namespace gantry::lint {

namespace {} // namespace

const char* level_word(Severity s) {
    return findings::to_string(s, findings::Words::lint);
}

Severity parse_level(std::string_view s) {
    if (auto l = findings::parse(s, findings::Words::lint)) return *l;
    throw Error(Errc::usage, "unknown severity \"" + std::string(s) + "\"",
                "use error, warning or info");
}

const std::vector<RuleInfo>& rules() {
    static const std::vector<RuleInfo> r = {
        {"GL001", Severity::fail,
         "the shipped stage is built on a CUDA devel or ROCm development image"},
        {"GL002", Severity::warn,
         "a compiler, CUDA toolkit or ROCm SDK is installed in the shipped stage"},
        {"GL003", Severity::warn, "base image untagged or tagged latest"},
        {"GL004", Severity::info, "base image not pinned by digest"},
        {"GL005", Severity::warn, "apt-get install without --no-install-recommends"},
        {"GL006", Severity::warn, "apt lists not removed in the RUN that creates them"},
        {"GL007", Severity::warn, "pip install without --no-cache-dir or a cache mount"},
        {"GL008", Severity::fail,
         "torch/jaxlib GPU build does not match the base image's CUDA or ROCm"},
        {"GL010", Severity::warn, "dataset or model weights copied into the image"},
        {"GL011", Severity::warn, "whole build context copied before dependencies are installed"},
        {"GL012", Severity::warn, "conda install without conda clean or a cache mount"},
        {"GL013", Severity::warn, "GPU used at build time (nvidia-smi, rocminfo, /dev/kfd in RUN)"},
        {"GL014", Severity::warn, "model weights downloaded into the image by RUN"},
        {"GL016", Severity::info,
         "CUDA_VISIBLE_DEVICES (or HIP_/ROCR_VISIBLE_DEVICES) fixed in the image"},
        {"GL018", Severity::warn,
         "COPY --from of vendor toolkit files their licence's distributable list (CUDA's "
         "Attachment A) does not name into the shipped stage"},
    };
    return r;
}

std::vector<RuleInfo> rules(const std::vector<const RuleSet*>& rule_sets) {
    std::vector<RuleInfo> all = rules();
    for (const RuleSet* rs : rule_sets) all.insert(all.end(), rs->rules.begin(), rs->rules.end());
    std::stable_sort(all.begin(), all.end(), [](const RuleInfo& a, const RuleInfo& b) {
        return std::string_view(a.code) < std::string_view(b.code);
    });
    return all;
}

void RuleContext::add(const char* code, const Stage& st, const Step* step, std::string message,
                      std::string fix) const {
    Finding f;
    f.id = code;
    f.severity = Severity::warn;
    for (auto& r : table)
        if (f.id == r.code) f.severity = r.severity;
    const Instruction* in = step ? &build.file->instructions[step->index] : st.from;
    f.at.line = in->line;
    f.at.instruction =
        step ? step->index : static_cast<std::size_t>(in - build.file->instructions.data());
    f.message = std::move(message);
    f.fix = std::move(fix);
    f.at.stage = st.label();
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
    const std::vector<RuleInfo> table = rules(opt.rule_sets);
    RuleContext cx{build, opt, all, table};
    rules_base(cx);
    rules_packages(cx);
    rules_gpu(cx);
    rules_copy(cx);
    rules_licence(cx);
    for (const RuleSet* rs : opt.rule_sets)
        if (rs->check) rs->check(cx);

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
        if (opt.ignore.count(f.id) || global_ignore.count(f.id) ||
            local[f.at.instruction].count(f.id))
            continue;
        if (auto it = opt.severity.find(f.id); it != opt.severity.end()) f.severity = it->second;
        out.push_back(std::move(f));
    }
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        return a.at.line != b.at.line ? a.at.line < b.at.line : a.id < b.id;
    });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const Finding& a, const Finding& b) {
                              return a.at.line == b.at.line && a.id == b.id &&
                                     a.message == b.message;
                          }),
              out.end());
    return out;
}

bool fails(const std::vector<Finding>& findings, std::optional<Severity> threshold) {
    return findings::reaches(findings, threshold);
}

} // namespace gantry::lint
