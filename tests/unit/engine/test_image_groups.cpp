// --group-add NAME: a group's ID in an image's /etc/group (engine/image_groups.hpp), whose text
// is the image's, so hostile: only a well-formed line of that name counts.
#include "engine/image_groups.hpp"

#include <gtest/gtest.h>

namespace engine_image_groups_test {

using gantry::engine::group_id;

TEST(ImageGroups, ANameIsItsLinesGid) {
    const char* file = "root:x:0:\nwheel:x:10:root,adm\nvideo::44:\nnogroup:x:65534:\n";
    EXPECT_EQ(group_id(file, "root"), 0u);
    EXPECT_EQ(group_id(file, "wheel"), 10u);
    EXPECT_EQ(group_id(file, "video"), 44u);
    EXPECT_EQ(group_id(file, "nogroup"), 65534u);
    EXPECT_FALSE(group_id(file, "audio"));
    EXPECT_FALSE(group_id(file, "whee")); // a prefix is not the name
    EXPECT_FALSE(group_id("", "root"));
}

TEST(ImageGroups, MalformedLinesNeverMatch) {
    EXPECT_FALSE(group_id("wheel", "wheel"));                // no fields
    EXPECT_FALSE(group_id("wheel:x", "wheel"));              // no GID
    EXPECT_FALSE(group_id("wheel:x::", "wheel"));            // an empty GID
    EXPECT_FALSE(group_id("wheel:x:ten:", "wheel"));         // not a number
    EXPECT_FALSE(group_id("wheel:x:10x:", "wheel"));         // trailing bytes
    EXPECT_FALSE(group_id("wheel:x:-1:", "wheel"));          // negative
    EXPECT_FALSE(group_id("wheel:x:4294967295:", "wheel"));  // (gid_t)-1
    EXPECT_FALSE(group_id("wheel:x:99999999999:", "wheel")); // past 32 bits
    // a bad line does not hide a good one after it
    EXPECT_EQ(group_id("wheel:x:ten:\nwheel:x:10:\n", "wheel"), 10u);
}

} // namespace engine_image_groups_test
