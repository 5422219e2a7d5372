// analyze/licence_check: the config file's licence_check key (a bare mode, or default /
// registries / public), refused keys and modes naming their line, and the mode per registry.
#include "analyze/licence_check.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace licence_check_test {

using namespace gantry;
using namespace gantry::analyze;

TEST(LicenceCheck, PolicyFromTheConfigFile) {
    auto p = parse_licence_policy("image_stores: [/x]\n", "c.yaml");
    EXPECT_EQ(p.fallback, LicenceCheck::warn);
    EXPECT_EQ(licence_mode(p, "docker.io", std::nullopt), LicenceCheck::warn);
    p = parse_licence_policy("licence_check: refuse\n", "c.yaml");
    EXPECT_EQ(licence_mode(p, "quay.io", std::nullopt), LicenceCheck::refuse);
    p = parse_licence_policy("licence_check:\n  default: off\n  registries:\n    docker.io: "
                             "refuse\n  public: [reg.example]\n",
                             "c.yaml");
    EXPECT_EQ(licence_mode(p, "docker.io", std::nullopt), LicenceCheck::refuse);
    EXPECT_EQ(licence_mode(p, "ghcr.io", std::nullopt), LicenceCheck::off);
    EXPECT_EQ(licence_mode(p, "docker.io", std::string("warn")), LicenceCheck::warn);
    ASSERT_EQ(p.public_registries, std::vector<std::string>{"reg.example"});
}

TEST(LicenceCheck, RefusesWhatItDoesNotHonour) {
    for (const char* bad : {"licence_check: maybe\n", "licence_check:\n  registrys: {}\n",
                            "licence_check:\n  registries: [docker.io]\n",
                            "licence_check:\n  public: docker.io\n", "licence_check: [1]\n"}) {
        try {
            (void)parse_licence_policy(bad, "c.yaml");
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid) << bad;
            EXPECT_NE(e.message().find("c.yaml line"), std::string::npos) << e.message();
        }
    }
    try {
        (void)licence_mode({}, "x", std::string("sometimes"));
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.message().find("--licence-check \"sometimes\""), std::string::npos);
    }
}

} // namespace licence_check_test
