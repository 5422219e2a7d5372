// docker's --mount grammar (runspec/mount_flag.hpp): bind and tmpfs as docker reads them, the
// keys of another type, volumes, and an unknown key refused naming it.
#include "runspec/builder.hpp"
#include "runspec/mount_flag.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <string>

namespace runspec_mount_flag_test {

namespace runspec = gantry::runspec;
using gantry::Errc;
using gantry::Error;

// The Error parse_mount_flag throws for TEXT (fails the test when there is none).
Error refused(const std::string& text) {
    try {
        runspec::parse_mount_flag(text);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << text << " was accepted";
    return Error(Errc::internal, "");
}

TEST(MountFlag, BindAsTheDevContainersCliWritesIt) {
    auto tmp = std::filesystem::temp_directory_path().string();
    auto m = runspec::parse_mount_flag("type=bind,source=" + tmp +
                                       ",target=/workspaces/x,consistency=cached");
    ASSERT_TRUE(m.bind);
    EXPECT_EQ(m.bind->source, std::filesystem::path(tmp).lexically_normal().string());
    EXPECT_EQ(m.bind->destination, "/workspaces/x");
    EXPECT_FALSE(m.bind->readonly);
    EXPECT_EQ(m.bind->propagation, "");
}

TEST(MountFlag, BindKeysAndSynonyms) {
    auto m =
        runspec::parse_mount_flag("type=bind,src=/tmp,dst=/d,readonly,bind-propagation=rslave");
    ASSERT_TRUE(m.bind);
    EXPECT_TRUE(m.bind->readonly);
    EXPECT_EQ(m.bind->propagation, "rslave");
    EXPECT_FALSE(
        runspec::parse_mount_flag("type=bind,src=/tmp,destination=/d,ro=false").bind->readonly);
    EXPECT_TRUE(
        runspec::parse_mount_flag("Type=bind,Source=/tmp,Target=/d,readonly=1").bind->readonly);
    // the propagation reaches the spec's mount options
    runspec::RunOptions o;
    o.binds.push_back(*m.bind);
    auto spec = runspec::build(nlohmann::json{{"config", {{"Cmd", {"sh"}}}}}, o);
    auto it = std::find_if(spec.mounts.begin(), spec.mounts.end(),
                           [](const auto& x) { return x.destination == "/d"; });
    ASSERT_NE(it, spec.mounts.end());
    EXPECT_NE(std::find(it->options.begin(), it->options.end(), "rslave"), it->options.end());
    EXPECT_NE(std::find(it->options.begin(), it->options.end(), "ro"), it->options.end());
}

TEST(MountFlag, TmpfsBecomesATmpfsMount) {
    auto m = runspec::parse_mount_flag("type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770");
    EXPECT_FALSE(m.bind);
    EXPECT_EQ(m.tmpfs, "/scratch:nosuid,nodev,size=67108864,mode=1770");
    EXPECT_EQ(runspec::parse_mount_flag("type=tmpfs,dst=/t,readonly").tmpfs, "/t:nosuid,nodev,ro");
}

TEST(MountFlag, NamedVolumesAreNamedAndAnonymousOnesRefused) {
    auto m = runspec::parse_mount_flag("source=cache,target=/cache"); // docker's default type
    ASSERT_TRUE(m.volume);
    EXPECT_EQ(m.volume->name, "cache");
    EXPECT_EQ(m.volume->target, "/cache");
    EXPECT_FALSE(m.volume->readonly);
    m = runspec::parse_mount_flag("type=volume,src=v1,dst=/v,ro,volume-nocopy,volume-driver=local");
    ASSERT_TRUE(m.volume);
    EXPECT_TRUE(m.volume->readonly);
    EXPECT_FALSE(m.bind);
    m = runspec::parse_mount_flag("type=volume,dst=/v"); // anonymous: no name
    ASSERT_TRUE(m.volume);
    EXPECT_EQ(m.volume->name, "");
    EXPECT_EQ(m.volume->target, "/v");
    m = runspec::parse_mount_flag("type=volume,src=v1,dst=/v,volume-label=a=b,volume-label=c");
    ASSERT_TRUE(m.volume);
    EXPECT_EQ(m.volume->labels, (std::map<std::string, std::string>{{"a", "b"}, {"c", ""}}));
    EXPECT_EQ(refused("type=volume,src=v,dst=/v,volume-label").code(), Errc::usage);
    EXPECT_EQ(refused("type=bind,src=/tmp,dst=/v,volume-label=a=b").code(), Errc::usage);
    EXPECT_EQ(refused("type=volume,src=v,dst=/v,volume-opt=type=nfs").code(), Errc::unsupported);
    EXPECT_EQ(refused("type=volume,src=v,dst=/v,volume-nocopy=false").code(), Errc::unsupported);
    EXPECT_EQ(refused("type=volume,src=v,dst=/v,volume-driver=nfs").code(), Errc::unsupported);
    EXPECT_EQ(refused("type=volume,src=/abs,dst=/v").code(), Errc::usage);
    EXPECT_NE(refused("type=bind,src=/tmp,dst=/v,volume-nocopy").message().find("volume-nocopy"),
              std::string::npos);
}

TEST(MountFlag, UnknownKeysAndValuesAreNamed) {
    auto e = refused("type=bind,src=/tmp,dst=/d,colour=blue");
    EXPECT_EQ(e.code(), Errc::usage);
    EXPECT_NE(e.message().find("\"colour\""), std::string::npos) << e.message();
    EXPECT_NE(
        refused("type=bind,src=/tmp,dst=/d,bind-propagation=sideways").message().find("sideways"),
        std::string::npos);
    EXPECT_NE(refused("type=bind,src=/tmp,dst=/d,readonly=maybe").message().find("maybe"),
              std::string::npos);
    EXPECT_NE(refused("type=bind,src=/tmp,dst=/d,consistency=eventual").message().find("eventual"),
              std::string::npos);
    EXPECT_NE(refused("type=nfs,dst=/d").message().find("nfs"), std::string::npos);
    EXPECT_NE(refused("type=tmpfs,dst=/d,tmpfs-mode=rwx").message().find("rwx"), std::string::npos);
    EXPECT_EQ(refused("type=tmpfs,dst=/d,tmpfs-size=lots").code(), Errc::usage);
}

TEST(MountFlag, KeysOfAnotherTypeAndMissingFieldsAreRefused) {
    EXPECT_NE(refused("type=tmpfs,dst=/d,bind-propagation=rshared").message().find("type=bind"),
              std::string::npos);
    EXPECT_NE(refused("type=bind,src=/tmp,dst=/d,tmpfs-size=1m").message().find("type=tmpfs"),
              std::string::npos);
    EXPECT_NE(refused("type=tmpfs,src=/tmp,dst=/d").message().find("source"), std::string::npos);
    EXPECT_NE(refused("type=bind,src=/tmp").message().find("target"), std::string::npos);
    EXPECT_NE(refused("type=bind,dst=/d").message().find("source"), std::string::npos);
    EXPECT_EQ(refused("type=bind,src=/tmp,dst=relative").code(), Errc::usage);
    EXPECT_EQ(refused("type=bind,src=/no/such/dir/here,dst=/d").code(), Errc::not_found);
    EXPECT_EQ(refused("type=bind,src=/tmp,dst=/d,bind-nonrecursive").code(), Errc::unsupported);
}

} // namespace runspec_mount_flag_test

namespace runspec_mount_flag_test {

TEST(MountFlag, FieldsAreACsvRecordAsDockerReadsThem) {
    auto dir = std::filesystem::temp_directory_path() / "gantry mount,test";
    std::filesystem::create_directories(dir);
    auto m = runspec::parse_mount_flag("type=bind,\"source=" + dir.string() +
                                       "\",target=/w,\"readonly=true\"");
    ASSERT_TRUE(m.bind);
    EXPECT_EQ(m.bind->source, dir.string());
    EXPECT_TRUE(m.bind->readonly);
    std::filesystem::remove(dir);
    EXPECT_NE(refused("type=bind,\"src=/tmp,dst=/d").message().find("not closed"),
              std::string::npos);
    EXPECT_NE(refused("type=bind,src=/t\"mp,dst=/d").message().find("quote"), std::string::npos);
    EXPECT_NE(refused("type=bind,\"src=/tmp\"x,dst=/d").message().find("after a quoted"),
              std::string::npos);
}

} // namespace runspec_mount_flag_test
