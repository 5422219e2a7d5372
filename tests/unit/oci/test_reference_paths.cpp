// Image references: repository paths, empty parts and tags, with the precise error reasons.
#include "oci/reference.hpp"
#include "reference_test_support.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace oci_reference_paths_test {

using namespace oci_reference_test;
using gantry::oci::Reference;

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

} // namespace oci_reference_paths_test
