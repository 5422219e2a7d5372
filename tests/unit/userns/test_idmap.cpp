// userns/idmap: the subordinate-id ranges read from /etc/subuid and /etc/subgid style files,
// and why a user namespace could not be made (read from a fake proc tree).
#include "userns/idmap.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace userns_idmap_test {

using namespace gantry;

namespace {

struct SubIdFile {
    std::string path;
    explicit SubIdFile(const std::string& text)
        : path((std::filesystem::temp_directory_path() /
                ("gantry-subid-" + std::to_string(::getpid()) + "-" + std::to_string(++n)))
                   .string()) {
        std::ofstream(path) << text;
    }
    ~SubIdFile() { std::remove(path.c_str()); }
    static inline int n = 0;
};

bool is(const std::optional<userns::SubIdRange>& r, std::uint32_t start, std::uint32_t count) {
    return r && r->start == start && r->count == count;
}

} // namespace

TEST(SubIds, FirstRangeOfTheUserByNameOrUid) {
    SubIdFile f("# no comment syntax, but no colon either\n"
                "root:100000:65536\n"
                "alice:165536:65536\n"
                "alice:300000:10\n"
                "1001:231072:65536\n");
    EXPECT_TRUE(is(userns::find_subid_range(f.path, "alice", 1000), 165536, 65536));
    EXPECT_TRUE(is(userns::find_subid_range(f.path, "bob", 1001), 231072, 65536));
    EXPECT_FALSE(userns::find_subid_range(f.path, "carol", 1002));
    EXPECT_FALSE(userns::find_subid_range(f.path + ".missing", "alice", 1000));
}

TEST(SubIds, MalformedRangesAreSkipped) {
    // a sign, spaces, a suffix, an empty or zero count, 32-bit overflow: each line skipped, the
    // next well-formed one used (stoul took "-5" as 2^64-5 and "10x" as 10)
    SubIdFile f("alice:-5:10\n"
                "alice: 5:10\n"
                "alice:5:10x\n"
                "alice:5:\n"
                "alice:5:0\n"
                "alice:4294967295:2\n"
                "alice:99999999999:1\n"
                "alice:200000:65536\n");
    EXPECT_TRUE(is(userns::find_subid_range(f.path, "alice", 1000), 200000, 65536));
    SubIdFile only_bad("alice:+5:10\nalice:5:-1\n");
    EXPECT_FALSE(userns::find_subid_range(only_bad.path, "alice", 1000));
    // the whole 32-bit space is still a valid range
    SubIdFile edge("alice:4294967295:1\n");
    EXPECT_TRUE(is(userns::find_subid_range(edge.path, "alice", 1000), 4294967295u, 1));
}

namespace {

// A fake proc tree: FILES maps paths under it ("self/uid_map", "sys/user/...") to contents.
struct FakeProc {
    std::filesystem::path dir;
    explicit FakeProc(const std::vector<std::pair<std::string, std::string>>& files)
        : dir(std::filesystem::temp_directory_path() /
              ("gantry-proc-" + std::to_string(::getpid()) + "-" + std::to_string(++n))) {
        for (auto& [rel, text] : files) {
            std::filesystem::create_directories((dir / rel).parent_path());
            std::ofstream(dir / rel) << text;
        }
    }
    ~FakeProc() { std::filesystem::remove_all(dir); }
    userns::UsernsDiagnosis diagnose(int err, uid_t euid = 1000) const {
        return userns::diagnose_userns(err, euid, dir.string());
    }
    static inline int n = 0;
};

// gid_map left out: a file that cannot be read tells nothing, so only uid_map counts
const std::pair<std::string, std::string> kMapped{"self/uid_map", "0 1000 1\n"};

} // namespace

TEST(UsernsDiagnosis, AnUnmappedCallerIsNamedBeforeAnySysctl) {
    FakeProc p({{"self/uid_map", ""},
                {"self/gid_map", ""},
                {"sys/kernel/unprivileged_userns_clone", "0\n"}});
    auto d = p.diagnose(EPERM);
    EXPECT_NE(d.why.find("maps no user or group ID"), std::string::npos) << d.why;
    EXPECT_NE(d.hint.find("unshare -r"), std::string::npos) << d.hint;
    // one of the two unmapped is enough to be refused (unshare --map-user without --map-group)
    FakeProc uid_only({{"self/uid_map", "0 1000 1\n"}, {"self/gid_map", ""}});
    EXPECT_NE(uid_only.diagnose(EPERM).why.find("maps no group ID"), std::string::npos);
    FakeProc gid_only({{"self/uid_map", ""}, {"self/gid_map", "0 1000 1\n"}});
    EXPECT_NE(gid_only.diagnose(EPERM).why.find("maps no user ID"), std::string::npos);
    // the kernel checks the limit first: ENOSPC is the limit even for an unmapped caller
    EXPECT_NE(p.diagnose(ENOSPC).why.find("limit of user namespaces is reached"),
              std::string::npos);
}

TEST(UsernsDiagnosis, DisabledOrExhaustedLimitShowsItsValue) {
    FakeProc off({kMapped, {"sys/user/max_user_namespaces", "0\n"}});
    EXPECT_NE(off.diagnose(ENOSPC).why.find("disabled (user.max_user_namespaces = 0)"),
              std::string::npos);
    FakeProc full({kMapped, {"sys/user/max_user_namespaces", "7\n"}});
    auto d = full.diagnose(ENOSPC);
    EXPECT_NE(d.why.find("limit of user namespaces is reached (user.max_user_namespaces = 7"),
              std::string::npos)
        << d.why;
    EXPECT_NE(d.hint.find("sysctl -w user.max_user_namespaces="), std::string::npos);
    // EUSERS: an older kernel's answer past 32 levels of nesting
    EXPECT_NE(full.diagnose(EUSERS).why.find("32 levels"), std::string::npos);
}

TEST(UsernsDiagnosis, DistributionSwitchesAreNamedForPermissionErrors) {
    FakeProc debian({kMapped,
                     {"sys/user/max_user_namespaces", "15000\n"},
                     {"sys/kernel/unprivileged_userns_clone", "0\n"}});
    auto d = debian.diagnose(EPERM);
    EXPECT_NE(d.why.find("kernel.unprivileged_userns_clone = 0"), std::string::npos) << d.why;
    EXPECT_NE(d.hint.find("sysctl -w kernel.unprivileged_userns_clone=1"), std::string::npos);
    FakeProc ubuntu({kMapped,
                     {"sys/kernel/unprivileged_userns_clone", "1\n"},
                     {"sys/kernel/apparmor_restrict_unprivileged_userns", "1\n"}});
    d = ubuntu.diagnose(EPERM);
    EXPECT_NE(d.why.find("AppArmor"), std::string::npos) << d.why;
    EXPECT_NE(d.hint.find("apparmor_restrict_unprivileged_userns=0"), std::string::npos);
    // neither switch applies to root: its EPERM has another cause
    EXPECT_TRUE(debian.diagnose(EPERM, 0).why.empty());
    EXPECT_TRUE(ubuntu.diagnose(EPERM, 0).why.empty());
    EXPECT_NE(ubuntu.diagnose(EPERM, 0).hint.find("seccomp"), std::string::npos);
}

TEST(RootlessBlocked, AppArmorRestrictionUnlessGantrysProfileIsLoaded) {
    // PROC and SYS of a simulated host: FakeProc's dir holds proc/ and sys/
    FakeProc ubuntu({{"proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n"},
                     {"sys/kernel/security/apparmor/profiles", "runc (unconfined)\n"}});
    auto root = ubuntu.dir.string();
    auto b = userns::rootless_blocked(root + "/proc", root + "/sys");
    ASSERT_TRUE(b);
    EXPECT_NE(b->why.find("no profile \"gantry\" is loaded"), std::string::npos) << b->why;
    EXPECT_NE(b->hint.find("/etc/apparmor.d/gantry"), std::string::npos) << b->hint;
    EXPECT_NE(b->hint.find("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
              std::string::npos);
    // near miss: the profile is loaded (its name is the line's first word), nothing blocks
    FakeProc loaded({{"proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n"},
                     {"sys/kernel/security/apparmor/profiles",
                      "gantry-helper (enforce)\ngantry (unconfined)\n"}});
    root = loaded.dir.string();
    EXPECT_FALSE(userns::rootless_blocked(root + "/proc", root + "/sys"));
    // the list unreadable (only root may read it): said so, still the two fixes
    FakeProc hidden({kMapped, {"proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n"}});
    root = hidden.dir.string();
    b = userns::rootless_blocked(root + "/proc", root + "/sys");
    ASSERT_TRUE(b);
    EXPECT_NE(b->why.find("only root can tell"), std::string::npos) << b->why;
    // the restriction off, and the other switches
    FakeProc off({kMapped, {"proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0\n"}});
    root = off.dir.string();
    EXPECT_FALSE(userns::rootless_blocked(root + "/proc", root + "/sys"));
    FakeProc none({kMapped, {"proc/sys/user/max_user_namespaces", "0\n"}});
    root = none.dir.string();
    b = userns::rootless_blocked(root + "/proc", root + "/sys");
    ASSERT_TRUE(b);
    EXPECT_NE(b->why.find("max_user_namespaces = 0"), std::string::npos);
}

TEST(UsernsDiagnosis, UnknownCausesKeepTheSystemErrorAndSayWhereToLook) {
    FakeProc p({kMapped, {"sys/kernel/apparmor_restrict_unprivileged_userns", "0\n"}});
    auto d = p.diagnose(EPERM);
    EXPECT_TRUE(d.why.empty());
    EXPECT_NE(d.hint.find("seccomp"), std::string::npos) << d.hint;
    // errors that are not about permission or limits get no guess at all
    EXPECT_TRUE(p.diagnose(EINVAL).why.empty());
    EXPECT_TRUE(p.diagnose(EINVAL).hint.empty());
    EXPECT_TRUE(p.diagnose(ENOMEM).hint.empty());
}

TEST(UsernsDiagnosis, AChrootIsNamedForRootToo) {
    // root's view: /proc/1/root is another directory than this process's root
    FakeProc root_view({kMapped});
    std::filesystem::create_directories(root_view.dir / "1");
    std::filesystem::create_directory_symlink(root_view.dir, root_view.dir / "1" / "root");
    EXPECT_TRUE(userns::chrooted(root_view.dir.string()));
    auto d = root_view.diagnose(EPERM, 0);
    EXPECT_NE(d.why.find("runs in a chroot"), std::string::npos) << d.why;
    EXPECT_NE(d.hint.find("pivot_root"), std::string::npos) << d.hint;
    // near miss: init's root is this process's root
    FakeProc same({kMapped});
    std::filesystem::create_directories(same.dir / "1");
    std::filesystem::create_directory_symlink("/", same.dir / "1" / "root");
    EXPECT_FALSE(userns::chrooted(same.dir.string()));
    EXPECT_EQ(same.diagnose(EPERM, 0).why, "");
}

TEST(UsernsDiagnosis, AChrootIsToldByTheMountTableWhenInitsRootIsHidden) {
    // a user's view (no 1/root): the mount table's mount points, the fifth field
    FakeProc chroot({kMapped,
                     {"self/mountinfo", "25 1 8:1 /srv/root/proc /proc rw - proc proc rw\n"
                                        "26 1 0:5 / /dev rw - devtmpfs udev rw\n"}});
    EXPECT_TRUE(userns::chrooted(chroot.dir.string()));
    EXPECT_NE(chroot.diagnose(EPERM).why.find("chroot"), std::string::npos);
    FakeProc host({kMapped,
                   {"self/mountinfo", "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                                      "25 22 0:22 / /proc rw - proc proc rw\n"}});
    EXPECT_FALSE(userns::chrooted(host.dir.string()));
    // an empty or missing table tells nothing
    FakeProc empty({kMapped, {"self/mountinfo", ""}});
    EXPECT_FALSE(userns::chrooted(empty.dir.string()));
    FakeProc none({kMapped});
    EXPECT_FALSE(userns::chrooted(none.dir.string()));
}

} // namespace userns_idmap_test
