// Fuzzes the image JSON documents (oci/image): manifests (OCI, Docker schema 2), indexes and
// image configs, as registries, archives and layouts serve them. Each input is offered to all
// three parsers; a document one of them accepts must serialise (to_json) into text it accepts
// again with the same content.
#include "fuzz_support.hpp"
#include "oci/image.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(oci_json) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto m = oci::Manifest::parse(in);
        std::string text = m.to_json().dump();
        auto again = oci::Manifest::parse(text);
        FUZZ_CHECK(again.to_json().dump() == text);
        FUZZ_CHECK(again.layers.size() == m.layers.size());
    });
    fuzz::expect_error([&] {
        auto i = oci::Index::parse(in);
        std::string text = i.to_json().dump();
        auto again = oci::Index::parse(text);
        FUZZ_CHECK(again.to_json().dump() == text);
    });
    fuzz::expect_error([&] {
        auto c = oci::ImageConfig::parse(in);
        (void)c.platform.str();
        for (auto& d : c.diff_ids) FUZZ_CHECK(oci::Digest::valid(d.str()));
    });
    return 0;
}
