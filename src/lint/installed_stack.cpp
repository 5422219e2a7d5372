#include "lint/installed_stack.hpp"

#include "lint/rules.hpp"
#include "lint/rx.hpp"

#include <vector>

namespace gantry::lint {

namespace {

// A package whose name carries the release: CUDA's repository writes it -MAJOR-MINOR
// (cuda-toolkit-12-1, cuda-12-1, cuda-cudart-dev-12-1=12.1.105-1; cuda-keyring and cuda-drivers
// name none), ROCm's multi-version packages MAJOR.MINOR.PATCH (rocm-hip-sdk6.1.2, rocm6.1.0).
std::optional<InstalledStack> versioned_package(const std::string& p) {
    static const Rx cuda(R"(^cuda(?:-[a-z][a-z0-9]*)*-(\d{1,6})-(\d{1,6})(?:[=:].*)?$)");
    static const Rx rocm(R"(^rocm(?:-[a-z][a-z0-9-]*?)?(\d{1,6})\.(\d{1,6})\.\d{1,6}$)");
    for (auto kind : {InstalledStack::cuda, InstalledStack::rocm}) {
        RxMatch m;
        if (!rx_match(p, m, kind == InstalledStack::cuda ? cuda : rocm)) continue;
        if (auto v = version_pair(m[1].str(), m[2].str())) return InstalledStack{kind, *v, p, 0};
    }
    return std::nullopt;
}

// A repo.radeon.com path that names the ROCm release: amdgpu-install/6.1[.2]/...,
// rocm/apt/6.1[.2], rocm/rhel9/6.1, rocm/el8/6.0, rocm/zyp/6.1 (not rocm/apt/latest).
std::optional<InstalledStack> radeon_url(const std::string& word) {
    static const Rx url(
        R"(repo\.radeon\.com/(?:amdgpu-install|rocm/(?:apt|rhel\d*|el\d*|centos\d*|zyp|sles\d*))/(\d{1,6})\.(\d{1,6})(?:\.\d{1,6})?(?:[/\s"']|$))");
    RxMatch m;
    if (!rx_search(word, m, url)) return std::nullopt;
    auto v = version_pair(m[1].str(), m[2].str());
    if (!v) return std::nullopt;
    return InstalledStack{InstalledStack::rocm, *v, word, 0};
}

} // namespace

std::optional<InstalledStack> installed_by(const Command& c, const Env& env) {
    std::vector<std::string> packages;
    if (auto apt = parse_apt(c); apt && apt->sub == "install")
        packages = apt->packages;
    else if (auto other = parse_other_install(c))
        packages = *other;
    std::optional<InstalledStack> found;
    for (auto& raw : packages) {
        auto p = shown_word(raw, env);
        if (auto s = versioned_package(p)) found = s;
    }
    if (found) return found;
    for (auto& raw : c.argv)
        if (auto s = radeon_url(shown_word(raw, env))) found = s;
    return found;
}

std::optional<InstalledStack> installed_stack(const Build& b, int stage, std::size_t before) {
    std::vector<int> chain; // the external base's stage first
    for (int s = stage; s >= 0 && chain.size() <= b.stages.size(); s = b.stages[s].base.stage_ref)
        chain.insert(chain.begin(), s);
    std::optional<InstalledStack> last;
    for (int s : chain)
        for (const auto& step : b.stages[s].steps) {
            if (s == stage && step.index >= before) break;
            if (step.in->keyword != "RUN") continue;
            for (const auto& c : step.commands)
                if (auto found = installed_by(c, step.env)) {
                    last = found;
                    last->line = step.in->line;
                }
        }
    return last;
}

} // namespace gantry::lint
