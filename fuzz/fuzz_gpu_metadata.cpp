// Fuzzes what gantry analyze reads from an image's package metadata and licence files
// (gpu_components/package_metadata, recognise): a dpkg status database, a Debian copyright file,
// a wheel's METADATA and a licence text, each as the whole input; and the input as a path to
// recognise. Limits hold: no paragraph over its field count, no value over its byte limit.
#include "fuzz_support.hpp"
#include "gpu_components/package_metadata.hpp"
#include "gpu_components/recognise.hpp"

using namespace gantry;
using namespace gantry::gpu_components;

GANTRY_FUZZ_TARGET(gpu_metadata) {
    std::string text(fuzz::bytes(data, size));
    Deb822Limits lim;
    lim.max_fields = 8, lim.max_value = 64, lim.max_paragraphs = 16;
    auto ps = parse_deb822(text, lim);
    FUZZ_CHECK(ps.size() <= lim.max_paragraphs);
    for (auto& p : ps) {
        FUZZ_CHECK(!p.empty() && p.size() <= lim.max_fields);
        for (auto& [k, v] : p) FUZZ_CHECK(!k.empty() && v.size() <= lim.max_value);
    }
    for (auto& pkg : dpkg_installed(text)) FUZZ_CHECK(!pkg.name.empty());
    if (auto l = debian_copyright_licence(text)) FUZZ_CHECK(!l->empty());
    if (auto m = parse_pip_metadata(text)) FUZZ_CHECK(!m->name.empty() && !m->version.empty());
    if (auto id = identify_licence(text)) FUZZ_CHECK(!id->licence.empty());
    std::string path = text.substr(0, 4096);
    (void)text_rule(path);
    if (const Component* c = component_of(path, size % 2 == 0)) FUZZ_CHECK(!c->id.empty());
    (void)component_of_package(path);
    return 0;
}
