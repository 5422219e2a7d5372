// Safe layer extraction (layer::extract_tar) and the one-pass unpack (layer::unpack_layer).
// Tar streams are built in memory with libarchive's writer (pax format).
#include "extract_helpers.hpp"
#include "layer/extract.hpp"
#include "layer/stream.hpp"
#include "layer/unpack.hpp"
#include "oci/digest.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace layer_extract_test {

using namespace extract_test;
using gantry::Errc;
using gantry::Error;
using gantry::Fd;
using gantry::layer::extract_tar;
using gantry::layer::ExtractOptions;
using gantry::layer::ExtractStats;
using gantry::layer::normalize_entry_path;
using gantry::layer::Reader;
using gantry::layer::unpack_layer;
using gantry::oci::Compression;
using gantry::oci::Digest;
namespace stdfs = std::filesystem;

namespace {

ExtractStats extract(const std::string& tar, int root_fd, bool privileged = false,
                     std::size_t chunk = 1 << 20) {
    StringReader r(tar, chunk);
    ExtractOptions opt;
    opt.what = "layer test";
    opt.privileged = privileged;
    return extract_tar(r, root_fd, opt);
}

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

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::string slurp(const stdfs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

struct stat lstat_of(const stdfs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) ADD_FAILURE() << "lstat " << p << ": " << strerror(errno);
    return st;
}

bool present(const stdfs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

std::optional<std::string> xattr_of(const stdfs::path& p, const char* name) {
    char buf[256];
    ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
}

// Runs f in a child process as uid/gid 65534 (nobody); returns "" on success or the error.
std::string as_nobody(const std::function<void()>& f) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        ::close(pipefd[0]);
        std::string err;
        try {
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
                throw std::runtime_error("cannot drop privileges");
            f();
        } catch (const Error& e) {
            err = "Error: " + e.message();
        } catch (const std::exception& e) {
            err = e.what();
        }
        if (!err.empty()) (void)!::write(pipefd[1], err.data(), err.size());
        ::_exit(err.empty() ? 0 : 1);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return out.empty() ? "child failed (status " + std::to_string(status) + ")" : out;
    return "";
}

std::string run_filter(const std::string& cmd, const std::string& data) {
    std::string tmpl = (stdfs::temp_directory_path() / "gantry-filter-XXXXXX").string();
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    gantry::fs::write_all(fd, data.data(), data.size(), tmpl);
    ::close(fd);
    std::string full = cmd + " < '" + tmpl + "'";
    FILE* p = ::popen(full.c_str(), "r");
    std::string out;
    char buf[65536];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int rc = ::pclose(p);
    ::unlink(tmpl.c_str());
    if (rc != 0) throw std::runtime_error("command failed: " + full);
    return out;
}

} // namespace

// --- normalize_entry_path --------------------------------------------------------------------

TEST(NormalizeEntryPath, Cases) {
    using V = std::vector<std::string>;
    struct Case {
        std::string in;
        bool ok;
        V out;
    };
    const Case cases[] = {
        {"a", true, {"a"}},
        {"a/b/c", true, {"a", "b", "c"}},
        {"./a/b", true, {"a", "b"}},
        {"/a/b", true, {"a", "b"}},
        {"///a//b///", true, {"a", "b"}},
        {"a/./b/.", true, {"a", "b"}},
        {"dir/", true, {"dir"}},
        {"./", true, {}},
        {".", true, {}},
        {"/", true, {}},
        {"", true, {}},
        {"..", false, {}},
        {"../a", false, {}},
        {"a/..", false, {}},
        {"a/../b", false, {}},
        {"/../etc/passwd", false, {}},
        {"./a/../../b", false, {}},
        {"..a/b..", true, {"..a", "b.."}},
        {"...", true, {"..."}},
        {".wh..wh..opq", true, {".wh..wh..opq"}},
        {"a/.hidden", true, {"a", ".hidden"}},
    };
    for (const auto& c : cases) {
        V out{"stale"};
        bool ok = normalize_entry_path(c.in, out);
        EXPECT_EQ(ok, c.ok) << "\"" << c.in << "\"";
        if (c.ok) {
            EXPECT_EQ(out, c.out) << "\"" << c.in << "\"";
        }
    }
}

// --- regular content -------------------------------------------------------------------------

TEST(Extract, FilesDirsModesAndMtimes) {
    Sandbox sb;
    std::string big(300000, 'z');
    std::string tar = Tar()
                          .dir("bin", perm(0750, 1500000000))
                          .file("bin/tool", "#!/bin/sh\n", perm(0755, 1400000000))
                          .file("a.txt", "hello", perm(0640, 1300000000))
                          .file("empty", "", perm(0600))
                          .file("big", big, perm(0444))
                          .file("implicit/parent/f", "x")
                          .str();
    ExtractStats st = extract(tar, sb.root_fd(), false, 4093);
    EXPECT_EQ(st.entries, 6u);
    EXPECT_EQ(st.files, 5u);
    EXPECT_EQ(st.dirs, 1u);
    EXPECT_EQ(st.bytes, 10u + 5u + big.size() + 1u);

    auto r = sb.root();
    EXPECT_EQ(slurp(r / "bin/tool"), "#!/bin/sh\n");
    EXPECT_EQ(slurp(r / "a.txt"), "hello");
    EXPECT_EQ(slurp(r / "big"), big);
    EXPECT_EQ(slurp(r / "implicit/parent/f"), "x");
    EXPECT_TRUE(S_ISREG(lstat_of(r / "empty").st_mode));
    EXPECT_EQ(lstat_of(r / "empty").st_size, 0);

    EXPECT_EQ(lstat_of(r / "bin/tool").st_mode & 07777, 0755u);
    EXPECT_EQ(lstat_of(r / "a.txt").st_mode & 07777, 0640u);
    EXPECT_EQ(lstat_of(r / "empty").st_mode & 07777, 0600u);
    EXPECT_EQ(lstat_of(r / "big").st_mode & 07777, 0444u);
    EXPECT_EQ(lstat_of(r / "bin").st_mode & 07777, 0750u);
    EXPECT_TRUE(S_ISDIR(lstat_of(r / "implicit/parent").st_mode));
    EXPECT_EQ(lstat_of(r / "implicit/parent").st_mode & 07777, 0755u);

    EXPECT_EQ(lstat_of(r / "bin/tool").st_mtime, 1400000000);
    EXPECT_EQ(lstat_of(r / "a.txt").st_mtime, 1300000000);
    // The directory's mtime survives the creation of its children.
    EXPECT_EQ(lstat_of(r / "bin").st_mtime, 1500000000);
    sb.expect_outside_untouched();
}

TEST(Extract, LayerRootEntry) {
    Sandbox sb;
    std::string tar = Tar().dir("./", perm(0750, 1234567890)).file("./f", "1").str();
    extract(tar, sb.root_fd());
    EXPECT_EQ(slurp(sb.root() / "f"), "1");
    EXPECT_EQ(lstat_of(sb.root()).st_mode & 07777, 0750u);
    EXPECT_EQ(lstat_of(sb.root()).st_mtime, 1234567890);
}

TEST(Extract, RestrictiveDirModesAppliedAfterChildren) {
    Sandbox sb;
    std::string tar = Tar()
                          .dir("ro", perm(0555, 1000))
                          .file("ro/f", "in a read-only dir", perm(0444))
                          .dir("ro/sub", perm(0500, 2000))
                          .file("ro/sub/g", "deeper")
                          .dir("locked", perm(0000, 3000))
                          .file("locked/h", "h")
                          .whiteout("ro/.wh.gone")
                          .str();
    // As an unprivileged user, permissions are enforced: a mode applied too early would make
    // the children impossible to create.
    ASSERT_EQ(::chown(sb.top().c_str(), 65534, 65534), 0);
    ASSERT_EQ(::chown(sb.root().c_str(), 65534, 65534), 0);
    std::string err = as_nobody([&] {
        Fd root(::open(sb.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root) throw std::runtime_error("cannot open root as nobody");
        extract(tar, root.get());
    });
    ASSERT_EQ(err, "");
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "ro/f"), "in a read-only dir");
    EXPECT_EQ(slurp(r / "ro/sub/g"), "deeper");
    EXPECT_EQ(slurp(r / "locked/h"), "h");
    EXPECT_EQ(lstat_of(r / "ro").st_mode & 07777, 0555u);
    EXPECT_EQ(lstat_of(r / "ro/sub").st_mode & 07777, 0500u);
    EXPECT_EQ(lstat_of(r / "locked").st_mode & 07777, 0000u);
    EXPECT_EQ(lstat_of(r / "ro").st_mtime, 1000);
    EXPECT_EQ(lstat_of(r / "ro/sub").st_mtime, 2000);
    EXPECT_EQ(lstat_of(r / "locked").st_mtime, 3000);
    struct stat wh = lstat_of(r / "ro/gone");
    EXPECT_TRUE(S_ISCHR(wh.st_mode));
    EXPECT_EQ(wh.st_rdev, makedev(0, 0));
    EXPECT_EQ(lstat_of(r / "ro/f").st_uid, 65534u);
}

TEST(Extract, SymlinksAndHardLinks) {
    Sandbox sb;
    std::string tar = Tar()
                          .file("a", "content", perm(0600))
                          .symlink("rel", "a", perm(0777, 1111))
                          .symlink("abs", "/etc/passwd")
                          .symlink("dangling", "no/such/thing")
                          .hardlink("b", "a")
                          .hardlink("/c", "/a") // absolute names are made relative
                          .dir("d")
                          .hardlink("d/e", "./a")
                          .str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_EQ(st.symlinks, 3u);
    EXPECT_EQ(st.hardlinks, 3u);
    auto r = sb.root();
    EXPECT_EQ(stdfs::read_symlink(r / "rel"), "a");
    EXPECT_EQ(stdfs::read_symlink(r / "abs"), "/etc/passwd");
    EXPECT_EQ(stdfs::read_symlink(r / "dangling"), "no/such/thing");
    EXPECT_EQ(lstat_of(r / "rel").st_mtime, 1111);
    struct stat a = lstat_of(r / "a");
    EXPECT_EQ(a.st_nlink, 4u);
    for (const char* n : {"b", "c", "d/e"}) {
        struct stat s = lstat_of(r / n);
        EXPECT_EQ(s.st_ino, a.st_ino) << n;
        EXPECT_EQ(s.st_dev, a.st_dev) << n;
    }
    EXPECT_EQ(slurp(r / "d/e"), "content");
    sb.expect_outside_untouched();
}

TEST(Extract, HardLinkToSymlinkLinksTheSymlinkItself) {
    Sandbox sb;
    std::string tar = Tar().symlink("s", "/etc/passwd").hardlink("h", "s").str();
    extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISLNK(lstat_of(sb.root() / "h").st_mode));
    EXPECT_EQ(stdfs::read_symlink(sb.root() / "h"), "/etc/passwd");
}

TEST(Extract, FifoAndDevices) {
    Sandbox sb;
    std::string tar = Tar().fifo("pipe").chardev("null", 1, 3).str();
    ExtractStats st = extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISFIFO(lstat_of(sb.root() / "pipe").st_mode));
    // Device nodes need privilege: skipped and counted otherwise.
    EXPECT_FALSE(present(sb.root() / "null"));
    EXPECT_EQ(st.skipped_devices, 1u);

    Sandbox sb2;
    st = extract(tar, sb2.root_fd(), true);
    struct stat dev = lstat_of(sb2.root() / "null");
    EXPECT_TRUE(S_ISCHR(dev.st_mode));
    EXPECT_EQ(dev.st_rdev, makedev(1, 3));
    EXPECT_EQ(st.skipped_devices, 0u);
}

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

// --- replacement rules -----------------------------------------------------------------------

TEST(Extract, ReplacementRules) {
    Sandbox sb;
    std::string tar = Tar()
                          // a directory (with content) replaced by a file
                          .dir("x", perm(0555))
                          .file("x/child", "c")
                          .dir("x/sub")
                          .file("x/sub/grandchild", "g")
                          .file("x", "now a file", perm(0600))
                          // a file replaced by a directory
                          .file("y", "was a file")
                          .dir("y", perm(0711))
                          .file("y/z", "inside")
                          // a symlink replaced by a directory: the new one is real
                          .dir("target")
                          .symlink("s", "target")
                          .dir("s", perm(0700))
                          .file("s/in-s", "1")
                          // a file replaced by a symlink, a symlink by a file
                          .file("f2s", "file")
                          .symlink("f2s", "y")
                          .symlink("s2f", "y")
                          .file("s2f", "file again")
                          // a file replaced by a file
                          .file("twice", "first", perm(0600))
                          .file("twice", "second", perm(0644))
                          // an existing directory is kept when a directory entry comes again
                          .dir("kept")
                          .file("kept/child", "still here")
                          .dir("kept")
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_TRUE(S_ISREG(lstat_of(r / "x").st_mode));
    EXPECT_EQ(slurp(r / "x"), "now a file");
    EXPECT_EQ(lstat_of(r / "x").st_mode & 07777, 0600u);

    EXPECT_TRUE(S_ISDIR(lstat_of(r / "y").st_mode));
    EXPECT_EQ(lstat_of(r / "y").st_mode & 07777, 0711u);
    EXPECT_EQ(slurp(r / "y/z"), "inside");

    EXPECT_TRUE(S_ISDIR(lstat_of(r / "s").st_mode));
    EXPECT_EQ(slurp(r / "s/in-s"), "1");
    EXPECT_FALSE(present(r / "target/in-s"));

    EXPECT_TRUE(S_ISLNK(lstat_of(r / "f2s").st_mode));
    EXPECT_TRUE(S_ISREG(lstat_of(r / "s2f").st_mode));
    EXPECT_EQ(slurp(r / "s2f"), "file again");
    EXPECT_EQ(slurp(r / "twice"), "second");
    EXPECT_EQ(lstat_of(r / "twice").st_mode & 07777, 0644u);
    EXPECT_EQ(slurp(r / "kept/child"), "still here");
}

TEST(Extract, DirectoryReplacedByFileThenRecreated) {
    Sandbox sb;
    std::string tar = Tar()
                          .dir("d", perm(0700))
                          .file("d/old", "o")
                          .file("d", "file")
                          .dir("d", perm(0750))
                          .file("d/new", "n")
                          .str();
    extract(tar, sb.root_fd());
    EXPECT_TRUE(S_ISDIR(lstat_of(sb.root() / "d").st_mode));
    EXPECT_FALSE(present(sb.root() / "d/old"));
    EXPECT_EQ(slurp(sb.root() / "d/new"), "n");
    EXPECT_EQ(lstat_of(sb.root() / "d").st_mode & 07777, 0750u);
}

TEST(Extract, RepeatedDirectoryEntryLastWins) {
    // As with tar(1) and docker: the metadata of the last entry for a path applies.
    Sandbox sb;
    std::string tar =
        Tar().dir("d", perm(0700, 1000)).file("d/f", "x").dir("d", perm(0755, 2000)).str();
    extract(tar, sb.root_fd());
    EXPECT_EQ(lstat_of(sb.root() / "d").st_mode & 07777, 0755u);
    EXPECT_EQ(lstat_of(sb.root() / "d").st_mtime, 2000);
}

TEST(Extract, SymlinkReplacedByDirectory) {
    // A parent directory resolved through a symlink must not be reused once the symlink is gone.
    Sandbox sb;
    std::string tar = Tar()
                          .dir("real")
                          .dir("other")
                          .symlink("l", "real")
                          .file("l/x", "through the symlink")
                          .dir("l", perm(0755))
                          .file("l/y", "in the new directory")
                          .symlink("m", "real")
                          .file("m/p", "p")
                          .symlink("m", "other")
                          .file("m/q", "q")
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "real/x"), "through the symlink");
    EXPECT_TRUE(S_ISDIR(lstat_of(r / "l").st_mode));
    EXPECT_EQ(slurp(r / "l/y"), "in the new directory");
    EXPECT_FALSE(present(r / "real/y"));
    EXPECT_EQ(slurp(r / "real/p"), "p");
    EXPECT_EQ(slurp(r / "other/q"), "q");
    EXPECT_FALSE(present(r / "real/q"));
}

TEST(Extract, DirectoryEntryBelowSymlinkGetsItsMode) {
    // "l/sub" names real/sub through the in-layer symlink l; its mode and mtime still apply.
    Sandbox sb;
    std::string tar = Tar()
                          .dir("real")
                          .symlink("l", "real")
                          .dir("l/sub", perm(0550, 4242))
                          .file("l/sub/f", "f")
                          .str();
    extract(tar, sb.root_fd());
    auto r = sb.root();
    EXPECT_EQ(slurp(r / "real/sub/f"), "f");
    EXPECT_EQ(lstat_of(r / "real/sub").st_mode & 07777, 0550u);
    EXPECT_EQ(lstat_of(r / "real/sub").st_mtime, 4242);
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

// --- unpack_layer ----------------------------------------------------------------------------

namespace {
std::string sample_tar() {
    return Tar()
        .dir("etc")
        .file("etc/hostname", "gantry\n")
        .file("bin/sh", std::string(50000, '\x7f'), perm(0755))
        .symlink("usr/bin/sh", "/bin/sh")
        .str();
}
} // namespace

TEST(UnpackLayer, PlainHashOnly) {
    std::string tar = sample_tar();
    StringReader src(tar, 1000);
    ExtractOptions opt;
    opt.what = "layer plain";
    auto r = unpack_layer(src, -1, -1, opt);
    EXPECT_EQ(r.compression, Compression::none);
    EXPECT_EQ(r.blob_hex, Digest::of(tar).hex());
    EXPECT_EQ(r.diff_hex, Digest::of(tar).hex());
    EXPECT_EQ(r.blob_size, tar.size());
    EXPECT_EQ(r.diff_size, tar.size());
    EXPECT_EQ(r.stats.entries, 0u);
}

TEST(UnpackLayer, GzipAndZstdHashOnly) {
    std::string tar = sample_tar();
    for (const char* cmd : {"gzip -c -n", "zstd -q -c"}) {
        SCOPED_TRACE(cmd);
        std::string blob = run_filter(cmd, tar);
        StringReader src(blob, 777);
        ExtractOptions opt;
        opt.what = "layer compressed";
        auto r = unpack_layer(src, -1, -1, opt);
        EXPECT_EQ(r.compression, cmd[0] == 'g' ? Compression::gzip : Compression::zstd);
        EXPECT_EQ(r.blob_hex, Digest::of(blob).hex());
        EXPECT_EQ(r.blob_size, blob.size());
        EXPECT_EQ(r.diff_hex, Digest::of(tar).hex());
        EXPECT_EQ(r.diff_size, tar.size());
    }
}

TEST(UnpackLayer, TeeAndExtract) {
    std::string tar = sample_tar();
    std::string blob = run_filter("gzip -c -n", tar);
    Sandbox sb;
    auto tee_path = sb.top() / "tee";
    Fd tee(::open(tee_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(tee);
    StringReader src(blob, 100);
    ExtractOptions opt;
    opt.what = "layer tee";
    auto r = unpack_layer(src, tee.get(), sb.root_fd(), opt);
    tee.reset();
    EXPECT_EQ(slurp(tee_path), blob);
    EXPECT_EQ(r.compression, Compression::gzip);
    EXPECT_EQ(r.blob_hex, Digest::of(blob).hex());
    EXPECT_EQ(r.diff_hex, Digest::of(tar).hex());
    EXPECT_EQ(r.diff_size, tar.size());
    EXPECT_EQ(r.stats.files, 2u);
    EXPECT_EQ(r.stats.dirs, 1u);
    EXPECT_EQ(r.stats.symlinks, 1u);
    EXPECT_EQ(slurp(sb.root() / "etc/hostname"), "gantry\n");
    EXPECT_EQ(stdfs::read_symlink(sb.root() / "usr/bin/sh"), "/bin/sh");
}

TEST(UnpackLayer, TinyAndEmptyBlobs) {
    // Shorter than the sniffing window.
    std::string tiny = "abc";
    StringReader src(tiny);
    ExtractOptions opt;
    auto r = unpack_layer(src, -1, -1, opt);
    EXPECT_EQ(r.blob_hex, Digest::of(tiny).hex());
    EXPECT_EQ(r.diff_hex, Digest::of(tiny).hex());
    EXPECT_EQ(r.blob_size, 3u);

    StringReader empty("");
    r = unpack_layer(empty, -1, -1, opt);
    EXPECT_EQ(r.blob_size, 0u);
    EXPECT_EQ(r.blob_hex, Digest::of("").hex());
}

TEST(UnpackLayer, TruncatedGzipIsInvalid) {
    std::string blob = run_filter("gzip -c -n", sample_tar());
    StringReader src(blob.substr(0, blob.size() - 5));
    ExtractOptions opt;
    opt.what = "layer cut";
    try {
        unpack_layer(src, -1, -1, opt);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_TRUE(contains(e.message(), "truncated")) << e.message();
        EXPECT_TRUE(contains(e.message(), "layer cut")) << e.message();
    }
}

} // namespace layer_extract_test
