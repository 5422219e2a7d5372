// --cap-add / --cap-drop (runspec::capabilities): docker's arithmetic over its default set, ALL,
// duplicates once, an unknown name refused. The seccomp profile that follows the capabilities:
// tests/unit/seccomp/test_profile.cpp.
#include "oci/runtime_spec.hpp"
#include "runspec/builder.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace runspec_capabilities_test {

using gantry::Errc;
using gantry::Error;
namespace oci = gantry::oci;
namespace runspec = gantry::runspec;
using Caps = std::vector<std::string>;

namespace {

bool has(const Caps& caps, const std::string& c) {
    return std::find(caps.begin(), caps.end(), c) != caps.end();
}

} // namespace

TEST(Capabilities, DockersArithmetic) {
    const auto& def = oci::default_capabilities();
    EXPECT_EQ(runspec::capabilities({}, {}), def);
    auto c = runspec::capabilities({"sys_ptrace", "CAP_IPC_LOCK"}, {"chown", "NET_RAW"});
    EXPECT_TRUE(has(c, "CAP_SYS_PTRACE") && has(c, "CAP_IPC_LOCK"));
    EXPECT_FALSE(has(c, "CAP_CHOWN") || has(c, "CAP_NET_RAW"));
    EXPECT_EQ(c.size(), def.size()); // two dropped, two added
    EXPECT_EQ(runspec::capabilities({}, {"ALL"}), Caps{});
    EXPECT_EQ(runspec::capabilities({"KILL"}, {"all"}), Caps{"CAP_KILL"});
    auto all = runspec::capabilities({"ALL"}, {"SYS_ADMIN"});
    EXPECT_EQ(all.size(), oci::all_capabilities().size() - 1);
    EXPECT_FALSE(has(all, "CAP_SYS_ADMIN"));
    EXPECT_EQ(runspec::capabilities({"CHOWN", "chown"}, {}), def); // no duplicates
    try {
        runspec::capabilities({"SYS_WIZARD"}, {});
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.message().find("--cap-add: unknown capability \"SYS_WIZARD\""),
                  std::string::npos);
    }
}

} // namespace runspec_capabilities_test
