// site/: registries.conf prefix matching, merging and pull sources; short-name resolution;
// policy.json scopes and strictness; signedIdentity matching; simple-signing payload checks.
#include "site/lookaside.hpp"
#include "site/policy.hpp"
#include "site/resolve.hpp"
#include "site/signature.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace site_test {

using namespace gantry;
using namespace gantry::site;

oci::Reference ref(const char* s) {
    return oci::Reference::parse(s);
}

std::string what_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.message();
    }
    return "(no error)";
}

TEST(SitePrefix, LongestAndWildcards) {
    EXPECT_EQ(prefix_match("example.com/foo/bar:1", "example.com/foo"), 15);
    EXPECT_EQ(prefix_match("example.com/foobar", "example.com/foo"), -1);
    EXPECT_EQ(prefix_match("a.b.example.com/x", "*.example.com"), 15);
    EXPECT_EQ(prefix_match("example.com/x", "*.example.com"), -1);
    EXPECT_EQ(prefix_match("evil.com/a.example.com/x", "*.example.com"), -1);
    RegistriesConf c;
    c.merge("[[registry]]\nlocation = \"example.com\"\n[[registry]]\nprefix = "
            "\"example.com/ns\"\nlocation = \"mirror.local/ns\"\nblocked = true\n",
            "r.conf");
    EXPECT_TRUE(c.find("example.com/ns/app")->blocked);
    EXPECT_FALSE(c.find("example.com/other")->blocked);
    EXPECT_EQ(c.find("other.com/x"), nullptr);
}

TEST(SiteConf, DropInReplacesTableAndErasesAlias) {
    RegistriesConf c;
    c.merge("unqualified-search-registries = [\"a.example\"]\n[aliases]\n\"app\" = "
            "\"a.example/ns/app\"\n[[registry]]\nlocation = \"a.example\"\ninsecure = true\n",
            "main.conf");
    c.merge("[aliases]\n\"app\" = \"\"\n[[registry]]\nlocation = \"a.example\"\n", "d.conf");
    EXPECT_EQ(c.search, std::vector<std::string>{"a.example"}); // unset in d.conf: kept
    EXPECT_FALSE(c.find("a.example/x")->insecure);              // the drop-in's table wins
    EXPECT_EQ(c.aliases.count("app"), 0u);
}

TEST(SiteConf, RefusalsNameFileAndLine) {
    RegistriesConf c;
    EXPECT_EQ(what_of([&] { c.merge("\n[[registry]]\nlocation = 1\n", "f.conf"); }),
              "f.conf:3: \"location\" must be a string");
    EXPECT_NE(what_of([&] {
                  c.merge("[[registry]]\nlocation = \"a\"\nmirror-by-digest-only = true\n"
                          "[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"all\"\n",
                          "g.conf");
              }).find("at the same time"),
              std::string::npos);
    EXPECT_NE(what_of([&] {
                  c.merge("credential-helpers = [\"secretservice\"]\n", "h.conf");
              }).find("h.conf:1: credential-helpers"),
              std::string::npos);
}

// toml++ 3.3's character tables end early: U+00FB or U+FEDF where whitespace may be reached
// __builtin_unreachable() (fuzz/regressions/site_policy/crash-af75f5... and crash-d63b1b...).
// Now a malformed-TOML refusal (the file and line named); in a comment they are fine.
TEST(SiteConf, NonAsciiOutsideStringsIsMalformedNotUndefined) {
    RegistriesConf c;
    for (const char* text : {"\n\xEF\xBB\x9F", "\n\xC3\xBB", "a = 1 \xC3\xBB\n"})
        EXPECT_NE(what_of([&] { c.merge(text, "u.conf"); }).find("malformed TOML"),
                  std::string::npos)
            << text;
    EXPECT_EQ(what_of([&] {
                  c.merge("unqualified-search-registries = [\"a\"] # \xC3\xBB \xEF\xBB\x9F\n",
                          "w.conf");
              }),
              "(no error)");
}

TEST(SiteSources, MirrorsFirstThenPrimaryByMode) {
    RegistriesConf c;
    c.merge("[[registry]]\nprefix = \"vendor.example/team\"\nlocation = \"primary.example/t\"\n"
            "[[registry.mirror]]\nlocation = \"m1.example/t\"\npull-from-mirror = "
            "\"digest-only\"\n[[registry.mirror]]\nlocation = \"m2.example/t\"\ninsecure = true\n",
            "r.conf");
    auto tag = pull_sources(c, ref("vendor.example/team/app:1"));
    ASSERT_EQ(tag.size(), 2u);
    EXPECT_EQ(tag[0].ref.str(), "m2.example/t/app:1");
    EXPECT_TRUE(tag[0].insecure && tag[0].mirror);
    EXPECT_EQ(tag[1].ref.str(), "primary.example/t/app:1");
    auto dig =
        pull_sources(c, ref("vendor.example/team/app@sha256:"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    ASSERT_EQ(dig.size(), 3u);
    EXPECT_EQ(dig[0].ref.domain, "m1.example");
}

TEST(SiteShortNames, AliasSearchAndEnforcing) {
    RegistriesConf c;
    c.merge("unqualified-search-registries = [\"a.example\", \"docker.io\"]\n"
            "[aliases]\n\"tool\" = \"q.example/ns/tool\"\n",
            "r.conf");
    EXPECT_EQ(resolve_name(c, "tool:2", false).refs.at(0).str(), "q.example/ns/tool:2");
    auto s = resolve_name(c, "busybox", false);
    ASSERT_EQ(s.refs.size(), 2u);
    EXPECT_EQ(s.refs[0].str(), "a.example/busybox:latest");
    EXPECT_EQ(s.refs[1].str(), "docker.io/library/busybox:latest");
    EXPECT_EQ(resolve_name(c, "x.example/a", false).refs.size(), 1u);
    c.merge("short-name-mode = \"enforcing\"\n", "d.conf");
    EXPECT_NE(what_of([&] { resolve_name(c, "busybox", false); }).find("without a TTY"),
              std::string::npos);
    RegistriesConf none; // no registries.conf at all: docker's rule
    EXPECT_EQ(resolve_name(none, "busybox", false).refs.at(0).repository(),
              "docker.io/library/busybox");
}

TEST(SitePolicy, MostSpecificScopeWins) {
    auto p = Policy::parse(
        R"({"default": [{"type": "reject"}], "transports": {"docker": {
            "": [{"type": "insecureAcceptAnything"}],
            "*.example.com": [{"type": "reject"}],
            "r.example.com/ns": [{"type": "insecureAcceptAnything"}],
            "r.example.com/ns/app:1": [{"type": "reject"}]}}})",
        "p.json");
    std::string scope;
    EXPECT_EQ(p.for_image(ref("r.example.com/ns/app:1"), scope).at(0).name(), "reject");
    EXPECT_EQ(p.for_image(ref("r.example.com/ns/app:2"), scope).at(0).name(),
              "insecureAcceptAnything");
    EXPECT_EQ(p.for_image(ref("r.example.com:5000/other:1"), scope).at(0).name(), "reject");
    EXPECT_EQ(scope, "transports.docker[\"*.example.com\"]");
    EXPECT_EQ(p.for_image(ref("quay.io/x:1"), scope).at(0).name(), "insecureAcceptAnything");
    EXPECT_EQ(docker_scopes(ref("h.example:5000/a/b:1")),
              (std::vector<std::string>{"h.example:5000/a/b:1", "h.example:5000/a/b",
                                        "h.example:5000/a", "h.example:5000", "*.example"}));
}

TEST(SitePolicy, StrictParsing) {
    EXPECT_NE(what_of([] {
                  Policy::parse(R"({"transports": {}})", "p.json");
              }).find("\"default\" is missing"),
              std::string::npos);
    EXPECT_NE(what_of([] {
                  Policy::parse(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
                      "keyPath": "/a", "keyData": "AA=="}]})",
                                "p.json");
              }).find("exactly one of"),
              std::string::npos);
    EXPECT_NE(what_of([] {
                  Policy::parse(R"({"default": [{"type": "reject"}], "transports":
                      {"dockerz": {"": [{"type": "reject"}]}}})",
                                "p.json");
              }).find("unknown transport"),
              std::string::npos);
}

TEST(SiteIdentity, Kinds) {
    using K = SignedIdentity::Kind;
    SignedIdentity def;
    EXPECT_TRUE(identity_matches(def, ref("r.example/a:1"), "r.example/a:1"));
    EXPECT_FALSE(identity_matches(def, ref("r.example/a:1"), "r.example/a:2"));
    EXPECT_FALSE(identity_matches(def, ref("r.example/a:1"), "r.example/a")); // name only
    EXPECT_TRUE(identity_matches(
        def,
        ref("r.example/a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        "r.example/a:anything"));
    EXPECT_TRUE(identity_matches({K::match_repository}, ref("r.example/a:1"), "r.example/a:9"));
    EXPECT_TRUE(identity_matches({K::exact_repository, "v.example/a"}, ref("m.example/a:1"),
                                 "v.example/a:3"));
    SignedIdentity remap{K::remap_identity, "", "mirror.example/v", "vendor.example"};
    EXPECT_TRUE(identity_matches(remap, ref("mirror.example/v/app:1"), "vendor.example/app:1"));
    EXPECT_FALSE(identity_matches(remap, ref("mirror.example/v/app:1"), "vendor.example/app:2"));
}

TEST(SitePayload, StrictAndBound) {
    auto d = oci::Digest::parse(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    auto good = std::string(R"({"critical": {"type": "atomic container signature",
        "image": {"docker-manifest-digest": ")") +
                d.str() + R"("}, "identity": {"docker-reference": "r.example/a:1"}},
        "optional": {"creator": "x"}})";
    EXPECT_NO_THROW(check_payload(good, d, {}, ref("r.example/a:1")));
    EXPECT_NE(
        what_of([&] { check_payload(good, d, {}, ref("r.example/b:1")); }).find("not accepted"),
        std::string::npos);
    auto extra = good;
    extra.replace(extra.find("\"image\""), 7, "\"extra\": 1, \"image\"");
    EXPECT_NE(what_of([&] {
                  check_payload(extra, d, {}, ref("r.example/a:1"));
              }).find("unknown field \"extra\""),
              std::string::npos);
}

TEST(SiteLookaside, UrlAndRegistriesD) {
    auto d = oci::Digest::parse(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(signature_url("file:///s/", ref("r.example/ns/app:1"), d, 2),
              "file:///s/ns/app@sha256="
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/signature-2");
    EXPECT_NE(what_of([] {
                  check_registries_d("docker:\n  r.example:\n    lookaside: ftp://x\n", "d.yaml");
              }).find("d.yaml:3:"),
              std::string::npos);
}

} // namespace site_test
