// The licence check before a registry push (analyze/licence_check.hpp's check_push_licences):
// `gantry push` and the Engine API's POST /images/{name}/push run it alike.
#include "analyze/analyze.hpp"
#include "analyze/licence_check.hpp"
#include "oci/reference.hpp"
#include "store/images.hpp"
#include "util/error.hpp"

namespace gantry::analyze {

std::string check_push_licences(const store::Store& store, const std::string& src,
                                const std::string& dest, const std::optional<std::string>& flag) {
    if (flag) (void)parse_licence_check(*flag, "--licence-check"); // before any work
    auto policy = load_licence_policy();
    std::string registry; // "" when SRC is an image ID (push then fails naming it)
    try {
        registry = oci::Reference::parse(dest.empty() ? src : dest).domain;
    } catch (const Error&) {
    }
    auto mode = licence_mode(policy, registry, flag);
    if (mode == LicenceCheck::off) return "";
    auto img = store::find_image(store, src);
    AnalyzeOptions ao;
    ao.inspect_elf = false;
    auto a = analyze_image(store, img, src, ao);
    auto s = push_licence_summary(a.report, policy, registry, src);
    if (mode == LicenceCheck::refuse && !s.findings.empty()) {
        std::string ids;
        for (auto* f : s.findings) ids += (ids.empty() ? "" : ", ") + f->id;
        throw Error(Errc::policy,
                    "push of " + src + " to " + registry +
                        " refused by the licence check (refuse): " + ids,
                    "see `gantry analyze " + src +
                        "` for the files and the licence texts; --licence-check warn, or the "
                        "config file's licence_check, changes the mode");
    }
    return s.line;
}

} // namespace gantry::analyze
