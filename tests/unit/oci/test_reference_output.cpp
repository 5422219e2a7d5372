// Image references: output forms (str, familiar), equality, and the errors' text.
#include "oci/reference.hpp"
#include "reference_test_support.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace oci_reference_output_test {

using namespace oci_reference_test;
using gantry::Errc;
using gantry::Error;
using gantry::oci::Reference;

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

} // namespace oci_reference_output_test
