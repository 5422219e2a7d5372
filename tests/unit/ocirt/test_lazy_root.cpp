// ocirt/lazy_root: a bundle's io.gantry.* annotations are honoured or refused: the three lazy
// ones (together), nothing else of gantry's; other annotations are the caller's.
#include "ocirt/lazy_root.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <map>
#include <string>

namespace ocirt_lazy_root_test {

using namespace gantry;
using Annotations = std::map<std::string, std::string>;

namespace {

std::string refusal(const Annotations& a) {
    try {
        ocirt::check_gantry_annotations(a);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        return e.message();
    }
    return "";
}

} // namespace

TEST(OcirtLazyRoot, GantryAnnotationsAreKnownOrRefused) {
    EXPECT_EQ(refusal({}), "");
    EXPECT_EQ(refusal({{"org.opencontainers.image.title", "x"}, {"io.podman.x", "y"}}), "");
    EXPECT_EQ(refusal({{"io.gantry.lazy.image", "r/i:1"}, {"io.gantry.lazy.store", "/s"}}), "");
    EXPECT_EQ(refusal({{"io.gantry.lazy.image", "r/i:1"},
                       {"io.gantry.lazy.store", "/s"},
                       {"io.gantry.lazy.tls-verify", "false"}}),
              "");
    EXPECT_NE(refusal({{"io.gantry.lazy.imag", "x"}}).find("io.gantry.lazy.imag"),
              std::string::npos);
    EXPECT_NE(refusal({{"io.gantry.fake-root", "true"}}).find("io.gantry.fake-root"),
              std::string::npos);
    EXPECT_NE(refusal({{"io.gantry.lazy.image", "r/i:1"}}).find("io.gantry.lazy.store"),
              std::string::npos);
    EXPECT_NE(refusal({{"io.gantry.lazy.store", "/s"}}).find("io.gantry.lazy.image"),
              std::string::npos);
    EXPECT_NE(refusal({{"io.gantry.lazy.tls-verify", "false"}}), "");
    EXPECT_NE(refusal({{"io.gantry.lazy.image", "r/i:1"},
                       {"io.gantry.lazy.store", "/s"},
                       {"io.gantry.lazy.tls-verify", "no"}})
                  .find("\"no\""),
              std::string::npos);
}

} // namespace ocirt_lazy_root_test
