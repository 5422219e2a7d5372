// Fuzzes CDI spec reading and validation (cdi/spec_read, spec_validate, spec_versions): vendor
// files from /etc/cdi and /var/run/cdi, as YAML and as JSON. A spec that loads must serialise
// (spec_write) as YAML and as JSON into text that loads again, validates, and serialises the same.
#include "cdi/spec.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

namespace {

void one(std::string_view in, cdi::Format format) {
    fuzz::expect_error([&] {
        auto spec = cdi::parse(in, format, "fuzzed", false);
        auto problems = cdi::validate(spec);
        (void)cdi::check_version(spec);
        (void)cdi::minimum_version(spec);
        if (!problems.empty()) return;
        for (auto out : {cdi::Format::json, cdi::Format::yaml}) {
            std::string text = cdi::serialize(spec, out);
            auto again = cdi::parse(text, out, "round trip", true);
            FUZZ_CHECK(cdi::serialize(again, out) == text);
        }
    });
}

} // namespace

GANTRY_FUZZ_TARGET(cdi_spec) {
    std::string_view in = fuzz::bytes(data, size);
    one(in, cdi::Format::yaml);
    one(in, cdi::Format::json);
    return 0;
}
