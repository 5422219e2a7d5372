// .dockerignore patterns as BuildKit's patternmatcher applies them.
#include "image_build/ignore.hpp"

#include <gtest/gtest.h>

namespace build_ignore_test {

using gantry::image_build::Ignore;

TEST(BuildIgnore, PatternsExceptionsAndDirectories) {
    auto ig = Ignore::parse("# comment\n\n  *.log \n/build\n!build/keep.txt\ndocs/**/*.md\n"
                            "./tmp/../cache\n**/secret\n");
    EXPECT_TRUE(ig.excluded("a.log"));
    EXPECT_FALSE(ig.excluded("sub/a.log")); // "*" crosses no "/"
    EXPECT_TRUE(ig.excluded("build"));
    EXPECT_TRUE(ig.excluded("build/out/x.o"));   // under an excluded directory
    EXPECT_FALSE(ig.excluded("build/keep.txt")); // the later exception wins
    EXPECT_TRUE(ig.excluded("docs/a.md"));
    EXPECT_TRUE(ig.excluded("docs/x/y/a.md"));
    EXPECT_FALSE(ig.excluded("docs/a.txt"));
    EXPECT_TRUE(ig.excluded("cache/z"));
    EXPECT_FALSE(ig.excluded("tmp"));
    EXPECT_TRUE(ig.excluded("secret"));
    EXPECT_TRUE(ig.excluded("deep/down/secret"));
    EXPECT_FALSE(ig.excluded("Dockerfile"));
    EXPECT_FALSE(ig.excluded("# comment"));
    EXPECT_EQ(ig.patterns().size(), 6u);
}

TEST(BuildIgnore, HostileInputStaysBounded) {
    // Many "**" collapse to one; a pattern of only ".." or "/" is dropped.
    auto ig = Ignore::parse(std::string(2000, '*') + "/" + "**/**/**/**/**/**/x\n..\n/\n!\n");
    EXPECT_EQ(ig.patterns().size(), 1u);
    EXPECT_TRUE(ig.excluded("a/b/c/d/e/f/g/h/x"));
    EXPECT_FALSE(ig.excluded("a/b/c/d/e/f/g/h/y"));
}

} // namespace build_ignore_test
