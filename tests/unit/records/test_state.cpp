// The runtime directory (records/state.hpp): private_dir makes it, or proves an existing one is
// the caller's own before gantry trusts what it finds there; and runtime_dir's choice of place.
#include "../support/temp_dir.hpp"
#include "records/state.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace records_state_test {

using unit_support::TempDir;
namespace stdfs = std::filesystem;
using gantry::Errc;
using gantry::Error;
using gantry::records::private_dir;

namespace {

mode_t mode_of(const stdfs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

// The error private_dir throws for DIR and OWNER (fails the test when there is none).
Error refusal(const stdfs::path& dir, uid_t owner) {
    try {
        private_dir(dir, owner);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << dir << " was accepted";
    return Error(Errc::internal, "", "");
}

// Sets an environment variable for one test and puts the old value back.
struct EnvVar {
    std::string name;
    std::optional<std::string> old;
    EnvVar(std::string n, const char* value) : name(std::move(n)) {
        if (const char* o = std::getenv(name.c_str())) old = o;
        if (value)
            ::setenv(name.c_str(), value, 1);
        else
            ::unsetenv(name.c_str());
    }
    ~EnvVar() {
        if (old)
            ::setenv(name.c_str(), old->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
};

} // namespace

TEST(PrivateDir, MissingDirectoryIsMadeOwnerOnly) {
    TempDir t("gantry-state");
    auto d = t.path / "gantry";
    ::umask(022);
    EXPECT_EQ(private_dir(d, ::geteuid()), d);
    EXPECT_TRUE(stdfs::is_directory(d));
    EXPECT_EQ(mode_of(d), 0700u);
}

TEST(PrivateDir, OwnDirectoryOthersMayWriteIsMadePrivate) {
    TempDir t("gantry-state");
    auto d = t.path / "gantry";
    ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(d.c_str(), 01777), 0);
    private_dir(d, ::geteuid());
    EXPECT_EQ(mode_of(d) & 0777, 0700u);
}

TEST(PrivateDir, DirectoryOfAnotherUserIsRefused) {
    TempDir t("gantry-state");
    auto d = t.path / "gantry";
    ASSERT_EQ(::mkdir(d.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(d.c_str(), 0777), 0);
    // owned by us, but asked for on behalf of another uid: what another user's /tmp/gantry-UID
    // looks like to the victim
    uid_t victim = ::geteuid() + 4242;
    Error e = refusal(d, victim);
    EXPECT_EQ(e.code(), Errc::conflict);
    EXPECT_NE(e.message().find(d.string()), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("belongs to uid " + std::to_string(::geteuid())), std::string::npos)
        << e.message();
    EXPECT_NE(e.message().find("uid " + std::to_string(victim)), std::string::npos);
    EXPECT_NE(e.hint().find("XDG_RUNTIME_DIR"), std::string::npos) << e.hint();
    EXPECT_EQ(mode_of(d), 0777u) << "a refused directory is left as it was";
}

TEST(PrivateDir, SymlinkIsRefusedEvenToAnOwnDirectory) {
    TempDir t("gantry-state");
    auto target = t.path / "mine";
    ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
    auto d = t.path / "gantry";
    ASSERT_EQ(::symlink(target.c_str(), d.c_str()), 0);
    Error e = refusal(d, ::geteuid());
    EXPECT_EQ(e.code(), Errc::conflict);
    EXPECT_NE(e.message().find("symbolic link"), std::string::npos) << e.message();
    auto dangling = t.path / "dangling";
    ASSERT_EQ(::symlink((t.path / "nowhere").c_str(), dangling.c_str()), 0);
    EXPECT_EQ(refusal(dangling, ::geteuid()).code(), Errc::conflict);
    EXPECT_FALSE(stdfs::exists(t.path / "nowhere")) << "nothing made through the link";
}

TEST(PrivateDir, FileIsRefused) {
    TempDir t("gantry-state");
    auto d = t.path / "gantry";
    {
        std::FILE* f = std::fopen(d.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fclose(f);
    }
    EXPECT_EQ(refusal(d, ::geteuid()).code(), Errc::conflict);
}

TEST(PrivateDir, UncreatableDirectoryIsAnIoErrorWithTheFix) {
    TempDir t("gantry-state");
    Error e = refusal(t.path / "missing-parent" / "gantry", ::geteuid());
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_NE(e.message().find("cannot create the runtime directory"), std::string::npos);
    EXPECT_NE(e.hint().find("XDG_RUNTIME_DIR"), std::string::npos);
}

TEST(RuntimeDir, XdgRuntimeDirIsUsedWhenAbsoluteAndMade) {
    if (::geteuid() == 0) {
        EnvVar x("XDG_RUNTIME_DIR", "/tmp/ignored-for-root");
        EXPECT_EQ(gantry::records::runtime_dir(), "/run/gantry") << "root's is fixed";
        EXPECT_EQ(mode_of("/run/gantry") & 077, 0u);
        return;
    }
    TempDir t("gantry-state");
    auto xdg = t.path / "xdg"; // missing: made, as it always was
    EnvVar x("XDG_RUNTIME_DIR", xdg.c_str());
    EXPECT_EQ(gantry::records::runtime_dir(), xdg / "gantry");
    EXPECT_EQ(mode_of(xdg / "gantry"), 0700u);
    EnvVar rel("XDG_RUNTIME_DIR", "relative/dir"); // not absolute: ignored, as XDG says
    EXPECT_NE(gantry::records::runtime_dir().string().rfind("relative", 0), 0u);
}

TEST(StatusText, DockersWords) {
    gantry::records::ContainerState s;
    s.created = gantry::records::now_rfc3339();
    EXPECT_EQ(gantry::records::status_text(s, false), "created");
    EXPECT_TRUE(gantry::records::status_text(s, true).starts_with("Up ")) << status_text(s, true);
    s.status = "exited";
    s.exit_code = 7;
    s.finished = "2020-01-01T00:00:00Z";
    auto t = gantry::records::status_text(s, false);
    EXPECT_TRUE(t.starts_with("Exited (7) ") && t.ends_with(" years ago")) << t;
    s.finished = "not a time";
    EXPECT_EQ(gantry::records::status_text(s, false), "Exited (7)");
}

} // namespace records_state_test
