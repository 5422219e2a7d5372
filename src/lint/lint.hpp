// gantry lint: GPU-aware Dockerfile rules (GL001...) with severities, line numbers and fixes.
// Inline pragmas: "# gantry-lint ignore=GL003,GL005" in the comments just above an instruction
// silences those rules for it; "# gantry-lint global ignore=GL004" anywhere for the whole file.
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "findings/finding.hpp"
#include "lint/model.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::lint {

// lint's findings are the shared model's (findings/finding.hpp): the rule code is the ID
// ("GL003"), the Dockerfile position is Location. lint spells the scale in hadolint's words
// (Words::lint): fail is "error", warn is "warning", info is "info".
using findings::Finding;
using findings::Severity;

// "error", "warning", "info" for a severity.
const char* level_word(Severity s);
// "error" -> fail, "warning" -> warn, "info" -> info (throws Error(usage) otherwise).
Severity parse_level(std::string_view s);

struct RuleInfo {
    const char* code;
    Severity severity;
    const char* title;
};
// lint's own rules, those that name no GPU vendor's toolkit, in code order.
const std::vector<RuleInfo>& rules();

struct RuleContext; // lint/rules.hpp
struct Stack;       // lint/stacks.hpp

// A GPU vendor's rules (gpu_vendors::Backend::lint_rules, in its folder under gpu_vendors/): the
// codes it adds with their severities and titles, its checks over the build, and the variables
// that choose its GPUs (GL016 reports them fixed in the image). A vendor's check may also report
// a code of lint's own table that its toolkit shares with others (GL013: a GPU used at build time).
struct RuleSet {
    std::vector<RuleInfo> rules;
    void (*check)(const RuleContext& cx) = nullptr;
    std::vector<const char*> visible_devices; // "CUDA_VISIBLE_DEVICES"
    // The vendor's software stack, for the rules that compare stacks (lint/stacks.hpp); none
    // when its toolkit has no such rules.
    const Stack* stack = nullptr;
};

// Every rule: lint's own and those of RULE_SETS, in code order.
std::vector<RuleInfo> rules(const std::vector<const RuleSet*>& rule_sets);

struct Options {
    BuildOptions build;
    std::set<std::string> ignore;                 // rule codes
    std::map<std::string, Severity> severity;     // per-rule overrides
    std::optional<std::filesystem::path> context; // build context, for sizes of COPY sources
    std::uint64_t large_bytes = 100ull << 20;     // a COPY source this big is "large"
    // The vendors' rules (gpu_vendors::lint_rule_sets() gives every registered vendor's): lint
    // names no vendor and runs what it is given.
    std::vector<const RuleSet*> rule_sets;
};

// Runs every rule, applies pragmas, --ignore and severity overrides; sorted by line.
std::vector<Finding> lint(const Dockerfile& df, const Options& opt);

// True when some finding is at least as severe as threshold (nullopt: never).
bool fails(const std::vector<Finding>& findings, std::optional<Severity> threshold);

} // namespace gantry::lint
