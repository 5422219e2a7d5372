// Image reference parsing: the tables of distribution/reference (normalize_test.go,
// reference_test.go) as seen through docker's ParseNormalizedNamed + TagNameOnly, plus gantry's
// precise error reasons.
#include "oci/reference.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace oci_reference_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::looks_like_digest_prefix;
using gantry::oci::Reference;

namespace {

const std::string kHex64 = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const std::string kDigest = "sha256:" + kHex64;
const std::string kBusyboxDigest =
    "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";

struct Failure {
    Errc code;
    std::string message;
    std::string hint;
};

// The error parse() throws for s, or nullopt if it parses.
std::optional<Failure> failure(const std::string& s) {
    try {
        (void)Reference::parse(s);
    } catch (const Error& e) {
        return Failure{e.code(), e.message(), e.hint()};
    }
    return std::nullopt;
}

// Expects s to be rejected as invalid, with a message containing reason.
void expect_invalid(const std::string& s, const std::string& reason, Errc code = Errc::invalid) {
    SCOPED_TRACE("input: " + s);
    auto f = failure(s);
    ASSERT_TRUE(f.has_value()) << "parsed, expected an error mentioning: " << reason;
    EXPECT_EQ(f->code, code) << f->message;
    EXPECT_NE(f->message.find(reason), std::string::npos)
        << "message: " << f->message << "\nexpected to contain: " << reason;
    EXPECT_EQ(f->message.rfind("invalid image reference \"", 0), 0u) << f->message;
    EXPECT_FALSE(f->hint.empty()) << f->message;
}

void expect_ref(const std::string& s, const std::string& domain, const std::string& path,
                const std::string& tag, const std::string& digest = "") {
    SCOPED_TRACE("input: " + s);
    Reference r;
    ASSERT_NO_THROW(r = Reference::parse(s));
    EXPECT_EQ(r.domain, domain);
    EXPECT_EQ(r.path, path);
    EXPECT_EQ(r.tag, tag);
    EXPECT_EQ(r.digest, digest);
}

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

} // namespace

// ---- normalisation
// -------------------------------------------------------------------------------

TEST(Reference, BareNameGetsDockerHubLibraryAndLatest) {
    auto r = Reference::parse("busybox");
    EXPECT_EQ(r.domain, "docker.io");
    EXPECT_EQ(r.path, "library/busybox");
    EXPECT_EQ(r.tag, "latest");
    EXPECT_EQ(r.digest, "");
    EXPECT_EQ(r.str(), "docker.io/library/busybox:latest");
    EXPECT_EQ(r.familiar(), "busybox:latest");
    EXPECT_EQ(r.repository(), "docker.io/library/busybox");
}

TEST(Reference, EnrootsRegistryHashSpellingIsTheRegistry) {
    // pyxis and enroot: [USER@][REGISTRY#]IMAGE[:TAG] (pyxis#67)
    expect_ref("nvcr.io#nvidia/pytorch:24.01-py3", "nvcr.io", "nvidia/pytorch", "24.01-py3");
    expect_ref("localhost:5000#team/app", "localhost:5000", "team/app", "latest");
    // a '#' after a '/' is not the registry's: still an invalid name
    EXPECT_THROW(Reference::parse("nvidia/py#torch"), Error);
    try {
        Reference::parse("me@nvcr.io#nvidia/pytorch:24.01");
        FAIL() << "USER@ accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("USER@"), std::string::npos) << e.what();
        EXPECT_NE(e.hint().find("gantry login nvcr.io"), std::string::npos) << e.hint();
    }
}

TEST(Reference, ExplicitTagIsKept) {
    expect_ref("busybox:1.36", "docker.io", "library/busybox", "1.36");
    expect_ref("ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base", "latest");
}

TEST(Reference, UserRepositoryOnDockerHub) {
    auto r = Reference::parse("nvidia/cuda:12.4");
    EXPECT_EQ(r.str(), "docker.io/nvidia/cuda:12.4");
    EXPECT_EQ(r.familiar(), "nvidia/cuda:12.4");
    expect_ref("dmcgowan/myapp", "docker.io", "dmcgowan/myapp", "latest");
    expect_ref("other/library", "docker.io", "other/library", "latest");
    expect_ref("store/foo/bar", "docker.io", "store/foo/bar", "latest");
}

TEST(Reference, ExplicitDockerIoGetsLibraryPrefix) {
    expect_ref("docker.io/busybox", "docker.io", "library/busybox", "latest");
    expect_ref("docker.io/busybox:latest", "docker.io", "library/busybox", "latest");
    expect_ref("docker.io/library/busybox", "docker.io", "library/busybox", "latest");
    expect_ref("docker.io/library", "docker.io", "library/library", "latest");
}

TEST(Reference, LegacyIndexDomainIsRewritten) {
    expect_ref("index.docker.io/docker/docker", "docker.io", "docker/docker", "latest");
    expect_ref("index.docker.io/library/debian", "docker.io", "library/debian", "latest");
    expect_ref("index.docker.io/debian", "docker.io", "library/debian", "latest");
    EXPECT_EQ(Reference::parse("index.docker.io/fooo/bar").familiar(), "fooo/bar:latest");
}

TEST(Reference, LibraryPrefixOnlyForSingleComponentDockerHubPaths) {
    expect_ref("library/foo/bar", "docker.io", "library/foo/bar", "latest");
    expect_ref("docker.io/library/foo/bar", "docker.io", "library/foo/bar", "latest");
    EXPECT_EQ(Reference::parse("library/foo/bar").familiar(), "library/foo/bar:latest");
    // Other registries never get "library/".
    expect_ref("gcr.io/busybox", "gcr.io", "busybox", "latest");
    expect_ref("gcr.io/library/busybox", "gcr.io", "library/busybox", "latest");
    EXPECT_EQ(Reference::parse("gcr.io/library/busybox").familiar(),
              "gcr.io/library/busybox:latest");
}

TEST(Reference, NormalizedSplitHostnameTable) {
    // normalize_test.go TestNormalizedSplitHostname
    struct Case {
        const char *input, *domain, *path;
    };
    for (const Case& c : std::vector<Case>{
             {"test.com/foo", "test.com", "foo"},
             {"test_com/foo", "docker.io", "test_com/foo"},
             {"docker/migrator", "docker.io", "docker/migrator"},
             {"test.com:8080/foo", "test.com:8080", "foo"},
             {"test-com:8080/foo", "test-com:8080", "foo"},
             {"foo", "docker.io", "library/foo"},
             {"xn--n3h.com/foo", "xn--n3h.com", "foo"},
             {"xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"},
             {"docker.io/foo", "docker.io", "library/foo"},
             {"docker.io/library/foo", "docker.io", "library/foo"},
             {"docker.io/library/foo/bar", "docker.io", "library/foo/bar"},
             {"test:8080/foo", "test:8080", "foo"},
         }) {
        expect_ref(c.input, c.domain, c.path, "latest");
    }
}

TEST(Reference, ParseDockerRefTable) {
    // normalize_test.go TestParseDockerRef (except that gantry keeps a tag given with a digest)
    const std::string d = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    struct Case {
        std::string input, expected;
    };
    for (const Case& c : std::vector<Case>{
             {"busybox", "docker.io/library/busybox:latest"},
             {"busybox:latest", "docker.io/library/busybox:latest"},
             {"busybox@" + d, "docker.io/library/busybox@" + d},
             {"library/busybox", "docker.io/library/busybox:latest"},
             {"docker.io/busybox", "docker.io/library/busybox:latest"},
             {"docker.io/library/busybox", "docker.io/library/busybox:latest"},
             {"docker.io/busybox:latest", "docker.io/library/busybox:latest"},
             {"library/busybox:latest", "docker.io/library/busybox:latest"},
             {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest"},
             {"gcr.io/library/busybox", "gcr.io/library/busybox:latest"},
             {"gcr.io/library/busybox:latest@" + d, "gcr.io/library/busybox:latest@" + d},
         }) {
        SCOPED_TRACE(c.input);
        auto r = Reference::parse(c.input);
        EXPECT_EQ(r.str(), c.expected);
        EXPECT_EQ(Reference::parse(r.str()), r);
    }
}

TEST(Reference, ParseRepositoryInfoTable) {
    // normalize_test.go TestParseRepositoryInfo: every spelling gives the same familiar and full
    // name.
    struct Case {
        std::vector<std::string> spellings;
        std::string familiar, full, domain, path;
    };
    for (const Case& c : std::vector<Case>{
             {{"localhost/fooo"}, "localhost/fooo", "localhost/fooo", "localhost", "fooo"},
             {{"localhost/fooo/bar"},
              "localhost/fooo/bar",
              "localhost/fooo/bar",
              "localhost",
              "fooo/bar"},
             {{"LOCALDOMAIN/fooo"}, "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN", "fooo"},
             {{"fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar"},
              "fooo/bar",
              "docker.io/fooo/bar",
              "docker.io",
              "fooo/bar"},
             {{"ubuntu", "docker.io/library/ubuntu", "library/ubuntu"},
              "ubuntu",
              "docker.io/library/ubuntu",
              "docker.io",
              "library/ubuntu"},
             {{"nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu"},
              "nonlibrary/ubuntu",
              "docker.io/nonlibrary/ubuntu",
              "docker.io",
              "nonlibrary/ubuntu"},
             {{"127.0.0.1:8000/private/moonbase"},
              "127.0.0.1:8000/private/moonbase",
              "127.0.0.1:8000/private/moonbase",
              "127.0.0.1:8000",
              "private/moonbase"},
             {{"127.0.0.1:8000/privatebase"},
              "127.0.0.1:8000/privatebase",
              "127.0.0.1:8000/privatebase",
              "127.0.0.1:8000",
              "privatebase"},
             {{"example.com/private/moonbase"},
              "example.com/private/moonbase",
              "example.com/private/moonbase",
              "example.com",
              "private/moonbase"},
             {{"example.com:8000/privatebasee"},
              "example.com:8000/privatebasee",
              "example.com:8000/privatebasee",
              "example.com:8000",
              "privatebasee"},
             {{"foo", "docker.io/foo", "docker.io/library/foo"},
              "foo",
              "docker.io/library/foo",
              "docker.io",
              "library/foo"},
             {{"library/foo/bar"},
              "library/foo/bar",
              "docker.io/library/foo/bar",
              "docker.io",
              "library/foo/bar"},
         }) {
        for (const auto& s : c.spellings) {
            SCOPED_TRACE(s);
            auto r = Reference::parse(s);
            EXPECT_EQ(r.familiar(), c.familiar + ":latest");
            EXPECT_EQ(r.str(), c.full + ":latest");
            EXPECT_EQ(r.repository(), c.full);
            EXPECT_EQ(r.domain, c.domain);
            EXPECT_EQ(r.path, c.path);
        }
    }
}

// ---- domains
// -------------------------------------------------------------------------------------

TEST(Reference, LocalhostIsADomainOnlyBeforeASlash) {
    expect_ref("localhost/library/debian", "localhost", "library/debian", "latest");
    expect_ref("localhost/debian", "localhost", "debian", "latest");
    expect_ref("localhost:5000/debian:12", "localhost:5000", "debian", "12");
    // Without a slash "localhost" is a Docker Hub name and ":5000" a tag (docker does the same).
    expect_ref("localhost", "docker.io", "library/localhost", "latest");
    expect_ref("localhost:5000", "docker.io", "library/localhost", "5000");
}

TEST(Reference, FirstComponentWithDotOrColonIsADomain) {
    expect_ref("test.com/repo:tag", "test.com", "repo", "tag");
    expect_ref("test:5000/repo", "test:5000", "repo", "latest");
    expect_ref("test:5000/repo:tag", "test:5000", "repo", "tag");
    expect_ref("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest");
    expect_ref("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
               "some-long-tag");
    expect_ref("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io",
               "test.example.com/my-app", "test.example.com");
    expect_ref("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com");
    expect_ref("registry.example.com:5000/a/b/c", "registry.example.com:5000", "a/b/c", "latest");
}

TEST(Reference, DottedNamesWithoutSlashAreDockerHubNames) {
    // reference_test.go: "test.com:5000" is repository "test.com" with tag "5000".
    expect_ref("test_com", "docker.io", "library/test_com", "latest");
    expect_ref("test.com:tag", "docker.io", "library/test.com", "tag");
    expect_ref("test.com:5000", "docker.io", "library/test.com", "5000");
    expect_ref("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080");
    expect_ref("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080");
}

TEST(Reference, IPv4Registries) {
    expect_ref("192.168.1.1/repo", "192.168.1.1", "repo", "latest");
    expect_ref("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", "latest");
    expect_ref("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050");
    expect_ref("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "latest");
    expect_ref("192.168.0.1:8/debian", "192.168.0.1:8", "debian", "latest");
    // No slash: a Docker Hub name with dots, and maybe a tag.
    expect_ref("192.168.1.1", "docker.io", "library/192.168.1.1", "latest");
    expect_ref("192.168.0.1:80", "docker.io", "library/192.168.0.1", "80");
    expect_ref("192.168.1.1:tag", "docker.io", "library/192.168.1.1", "tag");
}

TEST(Reference, IPv6Registries) {
    expect_ref("[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest");
    expect_ref("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag");
    expect_ref("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest");
    expect_ref("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag");
    expect_ref("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest");
    expect_ref("[::1]:5000/repo", "[::1]:5000", "repo", "latest");
    expect_ref("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "latest");
    expect_ref("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000",
               "library/debian", "latest");
    EXPECT_EQ(Reference::parse("[::1]:5000/repo").familiar(), "[::1]:5000/repo:latest");
}

TEST(Reference, IPv6RegistriesWithDigest) {
    expect_ref("[2001:db8::1]:5000/repo@" + kDigest, "[2001:db8::1]:5000", "repo", "", kDigest);
    expect_ref("[2001:db8::1]:5000/repo:tag@" + kDigest, "[2001:db8::1]:5000", "repo", "tag",
               kDigest);
    EXPECT_EQ(Reference::parse("[2001:db8::1]:5000/repo:tag@" + kDigest).str(),
              "[2001:db8::1]:5000/repo:tag@" + kDigest);
}

TEST(Reference, IPv6WithoutRepositoryIsRejected) {
    expect_invalid("[2001:db8::1]", "must be followed by '/' and a repository name");
    expect_invalid("[2001:db8::1]:5000", "must be followed by '/' and a repository name");
    expect_invalid("[2001:db8::1]:tag", "must be followed by '/' and a repository name");
    expect_invalid("[fc00::1]", "must be followed by '/' and a repository name");
}

TEST(Reference, IPv6ZonesEmbeddedIPv4AndMissingBracketsAreRejected) {
    expect_invalid("[fe80::1%eth0]:5000/repo", "zone identifiers are not supported");
    expect_invalid("[fe80::1%@invalidzone]:5000/repo", "zone identifiers are not supported");
    expect_invalid("[2001:db8:3:4::192.0.2.33]:5000/debian", "embedded IPv4");
    expect_invalid("fc00::1:5000/debian", "IPv6 addresses must be enclosed in brackets");
    expect_invalid("[fc00::1:5000/debian", "missing the closing ']'");
    expect_invalid("[fc00::1]5000/debian", "expected ':port'");
    expect_invalid("[]:5000/debian", "is empty");
    expect_invalid("[fc00::g1]:5000/debian", "invalid character 'g' in IPv6 registry address");
}

TEST(Reference, UppercaseFirstComponentIsADomain) {
    // docker: namespaces are lowercase, so an uppercase first component must be a host.
    expect_ref("Foo/bar", "Foo", "bar", "latest");
    expect_ref("FOO/bar", "FOO", "bar", "latest");
    expect_ref("LOCALDOMAIN/library/debian", "LOCALDOMAIN", "library/debian", "latest");
    expect_ref("Docker/docker", "Docker", "docker", "latest");
    EXPECT_EQ(Reference::parse("LOCALDOMAIN/fooo/bar").familiar(), "LOCALDOMAIN/fooo/bar:latest");
}

TEST(Reference, PortMustBeNumeric) {
    expect_invalid("example.com:80a/foo", "registry port \"80a\" must be numeric");
    expect_invalid("foo:tag/bar", "registry port \"tag\" must be numeric");
    expect_invalid("example.com:/foo", "empty port");
    expect_invalid("[::1]:/foo", "empty port");
    expect_invalid("[::1]:x1/foo", "registry port \"x1\" must be numeric");
}

TEST(Reference, InvalidRegistryHosts) {
    expect_invalid("-docker.io/docker/docker", "must not start or end with '-'");
    expect_invalid("docker-.io/docker", "must not start or end with '-'");
    // Deliberate difference: docker's regex falls back to an *empty* domain here and accepts
    // "exa_mple.com/foo" as a bare path; gantry rejects it.
    expect_invalid("exa_mple.com/foo", "invalid character '_' in registry host");
    expect_invalid("foo_bar.com/x", "invalid character '_' in registry host");
    expect_invalid("example..com/foo", "empty label");
    expect_invalid(".example.com/foo", "empty label");
    expect_invalid(":5000/foo", "empty host name");
}

TEST(Reference, UrlSchemeIsRejected) {
    expect_invalid("https://github.com/docker/docker", "must not include a URL scheme");
    expect_invalid("docker://busybox", "must not include a URL scheme");
}

// ---- paths
// ---------------------------------------------------------------------------------------

TEST(Reference, ValidRemoteNames) {
    // normalize_test.go TestValidateRemoteName
    for (const char* s :
         {"docker/docker", "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
          "docker-rules/docker", "docker---rules/docker", "doc/docker", "d/docker", "jess/t",
          "dock__er/docker", "x/a.b_c__d-e--f/g", "0/1"}) {
        SCOPED_TRACE(s);
        EXPECT_NO_THROW((void)Reference::parse(s));
    }
}

TEST(Reference, PathMustBeLowercase) {
    expect_invalid("docker/Docker", "repository name \"docker/Docker\" must be lowercase");
    expect_invalid("Uppercase:tag", "must be lowercase");
    expect_invalid("Uppercase", "must be lowercase");
    expect_invalid("test:5000/Uppercase/lowercase:tag", "must be lowercase");
    expect_invalid("docker.io/docker/Docker", "must be lowercase");
    expect_invalid("localhost/Foo", "must be lowercase");
}

TEST(Reference, TagMayContainUppercase) {
    expect_ref("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase");
}

TEST(Reference, ComponentsMustStartAndEndAlphanumeric) {
    expect_invalid("-docker", "must start with a lowercase letter or digit");
    expect_invalid("-docker/docker", "must start with a lowercase letter or digit");
    expect_invalid("docker-/docker", "\"docker-\" must end with a lowercase letter or digit");
    expect_invalid("-docker-/docker", "must start with a lowercase letter or digit");
    expect_invalid("____/____", "must start with a lowercase letter or digit");
    expect_invalid("_docker/_docker", "must start with a lowercase letter or digit");
    expect_invalid(".hidden", "must start with a lowercase letter or digit");
    expect_invalid("bar/foo.", "must end with a lowercase letter or digit");
}

TEST(Reference, SeparatorsAreRestricted) {
    expect_invalid("docker/dock..er", "invalid separator \"..\"");
    expect_invalid("docker/dock_.er", "invalid separator \"_.\"");
    expect_invalid("docker/dock-.er", "invalid separator \"-.\"");
    // With a '.', the first component names a registry (as in docker), so the error says so.
    expect_invalid("dock..er/docker", "registry host \"dock..er\" has an empty label");
    expect_invalid("dock_.er/docker", "invalid character '_' in registry host");
    expect_invalid("dock-.er/docker", "registry host label \"dock-\" must not start or end");
    expect_invalid("dock___er/docker", "invalid separator \"___\"");
    expect_invalid("dock._er", "invalid separator \"._\"");
}

TEST(Reference, InvalidCharactersInPath) {
    expect_invalid("aa/asdf$$^/aa", "invalid character '$' in repository path component");
    expect_invalid("foo:bar:baz", "invalid character ':' in repository path component");
    expect_invalid(" busybox", "invalid character space");
    expect_invalid("busy box", "invalid character space");
    expect_invalid("b\xc3\xbcsybox", "invalid character byte 0xc3");
    expect_invalid("foo/bar#1", "invalid character '#'");
}

TEST(Reference, EmptyPathComponentsAreRejected) {
    expect_invalid("docker///docker", "empty path component ('//')");
    expect_invalid("docker.io/docker///docker", "empty path component ('//')");
    expect_invalid("docker//docker", "empty path component ('//')");
    expect_invalid("docker/", "must not end with '/'");
    expect_invalid("docker/:tag", "must not end with '/'");
    expect_invalid("/busybox", "must not start with '/'");
    expect_invalid("docker.io/", "missing repository name after registry \"docker.io\"");
    expect_invalid("localhost/:tag", "missing repository name after registry \"localhost\"");
}

TEST(Reference, SixtyFourHexIsAnImageIdNotAName) {
    const std::string id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    expect_invalid(id, "is an image ID, not a repository name");
    // With a registry, a tag, or one character less it is an ordinary name (as in docker).
    expect_ref("docker.io/" + id, "docker.io", "library/" + id, "latest");
    expect_ref(id + ":tag", "docker.io", "library/" + id, "tag");
    expect_ref(id.substr(1), "docker.io", "library/" + id.substr(1), "latest");
    expect_ref("dbcc1", "docker.io", "library/dbcc1", "latest");
}

TEST(Reference, NameLengthLimit) {
    // reference_test.go: the limit applies to the path, after normalisation.
    expect_ref("example.com/" + repeat("a", 255) + ":tag", "example.com", repeat("a", 255), "tag");
    expect_invalid("example.com/" + repeat("a", 256), "must not be more than 255 characters");
    expect_invalid("domain/" + repeat("a", 256) + ":tag", "must not be more than 255 characters");
    // 127 * "a/" + "a" is exactly 255 characters; "a" is not a domain.
    expect_ref(repeat("a/", 127) + "a:tag-puts-this-over-max", "docker.io", repeat("a/", 127) + "a",
               "tag-puts-this-over-max");
    // "library/" counts: 248 + 8 = 256.
    expect_ref(repeat("b", 247), "docker.io", "library/" + repeat("b", 247), "latest");
    expect_invalid(repeat("b", 248), "must not be more than 255 characters (256 given)");
}

// ---- empty parts
// ---------------------------------------------------------------------------------

TEST(Reference, EmptyReference) {
    expect_invalid("", "reference is empty");
}

TEST(Reference, MissingRepositoryName) {
    expect_invalid(":justtag", "missing repository name");
    expect_invalid("@" + kDigest, "missing repository name");
    expect_invalid(":tag@" + kDigest, "missing repository name");
}

TEST(Reference, TrailingColonOrAt) {
    expect_invalid("busybox:", "':' must be followed by a tag");
    expect_invalid("busybox:@" + kDigest, "':' must be followed by a tag");
    expect_invalid("busybox@", "'@' must be followed by a digest");
    expect_invalid("busybox:latest@", "'@' must be followed by a digest");
    expect_invalid("example.com:5000/busybox:", "':' must be followed by a tag");
}

// ---- tags
// ----------------------------------------------------------------------------------------

TEST(Reference, ValidTags) {
    expect_ref("busybox:_x", "docker.io", "library/busybox", "_x");
    expect_ref("busybox:1.0-rc.1", "docker.io", "library/busybox", "1.0-rc.1");
    expect_ref("busybox:Latest_2", "docker.io", "library/busybox", "Latest_2");
    expect_ref("busybox:" + repeat("t", 128), "docker.io", "library/busybox", repeat("t", 128));
}

TEST(Reference, InvalidTags) {
    expect_invalid("busybox:-foo", "tag \"-foo\" must start with a letter, digit or '_'");
    expect_invalid("busybox:.foo", "must start with a letter, digit or '_'");
    expect_invalid("busybox:a+b", "invalid character '+' in tag \"a+b\"");
    expect_invalid("busybox:" + repeat("t", 129), "tag must not be more than 128 characters");
}

// ---- digests
// -------------------------------------------------------------------------------------

TEST(Reference, DigestOnly) {
    auto r = Reference::parse("busybox@" + kBusyboxDigest);
    EXPECT_EQ(r.domain, "docker.io");
    EXPECT_EQ(r.path, "library/busybox");
    EXPECT_EQ(r.tag, "");
    EXPECT_EQ(r.digest, kBusyboxDigest);
    EXPECT_EQ(r.str(), "docker.io/library/busybox@" + kBusyboxDigest);
    EXPECT_EQ(r.familiar(), "busybox@" + kBusyboxDigest);
    EXPECT_EQ(r.tag_or_latest(), "");
    expect_ref("test:5000/repo@" + kDigest, "test:5000", "repo", "", kDigest);
}

TEST(Reference, TagAndDigestAreBothKept) {
    // normalize_test.go TestParseReferenceWithTagAndDigest
    const std::string short_ref = "busybox:latest@" + kBusyboxDigest;
    auto r = Reference::parse(short_ref);
    EXPECT_EQ(r.tag, "latest");
    EXPECT_EQ(r.digest, kBusyboxDigest);
    EXPECT_EQ(r.str(), "docker.io/library/" + short_ref);
    EXPECT_EQ(r.familiar(), short_ref);
    expect_ref("xn--7o8h.com/myimage:xn--7o8h.com@" + kDigest, "xn--7o8h.com", "myimage",
               "xn--7o8h.com", kDigest);
    expect_ref("test:5000/repo:tag@" + kDigest, "test:5000", "repo", "tag", kDigest);
}

TEST(Reference, DigestMustHave64Hex) {
    expect_invalid("repo@sha256:ffffffffffffffffffffffffffffffffff",
                   "sha256 digest must have 64 hex characters, got 34");
    expect_invalid("repo@sha256:" + kHex64 + "f", "must have 64 hex characters, got 65");
    expect_invalid("repo@sha256:abc", "must have 64 hex characters, got 3");
}

TEST(Reference, DigestMustBeLowercaseHex) {
    std::string upper = kHex64;
    upper[10] = 'F';
    expect_invalid("repo@sha256:" + upper, "must be lowercase hex");
    expect_invalid("repo@sha256:" + repeat("g", 64), "invalid character 'g' in digest");
}

TEST(Reference, OtherDigestAlgorithmsAreUnsupported) {
    expect_invalid("validname@sha512:" + repeat("f", 128),
                   "unsupported digest algorithm \"sha512\"", Errc::unsupported);
    expect_invalid("validname@invaliddigest:" + kHex64, "unsupported digest algorithm",
                   Errc::unsupported);
    expect_invalid("validname@sha256+b64:" + kHex64, "unsupported digest algorithm",
                   Errc::unsupported);
    expect_invalid("validname@SHA256:" + kHex64, "unsupported digest algorithm", Errc::unsupported);
}

TEST(Reference, MalformedDigests) {
    expect_invalid("busybox@sha256", "has no algorithm");
    expect_invalid("busybox@" + kHex64, "has no algorithm");
    expect_invalid("busybox@:" + kHex64, "malformed digest algorithm \"\"");
    expect_invalid("busybox@1sha:" + kHex64, "malformed digest algorithm \"1sha\"");
    expect_invalid("busybox@sha-:" + kHex64, "malformed digest algorithm \"sha-\"");
    expect_invalid("busybox@sha256:", "has no hex value");
    expect_invalid("busybox@md5:abc", "is too short");
    expect_invalid("busybox@" + kDigest + "@" + kDigest, "more than one '@'");
}

// ---- output forms
// --------------------------------------------------------------------------------

TEST(Reference, FamiliarRoundTrips) {
    struct Case {
        std::string input, familiar;
    };
    for (const Case& c : std::vector<Case>{
             {"busybox", "busybox:latest"},
             {"docker.io/library/busybox:1.36", "busybox:1.36"},
             {"index.docker.io/nvidia/cuda:12.4", "nvidia/cuda:12.4"},
             {"ghcr.io/x/y@" + kDigest, "ghcr.io/x/y@" + kDigest},
             {"docker.io/library/foo/bar", "library/foo/bar:latest"},
             {"localhost:5000/a/b/c:v1", "localhost:5000/a/b/c:v1"},
             {"[::1]:5000/repo:tag@" + kDigest, "[::1]:5000/repo:tag@" + kDigest},
             {"redis@" + kDigest, "redis@" + kDigest},
         }) {
        SCOPED_TRACE(c.input);
        auto r = Reference::parse(c.input);
        EXPECT_EQ(r.familiar(), c.familiar);
        EXPECT_EQ(Reference::parse(r.familiar()), r);
        EXPECT_EQ(Reference::parse(r.str()), r);
        EXPECT_EQ(Reference::parse(r.str()).str(), r.str());
    }
}

TEST(Reference, EquivalentSpellingsCompareEqual) {
    auto a = Reference::parse("busybox");
    EXPECT_EQ(a, Reference::parse("busybox:latest"));
    EXPECT_EQ(a, Reference::parse("library/busybox"));
    EXPECT_EQ(a, Reference::parse("docker.io/busybox"));
    EXPECT_EQ(a, Reference::parse("index.docker.io/library/busybox:latest"));
    EXPECT_NE(a, Reference::parse("busybox:1.36"));
    EXPECT_NE(a, Reference::parse("busybox:latest@" + kDigest));
    EXPECT_NE(Reference::parse("Foo/bar"), Reference::parse("foo/bar"));
}

TEST(Reference, TagOrLatest) {
    EXPECT_EQ(Reference::parse("busybox").tag_or_latest(), "latest");
    EXPECT_EQ(Reference::parse("busybox:1.36").tag_or_latest(), "1.36");
    EXPECT_EQ(Reference::parse("busybox:1.36@" + kDigest).tag_or_latest(), "1.36");
    EXPECT_EQ(Reference::parse("busybox@" + kDigest).tag_or_latest(), "");
    Reference manual{"docker.io", "library/busybox", "", ""};
    EXPECT_EQ(manual.tag_or_latest(), "latest");
    EXPECT_EQ(manual.str(), "docker.io/library/busybox");
    EXPECT_EQ(manual.familiar(), "busybox");
}

TEST(Reference, ErrorMessageQuotesInputSafely) {
    auto f = failure("bad\x1b[31m\"name");
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->message.find('\x1b'), std::string::npos) << f->message;
    EXPECT_NE(f->message.find("\\x1b"), std::string::npos) << f->message;
    EXPECT_NE(f->message.find("\\\""), std::string::npos) << f->message;

    auto g = failure(repeat("c", 5000) + "!");
    ASSERT_TRUE(g.has_value());
    EXPECT_LT(g->message.size(), 1000u) << g->message;
    EXPECT_NE(g->message.find("...\""), std::string::npos);
}

TEST(Reference, ErrorCarriesCodeMessageAndHint) {
    try {
        (void)Reference::parse("docker/Docker");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_EQ(e.message(), "invalid image reference \"docker/Docker\": repository name "
                               "\"docker/Docker\" must be lowercase");
        EXPECT_NE(e.hint().find("lowercase"), std::string::npos);
        EXPECT_STREQ(e.what(), e.message().c_str());
    }
}

// ---- short IDs
// -----------------------------------------------------------------------------------

TEST(Reference, LooksLikeDigestPrefix) {
    EXPECT_TRUE(looks_like_digest_prefix("abcd"));
    EXPECT_TRUE(looks_like_digest_prefix("0123456789ab"));
    EXPECT_TRUE(looks_like_digest_prefix(kHex64));
    EXPECT_TRUE(looks_like_digest_prefix("sha256:abcd"));
    EXPECT_TRUE(looks_like_digest_prefix(kDigest));
    EXPECT_FALSE(looks_like_digest_prefix(""));
    EXPECT_FALSE(looks_like_digest_prefix("abc"));
    EXPECT_FALSE(looks_like_digest_prefix("sha256:abc"));
    EXPECT_FALSE(looks_like_digest_prefix("sha256:"));
    EXPECT_FALSE(looks_like_digest_prefix("busybox"));
    EXPECT_FALSE(looks_like_digest_prefix("ABCD"));
    EXPECT_FALSE(looks_like_digest_prefix(kHex64 + "0"));
    EXPECT_FALSE(looks_like_digest_prefix("sha512:abcd"));
    EXPECT_FALSE(looks_like_digest_prefix("abcd:latest"));
}

} // namespace oci_reference_test
