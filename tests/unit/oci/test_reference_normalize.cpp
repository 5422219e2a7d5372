// Image references: docker's normalisation (distribution/reference normalize_test.go tables).
#include "oci/reference.hpp"
#include "reference_test_support.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace oci_reference_normalize_test {

using namespace oci_reference_test;
using gantry::Error;
using gantry::oci::Reference;

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

} // namespace oci_reference_normalize_test
