// runtime/capabilities: the kernel's last capability, found by a binary search of
// PR_CAPBSET_READ, is the one the kernel publishes, and names above it are left out.
#include "runtime/capabilities.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace runtime_capabilities_test {

using namespace gantry::runtime::detail;

TEST(RuntimeCapabilities, LastCapabilityIsTheKernels) {
    std::ifstream f("/proc/sys/kernel/cap_last_cap");
    int published = -1;
    if (!(f >> published)) GTEST_SKIP() << "no /proc/sys/kernel/cap_last_cap to compare with";
    EXPECT_EQ(last_capability(), published);
}

TEST(RuntimeCapabilities, NamesAboveTheLastAreLeftOut) {
    const cap_value_t last = last_capability();
    ASSERT_GE(last, CAP_SETFCAP); // every kernel since 2.6.24
    EXPECT_EQ(capability_values({"CAP_CHOWN", "cap_kill", "CAP_NOPE"}, last),
              (std::vector<cap_value_t>{CAP_CHOWN, CAP_KILL}));
    // a kernel whose last capability were CAP_KILL would not know CAP_SETFCAP
    EXPECT_EQ(capability_values({"CAP_CHOWN", "CAP_SETFCAP"}, CAP_KILL),
              (std::vector<cap_value_t>{CAP_CHOWN}));
}

} // namespace runtime_capabilities_test
