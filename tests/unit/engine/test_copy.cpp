// gantry cp's parts that need no container (engine/copy.hpp, engine/copy_tree.hpp): docker's
// rule for which argument names a container; a tree copied descriptor-relative, its links as
// links (one pointing out of the root is never followed on either side); a tar stream's names
// kept below the destination; a request kept for `gantry start` (engine/request_json.hpp).
#include "../support/temp_dir.hpp"
#include "engine/copy.hpp"
#include "engine/copy_tree.hpp"
#include "engine/request_json.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace engine_copy_test {

namespace engine = gantry::engine;
namespace stdfs = std::filesystem;
using gantry::Errc;
using gantry::Error;
using gantry::Fd;
using unit_support::TempDir;

Fd dir_fd(const stdfs::path& p) {
    return Fd(::open(p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

TEST(CopyEndpoint, DockersRuleForWhichSideIsAContainer) {
    auto c = engine::copy_endpoint("web:/etc/hosts");
    EXPECT_EQ(c.container, "web");
    EXPECT_EQ(c.path, "/etc/hosts");
    EXPECT_EQ(engine::copy_endpoint("/tmp/a:b").container, ""); // absolute: local
    EXPECT_EQ(engine::copy_endpoint("./a:b").container, "");    // begins with ".": local
    EXPECT_EQ(engine::copy_endpoint("file").container, "");
    EXPECT_EQ(engine::copy_endpoint("-").path, "-");
    EXPECT_EQ(engine::copy_endpoint("web:").path, "");
}

TEST(CopyEndpoint, ExactlyOneSideIsAContainer) {
    auto code = [](const std::string& a, const std::string& b) {
        try {
            engine::copy(a, b, {});
        } catch (const Error& e) {
            return e.code();
        }
        return Errc::internal;
    };
    EXPECT_EQ(code("/a", "/b"), Errc::usage);
    EXPECT_EQ(code("x:/a", "y:/b"), Errc::usage);
    engine::CopyOptions archive;
    archive.archive = true;
    try {
        engine::copy("x:/a", "/b", archive);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::unsupported);
    }
}

TEST(CopyTree, CopiesFilesModesAndLinksWithoutFollowingThem) {
    TempDir t("gantry-copy-tree");
    auto src = t.path / "src", dst = t.path / "dst", outside = t.path / "outside";
    stdfs::create_directories(src / "sub");
    stdfs::create_directories(dst);
    stdfs::create_directories(outside);
    gantry::fs::write_atomic(src / "sub" / "f", "data", 0750);
    stdfs::create_symlink(outside, src / "escape"); // a hostile root's link
    auto s = dir_fd(t.path), d = dir_fd(dst);
    engine::copy_tree(s.get(), "src", d.get(), "copy", false);
    EXPECT_EQ(gantry::fs::read_file(dst / "copy" / "sub" / "f"), "data");
    EXPECT_EQ(stdfs::status(dst / "copy" / "sub" / "f").permissions() & stdfs::perms::all,
              stdfs::perms(0750));
    EXPECT_TRUE(stdfs::is_symlink(dst / "copy" / "escape"));
    EXPECT_EQ(stdfs::read_symlink(dst / "copy" / "escape"), outside);
    // written into a tree whose "escape" is a link out: the link is replaced, not followed
    gantry::fs::write_atomic(t.path / "x", "new", 0644);
    Fd copy = dir_fd(dst / "copy");
    engine::copy_tree(s.get(), "x", copy.get(), "escape", false);
    EXPECT_FALSE(stdfs::is_symlink(dst / "copy" / "escape"));
    EXPECT_TRUE(stdfs::is_empty(outside));
    // a directory onto a file is refused
    EXPECT_THROW(engine::copy_tree(s.get(), "src", copy.get(), "escape", false), Error);
}

TEST(CopyTree, ATarStreamStaysBelowItsDestination) {
    TempDir t("gantry-copy-tar");
    auto src = t.path / "src", dst = t.path / "dst", outside = t.path / "outside";
    stdfs::create_directories(src / "d");
    stdfs::create_directories(dst);
    stdfs::create_directories(outside);
    gantry::fs::write_atomic(src / "d" / "f", "tarred", 0644);
    stdfs::create_symlink(outside, src / "link");
    auto tar = t.path / "s.tar";
    {
        Fd out(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        auto s = dir_fd(t.path);
        engine::write_tar(s.get(), "src", "top", out.get(), false);
    }
    {
        Fd in(::open(tar.c_str(), O_RDONLY | O_CLOEXEC));
        auto d = dir_fd(dst);
        engine::extract_tar_into(in.get(), d.get(), "s.tar");
    }
    EXPECT_EQ(gantry::fs::read_file(dst / "top" / "d" / "f"), "tarred");
    EXPECT_TRUE(stdfs::is_symlink(dst / "top" / "link"));
    // a second stream writing through the link it made: refused, nothing written outside
    {
        auto s2 = t.path / "s2";
        stdfs::create_directories(s2 / "link");
        gantry::fs::write_atomic(s2 / "link" / "pwned", "x", 0644);
        Fd out(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        auto s = dir_fd(s2);
        engine::write_tar(s.get(), "link", "top/link", out.get(), false);
    }
    Fd in(::open(tar.c_str(), O_RDONLY | O_CLOEXEC));
    auto d = dir_fd(dst);
    try {
        engine::extract_tar_into(in.get(), d.get(), "s.tar");
        ADD_FAILURE() << "a name through a link was followed";
    } catch (const Error& e) { // the link is not a directory to write into
        EXPECT_TRUE(e.code() == Errc::invalid || e.code() == Errc::conflict) << e.message();
    }
    EXPECT_TRUE(stdfs::is_empty(outside));
}

TEST(RequestJson, RoundTripsAndRefusesUnknownFields) {
    engine::RunRequest r;
    r.image = "busybox";
    r.command = {"sh", "-c", "exit 3"};
    r.env = {"A=1"};
    r.gpus = "all";
    r.tls_verify = false;
    r.stop_timeout = 4;
    r.gpu_roots.more["--x-root"] = "/x";
    auto back = engine::request_from_json(engine::request_to_json(r), "request.json");
    EXPECT_EQ(engine::request_to_json(back), engine::request_to_json(r));
    EXPECT_EQ(back.gpus, "all");
    EXPECT_EQ(back.tls_verify, false);
    auto j = engine::request_to_json(r);
    j["future"] = 1;
    EXPECT_THROW(engine::request_from_json(j, "request.json"), Error);
    j = engine::request_to_json(r);
    j["env"] = "A=1";
    try {
        engine::request_from_json(j, "request.json");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("\"env\""), std::string::npos);
    }
}

TEST(RequestJson, PersistableFixesWhatDependsOnTheCallersPlace) {
    TempDir t("gantry-request");
    gantry::fs::write_atomic(t.path / "env", "FROM_FILE=1\n", 0644);
    ::setenv("GANTRY_TEST_HOST_VALUE", "v", 1);
    engine::RunRequest r;
    r.image = "./img.sqsh";
    r.env = {"GANTRY_TEST_HOST_VALUE", "GANTRY_TEST_UNSET_VALUE", "B=2"};
    r.env_files = {"env"};
    r.volumes = {"./data:/data:ro", "/abs:/abs"};
    r.cidfile = "cid";
    r.pull = "always";
    auto p = engine::persistable(r, t.path, {{"k", "v"}});
    EXPECT_EQ(p.image, (t.path / "img.sqsh").string());
    EXPECT_EQ(p.env, (std::vector<std::string>{"FROM_FILE=1", "GANTRY_TEST_HOST_VALUE=v", "B=2"}));
    EXPECT_TRUE(p.env_files.empty());
    EXPECT_EQ(p.volumes[0], (t.path / "data").string() + ":/data:ro");
    EXPECT_EQ(p.volumes[1], "/abs:/abs");
    EXPECT_EQ(p.labels, std::vector<std::string>{"k=v"});
    EXPECT_TRUE(p.cidfile.empty());
    EXPECT_EQ(p.pull, "never");
    EXPECT_TRUE(p.detach);
    r.mounts = {"type=bind,source=./x,target=/x"};
    EXPECT_THROW(engine::persistable(r, t.path, {}), Error);
}

} // namespace engine_copy_test
