// layer::extract_tar against hostile and special input: names and links that try to leave the
// layer, whiteouts and xattrs, set-id bits and owners, and corrupt or failing sources.
#include "extract_test_support.hpp"
#include "layer/extract.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace layer_extract_hostile_test {

using namespace layer_extract_test;
using gantry::Errc;
using gantry::Error;
using gantry::layer::extract_tar;
using gantry::layer::ExtractOptions;
using gantry::layer::ExtractStats;
namespace stdfs = std::filesystem;

namespace {

struct Failure {
    Errc code;
    std::string message;
};

std::optional<Failure> extract_failure(const std::string& tar, int root_fd) {
    try {
        extract(tar, root_fd);
    } catch (const Error& e) {
        return Failure{e.code(), e.message()};
    }
    return std::nullopt;
}

std::optional<std::string> xattr_of(const stdfs::path& p, const char* name) {
    char buf[256];
    ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace

// --- hostile entries -------------------------------------------------------------------------

TEST(Extract, DotDotRefused) {
    for (const char* name : {"../sibling/evil", "a/../../sibling/evil", "../evil", "x/.."}) {
        SCOPED_TRACE(name);
        Sandbox sb;
        std::string tar = Tar().file("ok", "fine").file(name, "pwned").str();
        auto f = extract_failure(tar, sb.root_fd());
        ASSERT_TRUE(f);
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "..")) << f->message;
        EXPECT_TRUE(contains(f->message, name)) << f->message;
        EXPECT_TRUE(contains(f->message, "layer test")) << f->message;
        sb.expect_outside_untouched();
    }
    // Also as a directory and a symlink name.
    Sandbox sb;
    auto f = extract_failure(Tar().dir("../sibling/newdir").str(), sb.root_fd());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    f = extract_failure(Tar().symlink("../sibling/l", "/").str(), sb.root_fd());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    sb.expect_outside_untouched();
}

TEST(Extract, AbsoluteNamesContained) {
    Sandbox sb;
    // An absolute name that spells the real path of a directory outside the layer.
    std::string outside = (sb.top() / "sibling" / "abs-evil").string();
    std::string tar = Tar()
                          .file(outside, "contained")
                          .dir("/etc-like", perm(0755))
                          .file("/etc-like/passwd", "root:x:0:0")
                          .str();
    extract(tar, sb.root_fd());
    EXPECT_EQ(slurp(sb.root() / outside.substr(1)), "contained");
    EXPECT_EQ(slurp(sb.root() / "etc-like/passwd"), "root:x:0:0");
    sb.expect_outside_untouched();
}

TEST(Extract, HardLinkOutsideRefused) {
    struct Case {
        const char* what;
        std::function<void(Tar&)> build;
    };
    const Case cases[] = {
        {"dotdot", [](Tar& t) { t.hardlink("h", "../sibling/keep.txt"); }},
        {"missing absolute", [](Tar& t) { t.hardlink("h", "/etc/passwd"); }},
        {"missing", [](Tar& t) { t.hardlink("h", "nope"); }},
        {"empty target", [](Tar& t) { t.hardlink("h", "./"); }},
        {"directory", [](Tar& t) { t.dir("d").hardlink("h", "d"); }},
        {"through a symlink",
         [](Tar& t) { t.file("real/f", "x").symlink("l", "real").hardlink("h", "l/f"); }},
        {"through a symlink to /",
         [](Tar& t) { t.symlink("l", "/").hardlink("h", "l/etc/passwd"); }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        Sandbox sb;
        Tar t;
        c.build(t);
        auto f = extract_failure(t.str(), sb.root_fd());
        ASSERT_TRUE(f);
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "\"h\"")) << f->message;
        EXPECT_TRUE(contains(f->message, "hard link")) << f->message;
        EXPECT_FALSE(present(sb.root() / "h"));
        sb.expect_outside_untouched();
    }
    // A symlink inside the layer that points at the real sibling does not help either.
    Sandbox sb;
    std::string tar =
        Tar().symlink("l", (sb.top() / "sibling").string()).hardlink("h", "l/keep.txt").str();
    auto f = extract_failure(tar, sb.root_fd());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    sb.expect_outside_untouched();
}

TEST(Extract, SymlinkParentEscapeRefused) {
    {
        Sandbox sb;
        std::string tar = Tar().symlink("l", "/nonexistent-outside").file("l/x", "pwned").str();
        auto f = extract_failure(tar, sb.root_fd());
        ASSERT_TRUE(f);
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "l/x")) << f->message;
        EXPECT_FALSE(present("/nonexistent-outside"));
        EXPECT_FALSE(present(sb.root() / "nonexistent-outside"));
        EXPECT_TRUE(S_ISLNK(lstat_of(sb.root() / "l").st_mode));
        sb.expect_outside_untouched();
    }
    // Symlinks aimed at the real sibling directory, absolutely and relatively, as parents of
    // files, directories, symlinks and hard links.
    for (int kind = 0; kind < 4; ++kind) {
        for (bool absolute : {true, false}) {
            SCOPED_TRACE(std::to_string(kind) + (absolute ? " absolute" : " relative"));
            Sandbox sb;
            std::string target =
                absolute ? (sb.top() / "sibling").string() : std::string("../sibling");
            Tar t;
            t.file("src", "s").symlink("l", target);
            if (kind == 0) t.file("l/evil", "pwned");
            if (kind == 1) t.dir("l/evil");
            if (kind == 2) t.symlink("l/evil", "/");
            if (kind == 3) t.hardlink("l/evil", "src");
            auto f = extract_failure(t.str(), sb.root_fd());
            ASSERT_TRUE(f);
            EXPECT_EQ(f->code, Errc::invalid);
            sb.expect_outside_untouched();
        }
    }
    // A deeper path below the dangling symlink.
    Sandbox sb;
    auto f =
        extract_failure(Tar().symlink("l", "/missing").file("l/a/b/c", "x").str(), sb.root_fd());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_FALSE(present("/missing"));
    sb.expect_outside_untouched();
}

TEST(Extract, SymlinkChainsToRootAreContained) {
    Sandbox sb;
    std::string tar = Tar()
                          .symlink("up", "../../../../../..")
                          .symlink("up2", "up/..")
                          .symlink("rootlink", "/")
                          .symlink("hop", "rootlink/up2")
                          .file("up2/x/file", "via up2")
                          .file("rootlink/y", "via rootlink")
                          .file("hop/z", "via hop")
                          .dir("up/dir", perm(0700))
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "x/file"), "via up2");
    EXPECT_EQ(slurp(r / "y"), "via rootlink");
    EXPECT_EQ(slurp(r / "z"), "via hop");
    EXPECT_TRUE(S_ISDIR(lstat_of(r / "dir").st_mode));
    EXPECT_TRUE(S_ISLNK(lstat_of(r / "up").st_mode));
    EXPECT_FALSE(present(sb.top() / "x"));
    EXPECT_FALSE(present(sb.top() / "y"));
    EXPECT_FALSE(present(sb.top() / "z"));
    EXPECT_FALSE(present(sb.top() / "dir"));
    sb.expect_outside_untouched();
}

TEST(Extract, LeafSymlinkIsReplacedNotFollowed) {
    // A file entry whose name is an existing symlink to outside replaces the symlink.
    Sandbox sb;
    std::string keep = (sb.top() / "sibling/keep.txt").string();
    std::string tar = Tar()
                          .symlink("victim", keep)
                          .file("victim", "replaced")
                          .symlink("victim2", "../sibling/keep.txt")
                          .file("victim2", "replaced too")
                          .str();
    extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISREG(lstat_of(sb.root() / "victim").st_mode));
    EXPECT_EQ(slurp(sb.root() / "victim"), "replaced");
    EXPECT_EQ(slurp(sb.root() / "victim2"), "replaced too");
    sb.expect_outside_untouched();
}

// --- whiteouts and xattrs --------------------------------------------------------------------

TEST(Extract, Whiteouts) {
    Sandbox sb;
    std::string tar = Tar()
                          .whiteout(".wh.foo")
                          .dir("dir")
                          .file("dir/bar", "will be whited out")
                          .whiteout("dir/.wh.bar")
                          .whiteout("deep/er/.wh.baz")
                          .str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_EQ(st.whiteouts, 3u);
    for (const char* n : {"foo", "dir/bar", "deep/er/baz"}) {
        struct stat s = lstat_of(sb.root() / n);
        EXPECT_TRUE(S_ISCHR(s.st_mode)) << n;
        EXPECT_EQ(s.st_rdev, makedev(0, 0)) << n;
    }
    EXPECT_FALSE(present(sb.root() / ".wh.foo"));
    EXPECT_FALSE(present(sb.root() / "dir/.wh.bar"));
}

TEST(Extract, MalformedWhiteoutsRefused) {
    for (const char* name : {".wh.", "d/.wh..wh.foo", ".wh..wh.plnk"}) {
        SCOPED_TRACE(name);
        Sandbox sb;
        auto f = extract_failure(Tar().whiteout(name).str(), sb.root_fd());
        ASSERT_TRUE(f);
        EXPECT_EQ(f->code, Errc::invalid);
        EXPECT_TRUE(contains(f->message, "whiteout")) << f->message;
    }
}

TEST(Extract, OpaqueDirectories) {
    Sandbox sb;
    std::string tar = Tar()
                          .dir("d")
                          .file("d/keep", "k")
                          .whiteout("d/.wh..wh..opq")
                          .whiteout(".wh..wh..opq")
                          .whiteout("new/sub/.wh..wh..opq")
                          .str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_EQ(st.whiteouts, 3u);
    EXPECT_EQ(xattr_of(sb.root() / "d", "user.overlay.opaque"), "y");
    EXPECT_EQ(xattr_of(sb.root(), "user.overlay.opaque"), "y");
    EXPECT_EQ(xattr_of(sb.root() / "new/sub", "user.overlay.opaque"), "y");
    EXPECT_FALSE(xattr_of(sb.root() / "new", "user.overlay.opaque"));
    EXPECT_FALSE(present(sb.root() / "d/.wh..wh..opq"));
    EXPECT_EQ(slurp(sb.root() / "d/keep"), "k"); // opaque hides lower layers, not this one
}

TEST(Extract, HostileXattrsDropped) {
    Sandbox sb;
    Tar::Opts fo;
    fo.uid = 1000;
    fo.gid = 1001;
    fo.xattrs = {{"user.overlay.opaque", "y"},    {"user.overlay.redirect", "/etc"},
                 {"user.gantry.owner", "0:0"},    {"trusted.overlay.opaque", "y"},
                 {"security.capability", "xxxx"}, {"user.keep", "kept"}};
    Tar::Opts dop = fo;
    dop.perm = 0755;
    std::string tar = Tar().file("f", "data", fo).dir("d", dop).str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_EQ(st.dropped_xattrs, 10u); // five per entry
    for (const char* n : {"f", "d"}) {
        SCOPED_TRACE(n);
        auto p = sb.root() / n;
        EXPECT_FALSE(xattr_of(p, "user.overlay.opaque"));
        EXPECT_FALSE(xattr_of(p, "user.overlay.redirect"));
        EXPECT_FALSE(xattr_of(p, "trusted.overlay.opaque"));
        EXPECT_FALSE(xattr_of(p, "security.capability"));
        EXPECT_EQ(xattr_of(p, "user.keep"), "kept");
        // The owner record is gantry's, not the archive's.
        EXPECT_EQ(xattr_of(p, "user.gantry.owner"), "1000:1001");
    }
}
// --- set-id bits ----------------------------------------------------------------------------

TEST(Extract, SetIdBitsStrippedUnlessPrivileged) {
    std::string tar = Tar()
                          .file("suid", "s", perm(04755))
                          .file("sgid", "g", perm(02755))
                          .file("both", "b", perm(06711))
                          .file("sticky", "t", perm(01644))
                          .dir("shared", perm(02775))
                          .str();
    {
        Sandbox sb;
        ExtractStats st = extract(tar, sb.root_fd(), false);
        EXPECT_EQ(st.stripped_setid, 3u);
        EXPECT_EQ(lstat_of(sb.root() / "suid").st_mode & 07777, 0755u);
        EXPECT_EQ(lstat_of(sb.root() / "sgid").st_mode & 07777, 0755u);
        EXPECT_EQ(lstat_of(sb.root() / "both").st_mode & 07777, 0711u);
        EXPECT_EQ(lstat_of(sb.root() / "sticky").st_mode & 07777, 01644u);
        EXPECT_EQ(lstat_of(sb.root() / "shared").st_mode & 07777, 02775u);
    }
    if (::geteuid() == 0) {
        Sandbox sb;
        ExtractStats st = extract(tar, sb.root_fd(), true);
        EXPECT_EQ(st.stripped_setid, 0u);
        EXPECT_EQ(lstat_of(sb.root() / "suid").st_mode & 07777, 04755u);
        EXPECT_EQ(lstat_of(sb.root() / "sgid").st_mode & 07777, 02755u);
        EXPECT_EQ(lstat_of(sb.root() / "both").st_mode & 07777, 06711u);
    }
}

TEST(Extract, PrivilegedAppliesOwners) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    Sandbox sb;
    Tar::Opts o;
    o.uid = 1234;
    o.gid = 5678;
    Tar::Opts d = o;
    d.perm = 0755;
    std::string tar = Tar().file("f", "x", o).dir("d", d).symlink("l", "f", o).str();
    extract(tar, sb.root_fd(), true);
    for (const char* n : {"f", "d", "l"}) {
        struct stat s = lstat_of(sb.root() / n);
        EXPECT_EQ(s.st_uid, 1234u) << n;
        EXPECT_EQ(s.st_gid, 5678u) << n;
    }
    EXPECT_FALSE(xattr_of(sb.root() / "f", "user.gantry.owner"));
}

// --- corrupt input ---------------------------------------------------------------------------

TEST(Extract, NotATarArchive) {
    Sandbox sb;
    std::string junk(4096, '\x5a');
    auto f = extract_failure(junk, sb.root_fd());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "layer test")) << f->message;
}

TEST(Extract, TruncatedTar) {
    Sandbox sb;
    std::string tar = Tar().file("a", std::string(100000, 'a')).file("b", "b").str();
    auto f = extract_failure(tar.substr(0, 50000), sb.root_fd());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, Errc::invalid);
    EXPECT_TRUE(contains(f->message, "layer test")) << f->message;
}

TEST(Extract, ReaderErrorsPropagate) {
    Sandbox sb;
    ThrowingReader r;
    ExtractOptions opt;
    opt.what = "layer test";
    try {
        extract_tar(r, sb.root_fd(), opt);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::io);
        EXPECT_TRUE(contains(e.message(), "the source went away")) << e.message();
    }
}
} // namespace layer_extract_hostile_test
