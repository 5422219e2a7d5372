// gpu_vendors/in_root: a path inside a driver root resolved as if the root were /, never out of
// it; gpu_host::join_root.
#include "../support/gpu_test_support.hpp"
#include "gpu_host/device_node.hpp"
#include "gpu_vendors/in_root.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>

namespace gpu_vendors_in_root_test {

using namespace gpu_test;
namespace gpu_host = gantry::gpu_host;

TEST(GpuVendorsInRoot, SymlinksStayInsideTheRoot) {
    GpuTempDir t;
    const std::string root = t.str() + "/root";
    write(root + "/usr/lib/real.so.1", "x");
    link(root + "/usr/lib/abs.so", "/usr/lib/real.so.1");
    link(root + "/lib", "usr/lib");
    link(root + "/usr/lib/up.so", "../../../../../../usr/lib/real.so.1");
    write(t.str() + "/outside/secret.so", "secret");
    link(root + "/usr/lib/escape.so", t.str() + "/outside/secret.so");
    link(root + "/usr/lib/escape2.so", "../../../outside/secret.so");
    link(root + "/loop1", "loop2");
    link(root + "/loop2", "loop1");

    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/abs.so"), "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/lib/abs.so"), "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/up.so"), "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/../../usr/./lib//real.so.1"),
              "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/escape.so"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/escape2.so"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/loop1"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/real.so.1/x"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/"), "/");
    EXPECT_EQ(gpu_host::join_root("/", "/dev/x"), "/dev/x");
    EXPECT_EQ(gpu_host::join_root("/a/", "/dev/x"), "/a/dev/x");
}

} // namespace gpu_vendors_in_root_test
