// Fuzzes the site's image policy files (site/): the input is read as a registries.conf (and a
// drop-in over it), as a policy.json, as a registries.d file, as a simple-signing and a sigstore
// payload, and as a sigstore attachment's manifest.
// What parses is then used as a pull would use it: names resolved (short names, aliases),
// mirrors and rewritten locations computed, a scope looked up, identities matched. Every
// rewritten location must parse as a reference, and a refusal must be an Error.
#include "fuzz_support.hpp"
#include "site/lookaside.hpp"
#include "site/policy.hpp"
#include "site/resolve.hpp"
#include "site/signature.hpp"
#include "site/sigstore.hpp"

using namespace gantry;

namespace {

const char* const kNames[] = {"busybox", "gt/app:1", "registry.example.com:5000/ns/app:2",
                              ("docker.io/library/alpine@sha256:"
                               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                              "a.b.example.com/x/y"};

} // namespace

GANTRY_FUZZ_TARGET(site_policy) {
    std::string text(fuzz::bytes(data, size));
    site::RegistriesConf conf;
    bool conf_ok = fuzz::expect_error([&] {
        conf.merge(text, "fuzz.conf");
        conf.merge(text.substr(text.size() / 2), "fuzz.d/drop-in.conf");
    });
    if (conf_ok)
        for (const char* n : kNames)
            fuzz::expect_error([&] {
                auto c = site::resolve_name(conf, n, false);
                for (auto& r : c.refs) {
                    for (auto& s : site::pull_sources(conf, r)) FUZZ_CHECK(!s.ref.path.empty());
                    site::check_not_blocked(conf, r);
                }
            });
    site::Policy policy;
    if (fuzz::expect_error([&] { policy = site::Policy::parse(text, "policy.json"); }))
        for (const char* n : kNames)
            fuzz::expect_error([&] {
                auto ref = oci::Reference::parse(n);
                std::string scope;
                for (auto& req : policy.for_image(ref, scope))
                    (void)site::identity_matches(req.identity, ref, "gt.example/app:1");
                FUZZ_CHECK(!scope.empty());
            });
    fuzz::expect_error([&] { site::check_registries_d(text, "registries.d/x.yaml"); });
    fuzz::expect_error([&] {
        site::check_payload(text,
                            oci::Digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
                                               "649b934ca495991b7852b855"),
                            site::SignedIdentity{}, oci::Reference::parse("gt.example/app:1"));
    });
    fuzz::expect_error([&] {
        site::SignedIdentity repo;
        repo.kind = site::SignedIdentity::Kind::match_repository;
        site::check_sigstore_payload(
            text,
            oci::Digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
                               "649b934ca495991b7852b855"),
            repo, oci::Reference::parse("gt.example/app:1"));
    });
    fuzz::expect_error([&] {
        auto layers = site::parse_sigstore_attachment(text);
        FUZZ_CHECK(layers.size() <= site::kMaxSigstoreLayers);
    });
    return 0;
}
