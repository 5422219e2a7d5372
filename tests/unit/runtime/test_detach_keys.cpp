// docker's detach keys (runtime/detach_keys.hpp): parsed as docker writes them, matched as
// moby's escape proxy matches them across reads.
#include "runtime/detach_keys.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace runtime_detach_keys_test {

using namespace gantry::runtime;

TEST(DetachKeys, ParsesDockersNotation) {
    EXPECT_EQ(DetachKeys::parse("").sequence(), std::string("\x10\x11"));
    EXPECT_EQ(DetachKeys::parse("ctrl-p,ctrl-q").sequence(), std::string("\x10\x11"));
    EXPECT_EQ(DetachKeys::parse("ctrl-x").sequence(), std::string("\x18"));
    EXPECT_EQ(DetachKeys::parse("a,ctrl-[").sequence(), std::string("a\x1b"));
    EXPECT_EQ(DetachKeys::parse("ctrl-@").sequence(), std::string(1, '\0'));
    for (auto bad : {"ctrl-1", "ctrl-", "ctrlp", "ab", ",", "ctrl-p,"})
        EXPECT_THROW(DetachKeys::parse(bad), gantry::Error) << bad;
}

TEST(DetachKeys, ForwardsAllButACompletedSequence) {
    auto keys = DetachKeys::parse("");
    bool detached = true;
    EXPECT_EQ(keys.scan("abc", detached), "abc");
    EXPECT_FALSE(detached);
    // a first key is held back, across reads, until the sequence completes
    EXPECT_EQ(keys.scan("x\x10", detached), "x");
    EXPECT_FALSE(detached);
    EXPECT_EQ(keys.scan("\x11tail", detached), "");
    EXPECT_TRUE(detached);
}

TEST(DetachKeys, ABrokenSequenceIsForwarded) {
    auto keys = DetachKeys::parse("ctrl-p,ctrl-q");
    bool detached = true;
    EXPECT_EQ(keys.scan("\x10", detached), "");
    EXPECT_EQ(keys.scan("z", detached), "\x10z");
    EXPECT_FALSE(detached);
    // a repeated first key: the first is forwarded, the second may still begin it
    EXPECT_EQ(keys.scan("\x10\x10", detached), "\x10");
    EXPECT_EQ(keys.scan("\x11", detached), "");
    EXPECT_TRUE(detached);
}

TEST(DetachKeys, OneKey) {
    auto keys = DetachKeys::parse("ctrl-x");
    bool detached = false;
    EXPECT_EQ(keys.scan("ab\x18", detached), "ab");
    EXPECT_TRUE(detached);
}

} // namespace runtime_detach_keys_test
