// runtime/caller_cpuset: the cpuset of the cgroup gantry runs in, and --cpuset-cpus/-mems
// checked against it, on a fake cgroup v2 directory ($GANTRY_CGROUP_ROOT's form).
#include "runtime/caller_cpuset.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace rt = gantry::runtime;
namespace stdfs = std::filesystem;

TEST(CallerCpuset, ReadsTheEffectiveListsAndRefusesWhatTheyLack) {
    std::string t = (stdfs::temp_directory_path() / "gantry-cpuset-XXXXXX").string();
    const stdfs::path dir = ::mkdtemp(t.data());
    std::ofstream(dir / "cpuset.cpus.effective") << "0-3,8\n";
    std::ofstream(dir / "cpuset.mems.effective") << "0\n";
    rt::CgroupProbe probe;
    probe.root = dir.string();
    const auto c = rt::caller_cpuset(probe);
    EXPECT_EQ(c.cpus, "0-3,8");
    EXPECT_EQ(c.mems, "0");
    EXPECT_EQ(c.cpus_file, (dir / "cpuset.cpus.effective").string());
    rt::check_caller_cpuset("1-3,8", "--cpuset-cpus", true, c); // within
    try {
        rt::check_caller_cpuset("2-5", "--cpuset-cpus", true, c);
        ADD_FAILURE() << "not refused";
    } catch (const gantry::Error& e) {
        EXPECT_EQ(e.code(), gantry::Errc::usage);
        EXPECT_EQ(e.message(),
                  "--cpuset-cpus: CPUs 4-5 are not allowed to this process's cgroup (" +
                      c.cpus_file + ": 0-3,8)");
    }
    EXPECT_THROW(rt::check_caller_cpuset("1", "--cpuset-mems", false, c), gantry::Error);
    EXPECT_EQ(rt::cpuset_within("0-15", c.cpus), "0-3,8");
    EXPECT_EQ(rt::cpuset_within("0-15", ""), "0-15"); // not known: as it is
    stdfs::remove_all(dir);
    // no such files: nothing known, nothing checked
    const auto none = rt::caller_cpuset(probe);
    EXPECT_EQ(none.cpus, "");
    rt::check_caller_cpuset("99", "--cpuset-cpus", true, none);
}
