// Fuzzes image references (oci/reference): the names users type and images, archives and
// registries carry. A reference that parses must print (str(), familiar()) as a reference that
// parses back to the same value.
#include "fuzz_support.hpp"
#include "oci/image.hpp"
#include "oci/reference.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(reference) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto ref = oci::Reference::parse(in);
        auto again = oci::Reference::parse(ref.str());
        FUZZ_CHECK(again == ref);
        // familiar() drops "docker.io/": like docker's FamiliarString, its text names another
        // registry when the path's first component looks like a domain ("docker.io/a.b/c"
        // shows as "a.b/c"), so the round trip holds only when it does not
        auto first = ref.path.substr(0, ref.path.find('/'));
        bool domain_like = first.find_first_of(".:") != std::string::npos || first == "localhost";
        if (ref.domain != oci::kDefaultDomain || !domain_like) {
            auto familiar = oci::Reference::parse(ref.familiar());
            FUZZ_CHECK(familiar.repository() == ref.repository());
            FUZZ_CHECK(familiar.digest == ref.digest);
        }
        (void)ref.tag_or_latest();
    });
    (void)oci::looks_like_digest_prefix(in);
    fuzz::expect_error([&] { (void)oci::Platform::parse(in).str(); });
    fuzz::expect_error([&] { (void)oci::Digest::parse(std::string(in)); });
    return 0;
}
