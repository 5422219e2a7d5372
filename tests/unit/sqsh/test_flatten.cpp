#include "sqsh/flatten.hpp"

#include <gtest/gtest.h>

namespace sqsh_flatten_test {

using gantry::sqsh::Flattener;

TEST(Flattener, MarkersNameWhatTheyHide) {
    std::string t;
    EXPECT_EQ(Flattener::marker("a/.wh.b", t), Flattener::Marker::whiteout);
    EXPECT_EQ(t, "a/b");
    EXPECT_EQ(Flattener::marker(".wh.top", t), Flattener::Marker::whiteout);
    EXPECT_EQ(t, "top");
    EXPECT_EQ(Flattener::marker("a/b/.wh..wh..opq", t), Flattener::Marker::opaque);
    EXPECT_EQ(t, "a/b");
    EXPECT_EQ(Flattener::marker("a/.wh..wh.plnk", t), Flattener::Marker::whiteout);
    EXPECT_EQ(t, ""); // AUFS bookkeeping: hides nothing
    // near misses: ".wh" inside a name, a directory named like a whiteout
    EXPECT_EQ(Flattener::marker("a/x.wh.b", t), Flattener::Marker::none);
    EXPECT_EQ(Flattener::marker("a/.whb", t), Flattener::Marker::none);
}

TEST(Flattener, UpperEntryHidesTheSamePathBelow) {
    Flattener f; // layers come top first
    EXPECT_TRUE(f.keep("etc", true));
    EXPECT_TRUE(f.keep("etc/passwd", false));
    f.next_layer();
    EXPECT_FALSE(f.keep("etc", true));
    EXPECT_FALSE(f.keep("etc/passwd", false));
    EXPECT_TRUE(f.keep("etc/group", false)); // beside it: kept
}

TEST(Flattener, WhiteoutHidesBelowOnlyAndItsSubtree) {
    Flattener f;
    f.whiteout("opt/app");
    EXPECT_TRUE(f.keep("opt/app2", false)); // same layer, other name
    f.next_layer();
    EXPECT_FALSE(f.keep("opt/app", true));
    EXPECT_FALSE(f.keep("opt/app/bin/x", false));
    EXPECT_TRUE(f.keep("opt/apple", false)); // a name that only starts the same
    EXPECT_TRUE(f.keep("opt", true));
}

TEST(Flattener, WhiteoutDoesNotHideItsOwnLayer) {
    Flattener f;
    f.whiteout("a");
    EXPECT_TRUE(f.keep("a", false)); // OCI: a whiteout applies to lower layers
}

TEST(Flattener, OpaqueDirHidesLowerContentNotTheDir) {
    Flattener f;
    f.opaque("var/cache");
    EXPECT_TRUE(f.keep("var/cache", true));
    EXPECT_TRUE(f.keep("var/cache/new", false));
    f.next_layer();
    EXPECT_FALSE(f.keep("var/cache/old", false));
    EXPECT_FALSE(f.keep("var/cache/sub/deep", false));
    EXPECT_TRUE(f.keep("var/other", false));
}

TEST(Flattener, UpperNonDirectoryHidesLowerSubtree) {
    Flattener f;
    EXPECT_TRUE(f.keep("lib", false)); // a symlink lib -> usr/lib
    f.next_layer();
    EXPECT_FALSE(f.keep("lib/libc.so.6", false));
    EXPECT_TRUE(f.keep("libx/file", false));
}

TEST(Flattener, RepeatedPathInOneLayerKeepsTheFirst) {
    Flattener f;
    EXPECT_TRUE(f.keep("a", false));
    EXPECT_FALSE(f.keep("a", false));
    EXPECT_TRUE(f.kept_here("a"));
    f.next_layer();
    EXPECT_FALSE(f.kept_here("a")); // a hard link below cannot link to the upper file
}

} // namespace sqsh_flatten_test
