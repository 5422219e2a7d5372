#include "lint/stacks.hpp"

namespace gantry::lint {

std::vector<const Stack*> stacks(const Options& opt) {
    std::vector<const Stack*> out;
    for (const RuleSet* rs : opt.rule_sets)
        if (rs->stack) out.push_back(rs->stack);
    return out;
}

std::string version_text(Version v) {
    return std::to_string(v.first) + "." + std::to_string(v.second);
}

std::optional<Version> stack_version(const Build& b, int stage, const Stack& stack) {
    return chain_version(b, stage, stack.version_env, stack.tag_version);
}

namespace {

// The external base image at the bottom of a stage's chain.
const BaseImage* external_base(const Build& b, int stage) {
    for (int s = stage; s >= 0; s = b.stages[s].base.stage_ref)
        if (b.stages[s].base.stage_ref < 0) return &b.stages[s].base;
    return nullptr;
}

} // namespace

const Stack* stage_stack(const Build& b, int stage, const std::vector<const Stack*>& stacks) {
    const BaseImage* base = external_base(b, stage);
    for (const Stack* s : stacks)
        if (s->repository && base && s->repository(base->name)) return s;
    for (const Stack* s : stacks)
        if (stack_version(b, stage, *s)) return s;
    return nullptr;
}

const char* stack_name(const Build& b, int stage, const std::vector<const Stack*>& stacks) {
    if (const Stack* s = stage_stack(b, stage, stacks)) return s->name;
    return stacks.empty() ? "GPU" : stacks.front()->name;
}

} // namespace gantry::lint
