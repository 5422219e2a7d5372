// Image references: digests, and short IDs (looks_like_digest_prefix).
#include "oci/reference.hpp"
#include "reference_test_support.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace oci_reference_digests_test {

using namespace oci_reference_test;
using gantry::Errc;
using gantry::oci::looks_like_digest_prefix;
using gantry::oci::Reference;

namespace {

const std::string kBusyboxDigest =
    "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";

} // namespace

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

} // namespace oci_reference_digests_test
