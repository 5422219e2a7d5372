// Image references: registry domains (names, IPv4, IPv6, ports) and what is not one.
#include "oci/reference.hpp"
#include "reference_test_support.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace oci_reference_domains_test {

using namespace oci_reference_test;
using gantry::oci::Reference;

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

} // namespace oci_reference_domains_test
