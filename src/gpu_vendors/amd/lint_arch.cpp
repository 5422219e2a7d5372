// GL017: the AMD GPU target lists of one Dockerfile disagree. PYTORCH_ROCM_ARCH (PyTorch's
// build), GPU_TARGETS and AMDGPU_TARGETS (the CMake variables of ROCm's libraries and HIP
// projects) name the gfx targets code is compiled for; when two of them differ, one part of the
// image has no code object for a GPU another part was built for, and fails on it with
// hipErrorNoBinaryForGpu. Values come from ENV, ARG defaults, `VAR=... cmd` and `export VAR=...`
// in RUN, and CMake's -DVAR=... / -DVAR:STRING=...; a value with an unresolved variable is skipped.
#include "gpu_vendors/amd/lint_rules.hpp"
#include "lint/rules.hpp"
#include "util/text.hpp"

#include <set>

namespace gantry::gpu_vendors::amd {

namespace {

constexpr const char* kAmdArchNames[] = {"PYTORCH_ROCM_ARCH", "GPU_TARGETS", "AMDGPU_TARGETS"};

bool amd_is_arch_var(std::string_view n) {
    for (const char* k : kAmdArchNames)
        if (n == k) return true;
    return false;
}

// "gfx90a;gfx942", "gfx90a gfx942", "gfx90a,gfx942" -> {gfx90a, gfx942} (lower case)
std::set<std::string> amd_targets(std::string_view v) {
    std::set<std::string> out;
    std::string cur;
    for (char c : std::string(v) + ";") {
        if (c == ';' || c == ',' || c == ' ' || c == '\t' || c == '"' || c == '\'') {
            if (!cur.empty()) out.insert(text::lower(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

struct AmdSeen {
    std::string name, value;
    std::set<std::string> set;
    const lint::Stage* stage;
    const lint::Step* step;
};

} // namespace

void lint_arch_lists(const lint::RuleContext& cx) {
    const char esc = cx.build.file->escape;
    std::vector<AmdSeen> seen;
    auto note = [&](const lint::Stage& st, const lint::Step& step, std::string name,
                    std::string value, bool expand) {
        if (value.size() > 4096) return;
        if (expand && value.find('$') != std::string::npos) {
            auto e = lint::expand_word(value, step.env, esc);
            if (!e.resolved) return;
            value = e.value;
        }
        auto set = amd_targets(value);
        if (set.empty()) return;
        seen.push_back({std::move(name), std::move(value), std::move(set), &st, &step});
    };
    for (const auto& st : cx.build.stages)
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            if (kw == "ENV") {
                for (auto& [k, v] : lint::env_pairs(*step.in, esc, step.env))
                    if (amd_is_arch_var(k) && v.find('$') == std::string::npos)
                        note(st, step, k, v, false);
            } else if (kw == "ARG") {
                for (auto& w : lint::split_words(step.in->args, esc)) {
                    auto eq = w.find('=');
                    if (eq == std::string::npos || !amd_is_arch_var(w.substr(0, eq))) continue;
                    std::string name = w.substr(0, eq);
                    if (auto it = cx.opt.build.build_args.find(name);
                        it != cx.opt.build.build_args.end())
                        note(st, step, name, it->second, false);
                    else if (auto e = lint::expand_word(w.substr(eq + 1), step.env, esc);
                             e.resolved)
                        note(st, step, name, e.value, false);
                }
            } else if (kw == "RUN") {
                for (const auto& c : step.commands) {
                    auto assign = [&](const std::string& a) {
                        auto eq = a.find('=');
                        if (eq != std::string::npos && amd_is_arch_var(a.substr(0, eq)))
                            note(st, step, a.substr(0, eq), a.substr(eq + 1), true);
                    };
                    for (auto& a : c.assigns) assign(a);
                    if (c.name() == "export")
                        for (std::size_t i = 1; i < c.argv.size(); ++i) assign(c.argv[i]);
                    for (std::size_t i = 1; i < c.argv.size(); ++i) {
                        const auto& a = c.argv[i];
                        if (!a.starts_with("-D")) continue;
                        auto eq = a.find('=');
                        if (eq == std::string::npos) continue;
                        std::string name = a.substr(2, eq - 2);
                        name = name.substr(0, name.find(':')); // -DGPU_TARGETS:STRING=...
                        if (amd_is_arch_var(name)) note(st, step, name, a.substr(eq + 1), true);
                    }
                }
            }
        }
    if (seen.empty()) return;
    const AmdSeen& first = seen.front();
    int first_line = first.step->in->line;
    for (std::size_t i = 1; i < seen.size(); ++i) {
        const AmdSeen& s = seen[i];
        if (s.set == first.set) continue;
        std::string only_here, only_there;
        for (auto& t : s.set)
            if (!first.set.count(t)) only_here += (only_here.empty() ? "" : ", ") + t;
        for (auto& t : first.set)
            if (!s.set.count(t)) only_there += (only_there.empty() ? "" : ", ") + t;
        std::string diff;
        if (!only_there.empty()) diff = "code built here has nothing for " + only_there;
        if (!only_here.empty())
            diff += (diff.empty() ? "" : ", and ") + std::string("the code built at line ") +
                    std::to_string(first_line) + " has nothing for " + only_here;
        cx.add("GL017", *s.stage, s.step,
               s.name + "=" + s.value.substr(0, 80) + " lists other GPU targets than " +
                   first.name + "=" + first.value.substr(0, 80) + " at line " +
                   std::to_string(first_line) + ": " + diff +
                   ", so one part of the image fails on those GPUs with "
                   "hipErrorNoBinaryForGpu",
               "declare the list once (ARG GPU_TARGETS=\"gfx90a;gfx942\") and pass it on: "
               "PYTORCH_ROCM_ARCH=${GPU_TARGETS}, -DGPU_TARGETS=${GPU_TARGETS}");
    }
}

} // namespace gantry::gpu_vendors::amd
