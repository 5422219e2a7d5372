#include "lint/installed_stack.hpp"

#include "lint/rules.hpp"

#include <vector>

namespace gantry::lint {

std::optional<InstalledStack> installed_by(const Command& c, const Env& env,
                                           const std::vector<const Stack*>& stacks) {
    std::vector<std::string> packages;
    if (auto apt = parse_apt(c); apt && apt->sub == "install")
        packages = apt->packages;
    else if (auto other = parse_other_install(c))
        packages = *other;
    std::optional<InstalledStack> found;
    for (auto& raw : packages) {
        auto p = shown_word(raw, env);
        for (const Stack* s : stacks)
            if (s->package_version)
                if (auto v = s->package_version(p)) {
                    found = InstalledStack{s, *v, p, 0};
                    break;
                }
    }
    if (found) return found;
    for (auto& raw : c.argv) {
        auto w = shown_word(raw, env);
        for (const Stack* s : stacks)
            if (s->word_version)
                if (auto v = s->word_version(w)) {
                    found = InstalledStack{s, *v, w, 0};
                    break;
                }
    }
    return found;
}

std::optional<InstalledStack> installed_stack(const Build& b, int stage, std::size_t before,
                                              const std::vector<const Stack*>& stacks) {
    std::vector<int> chain; // the external base's stage first
    for (int s = stage; s >= 0 && chain.size() <= b.stages.size(); s = b.stages[s].base.stage_ref)
        chain.insert(chain.begin(), s);
    std::optional<InstalledStack> last;
    for (int s : chain)
        for (const auto& step : b.stages[s].steps) {
            if (s == stage && step.index >= before) break;
            if (step.in->keyword != "RUN") continue;
            for (const auto& c : step.commands)
                if (auto found = installed_by(c, step.env, stacks)) {
                    last = found;
                    last->line = step.in->line;
                }
        }
    return last;
}

} // namespace gantry::lint
