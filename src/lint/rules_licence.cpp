// GL018: COPY --from=<stage or image> of a vendor's toolkit files into the shipped stage that
// the newest distributable list of their licence in the component tables (gpu_components/)
// does not name: with NVIDIA's table, the whole CUDA toolkit (`COPY --from=devel /usr/local/cuda
// /usr/local/cuda`), its bin/, include/, nvvm/ or a compiler against Attachment A. A source
// naming listed files only (`/usr/local/cuda/lib64/libcudart.so.*`) is silent, so is a copy into
// a stage that does not ship. The words of the finding (the licence's clause, an example that
// may ship) are the licence's row, so no vendor is named here.
#include "gpu_components/recognise.hpp"
#include "lint/rules.hpp"

namespace gantry::lint {

namespace {

// The sources of a COPY/ADD (its destination dropped), variables expanded.
std::vector<std::string> copy_sources(const Step& step, char esc) {
    const auto& in = *step.in;
    std::vector<std::string> words = in.json ? in.json_args : split_words(in.args, esc);
    if (!words.empty()) words.pop_back();
    std::vector<std::string> out;
    for (auto& w : words)
        if (!w.starts_with("<<")) out.push_back(in.json ? w : expand_word(w, step.env, esc).value);
    return out;
}

// The component a source names that a distributable list does not list; nullptr otherwise. A
// source whose last component has no '.' is taken as a directory: what a file in it would be.
const gpu_components::Component* unlisted(std::string src,
                                          const gpu_components::DistributableList*& list) {
    while (src.size() > 1 && src.back() == '/') src.pop_back();
    while (src.starts_with("/")) src.erase(0, 1);
    if (src.empty()) return nullptr;
    std::string base = src.substr(src.rfind('/') + 1);
    const auto* c = gpu_components::component_of(src, true);
    if (!c && base.find('.') == std::string::npos)
        c = gpu_components::component_of(src + "/x", true);
    if (!c || c->role != gpu_components::Role::toolkit) return nullptr;
    const auto* l = gpu_components::table().newest_list(c->licence);
    if (!l || gpu_components::listed_in(*c, l->id)) return nullptr;
    list = l;
    return c;
}

} // namespace

void rules_licence(const RuleContext& cx) {
    const char esc = cx.build.file->escape;
    for (const auto& st : cx.build.stages) {
        if (!st.ships) continue;
        for (const auto& step : st.steps) {
            const auto& kw = step.in->keyword;
            const auto* from = step.in->flag("from");
            if (kw != "COPY" || step.onbuild || !from) continue;
            for (auto& src : copy_sources(step, esc)) {
                const gpu_components::DistributableList* list = nullptr;
                const auto* c = unlisted(src, list);
                if (!c) continue;
                const auto* lic = gpu_components::table().licence(c->licence);
                std::string terms = lic ? lic->unlisted_toolkit_terms : std::string();
                std::string example = lic ? lic->distributable_example : std::string();
                cx.add("GL018", st, &step,
                       "COPY --from=" + from->value + " " + src +
                           " puts toolkit files into the shipped image (" + c->name + ") that " +
                           list->name + " does not list as distributable" +
                           (terms.empty() ? "" : " (" + terms + ")"),
                       "copy only the runtime libraries the application loads" +
                           (example.empty()
                                ? std::string()
                                : " (e.g. COPY --from=" + from->value + " " + example + ")") +
                           "; `gantry analyze` on the built image lists every vendor file and "
                           "its licence");
                break; // one finding per instruction
            }
        }
    }
}

} // namespace gantry::lint
