// Base image rules: GL001 devel base shipped (a GPU image's devel tag, or a development image a
// vendor's stack knows by name), GL003 untagged/latest, GL004 no digest.
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "lint/stacks.hpp"

namespace gantry::lint {

namespace {

// A GPU image's repository: a framework's, or one a declared stack's words name
// (Stack::image_words).
bool is_gpu_repo(const std::string& name, const std::vector<const Stack*>& stacks) {
    for (const char* k : {"pytorch", "torch", "tensorflow", "triton", "jax", "paddle", "mxnet"})
        if (name.find(k) != std::string::npos) return true;
    for (const Stack* s : stacks)
        for (const char* k : s->image_words)
            if (name.find(k) != std::string::npos) return true;
    return false;
}

// A development image a declared stack knows by name (Stack::devel_image), with what GL001 says.
std::optional<DevelImage> known_devel(const BaseImage& b, const std::vector<const Stack*>& stacks) {
    for (const Stack* s : stacks)
        if (s->devel_image)
            if (auto d = s->devel_image(b)) return d;
    return std::nullopt;
}

bool is_devel(const BaseImage& b, const std::vector<const Stack*>& stacks) {
    static const Rx devel(R"((^|[-_.])devel([-_.]|$))", RxCase::insensitive);
    if (!b.known || b.stage_ref >= 0 || b.scratch) return false;
    return (is_gpu_repo(b.name, stacks) && rx_search(b.tag, devel)) || known_devel(b, stacks);
}

std::string runtime_tag(const BaseImage& b) {
    static const Rx tf(R"(-devel(-gpu)?)");
    static const Rx devel(R"(devel)");
    if (b.name.find("tensorflow") != std::string::npos) return rx_replace(b.tag, tf, "\\1");
    return rx_replace(b.tag, devel, "runtime");
}

std::string shown(const BaseImage& b) {
    std::string s = b.resolved;
    if (b.written != b.resolved) s += " (from " + b.written + ")";
    return s;
}

} // namespace

void rules_base(const RuleContext& cx) {
    const auto& stages = cx.build.stages;
    const auto declared = stacks(cx.opt);
    // GL001: the external base at the bottom of the shipped chain
    auto chain = cx.build.chain();
    const Stage& bottom = stages[chain.back()];
    if (is_devel(bottom.base, declared)) {
        const Stage& target = stages[cx.build.target];
        std::string via = chain.size() > 1 ? " (through FROM " + target.from->args + ")" : "";
        std::string repo = bottom.base.resolved.substr(0, bottom.base.resolved.rfind(':'));
        if (auto known = known_devel(bottom.base, declared))
            cx.add("GL001", bottom, nullptr,
                   "the shipped stage " + target.label() + " is built on " + shown(bottom.base) +
                       via + known->what,
                   known->fix);
        else
            cx.add("GL001", bottom, nullptr,
                   "the shipped stage " + target.label() + " is built on " + shown(bottom.base) +
                       via +
                       ", a devel image: the compilers, headers and static CUDA libraries "
                       "(several GB) end up in the final image",
                   "build in a devel stage and COPY --from=<that stage> only the artifacts into a "
                   "stage FROM " +
                       repo + ":" + runtime_tag(bottom.base));
    }
    for (const auto& st : stages) {
        const auto& b = st.base;
        if (!b.known || b.stage_ref >= 0 || b.scratch) continue;
        if (b.digest.empty() && (b.tag.empty() || b.tag == "latest")) {
            cx.add("GL003", st, nullptr,
                   "base image " + shown(b) +
                       (b.tag.empty() ? " has no tag, so it means :latest"
                                      : " uses the moving tag latest") +
                       ": every build may get a different OS, " +
                       stack_name(cx.build, st.index, declared) + " and driver requirement",
                   "pin a version tag (FROM " + b.name + ":<version>) or a digest (@sha256:...)");
        } else if (b.digest.empty()) {
            cx.add("GL004", st, nullptr,
                   "base image " + shown(b) + " is pinned by tag only; the tag can be re-pushed",
                   "append the digest: FROM " + b.resolved +
                       "@sha256:<digest> (skopeo inspect docker://" + b.resolved + " prints it)");
        }
    }
}

} // namespace gantry::lint
