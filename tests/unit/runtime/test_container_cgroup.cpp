// An OCI container's cgroup (runtime/container_cgroup.hpp) on fake cgroup v2 and v1 trees: runc's
// placement of linux.cgroupsPath, the limits written, the record it keeps, freeze and thaw, the
// statistics, and the refusals (the systemd form). The trees are plain directories holding the
// interface files the kernel would make; the real kernel is tests/e2e/test_oci_resources.py's.
#include "cgroup_fixture.hpp"
#include "oci/linux_resources.hpp"
#include "runtime/container_cgroup.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace container_cgroup_test {

using namespace cgroup_fixture;
using gantry::oci::LinuxResources;
using gantry::runtime::CgroupVersion;
using gantry::runtime::ContainerCgroup;

namespace {

void put(const std::string& file, const std::string& content = "") {
    std::ofstream(file) << content;
}

// A cgroup2 mount at T whose own cgroup is /user.slice/me: the container's directory for a
// relative path is below the parent, /user.slice (runc's v2 rule).
ContainerCgroup::Place v2_place(const std::string& T, const std::string& path) {
    ContainerCgroup::Place p;
    p.cgroups_path = path;
    p.id = "c1";
    p.probe.mountinfo = mountinfo_line(30, T, "cgroup2", "rw");
    p.probe.proc_cgroup = "0::/user.slice/me\n";
    return p;
}

} // namespace

TEST(ContainerCgroup, V2RelativePathLimitsFreezeAndStats) {
    CgTempDir t;
    const std::string T = t.path(), dir = T + "/user.slice/c1";
    stdfs::create_directories(dir);
    for (const char* f :
         {"memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs", "cgroup.freeze"})
        put(dir + "/" + f);
    put(dir + "/cgroup.events", "populated 1\nfrozen 1\n");
    put(dir + "/memory.current", "4096\n");
    put(dir + "/pids.current", "3\n");
    put(dir + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    put(dir + "/memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
    auto r = LinuxResources::from_json({{"memory", {{"limit", 67108864}, {"swap", 134217728}}},
                                        {"pids", {{"limit", 20}}},
                                        {"cpu", {{"quota", 50000}, {"period", 100000}}}});
    ContainerCgroup cg = ContainerCgroup::create(v2_place(T, ""), r);
    EXPECT_EQ(cg.version(), CgroupVersion::v2);
    EXPECT_EQ(cg.dir("memory"), dir);
    EXPECT_EQ(slurp(dir + "/memory.max"), "67108864");
    EXPECT_EQ(slurp(dir + "/memory.swap.max"), "67108864"); // memory+swap minus memory
    EXPECT_EQ(slurp(dir + "/cpu.max"), "50000 100000");
    EXPECT_EQ(slurp(dir + "/pids.max"), "20");

    ContainerCgroup again = ContainerCgroup::from_json(cg.to_json()); // a later command's view
    EXPECT_EQ(again.dir("pids"), dir);
    EXPECT_FALSE(again.frozen());
    again.freeze(); // cgroup.events already says frozen 1
    EXPECT_EQ(slurp(dir + "/cgroup.freeze"), "1");
    EXPECT_TRUE(again.frozen());
    put(dir + "/cgroup.freeze");
    again.thaw();
    EXPECT_EQ(slurp(dir + "/cgroup.freeze"), "0");

    put(dir + "/pids.max", "20\n");
    auto stats = again.stats();
    EXPECT_EQ(stats["pids"]["current"], 3);
    EXPECT_EQ(stats["pids"]["limit"], 20);
    EXPECT_EQ(stats["memory"]["usage"]["usage"], 4096);
    EXPECT_EQ(stats["memory"]["usage"]["failcnt"], 2);
    EXPECT_EQ(stats["cpu"]["usage"]["total"], 1500000); // nanoseconds, as runc reports them
    EXPECT_EQ(stats["cpu"]["usage"]["kernel"], 500000);
    EXPECT_EQ(again.oom_kills(), 1u);
    EXPECT_EQ(again.oom_events_file(), dir + "/memory.events");
}

TEST(ContainerCgroup, AbsolutePathIsBelowTheRootAndDotDotStaysInside) {
    CgTempDir t;
    const std::string T = t.path();
    stdfs::create_directories(T + "/machine/c1");
    put(T + "/machine/c1/pids.max");
    auto r = LinuxResources::from_json({{"pids", {{"limit", 5}}}});
    ContainerCgroup cg = ContainerCgroup::create(v2_place(T, "/../../machine/./c1"), r);
    EXPECT_EQ(cg.dir("pids"), T + "/machine/c1");
    EXPECT_EQ(slurp(T + "/machine/c1/pids.max"), "5");
}

TEST(ContainerCgroup, RefusalsLeaveNothing) {
    CgTempDir t;
    const std::string T = t.path();
    try {
        ContainerCgroup::create(v2_place(T, "system.slice:runc:c1"), {});
        ADD_FAILURE() << "the systemd form was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "linux.cgroupsPath \"system.slice:runc:c1\" is systemd's "
                               "\"slice:prefix:name\" form, and gantry manages cgroups through "
                               "the cgroup filesystem only");
    }
    // a limit whose file the kernel lacks: named, and the directory made for it removed
    try {
        ContainerCgroup::create(v2_place(T, "/made"),
                                LinuxResources::from_json({{"pids", {{"limit", 5}}}}));
        ADD_FAILURE() << "a missing pids.max was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "cannot apply linux.resources.pids.limit: the kernel has no "
                               "pids.max in " +
                                   T + "/made");
    }
    EXPECT_FALSE(exists(T + "/made"));
}

TEST(ContainerCgroup, V1FreezerStateAndDeviceRules) {
    CgTempDir t;
    const std::string T = t.path();
    std::string mi;
    int id = 40;
    for (const char* c : {"freezer", "devices"}) {
        mi += mountinfo_line(id++, T + "/" + c, "cgroup", std::string("rw,") + c);
        stdfs::create_directories(T + "/" + c + "/c1");
    }
    for (const char* f :
         {"freezer/c1/freezer.state", "devices/c1/devices.allow", "devices/c1/devices.deny"})
        put(T + "/" + f);
    ContainerCgroup::Place p;
    p.id = "c1";
    p.probe.mountinfo = mi;
    p.probe.proc_cgroup = "2:freezer:/\n1:devices:/\n";
    LinuxResources r;
    r.devices = gantry::runtime::container_device_rules(
        LinuxResources::from_json({{"devices", {{{"allow", false}, {"access", "rwm"}}}}}).devices,
        {});
    ContainerCgroup cg = ContainerCgroup::create(p, r);
    EXPECT_EQ(cg.version(), CgroupVersion::v1);
    EXPECT_EQ(slurp(T + "/devices/c1/devices.deny"), "a"); // each rule one write
    put(T + "/freezer/c1/freezer.state", "THAWED\n");
    EXPECT_FALSE(cg.frozen());
    cg.freeze();
    EXPECT_TRUE(cg.frozen());
    cg.thaw();
    EXPECT_EQ(slurp(T + "/freezer/c1/freezer.state"), "THAWED\n"); // written over FROZEN\n
}

namespace {
std::vector<std::pair<std::vector<bpf_insn>, std::string>> attached;
void record_attach(const std::vector<bpf_insn>& program, const std::string& dir) {
    attached.emplace_back(program, dir);
}
} // namespace

// cgroup v2: the device rules are no file writes but the eBPF program (device_filter.hpp),
// attached to the container's directory; rules it cannot express are refused before anything is
// made. tests/unit/runtime/test_device_filter.cpp has the kernel enforcing the program.
TEST(ContainerCgroup, V2DeviceRulesAreAnEbpfProgramAttachedToTheDirectory) {
    CgTempDir t;
    const std::string T = t.path(), dir = T + "/user.slice/c1";
    stdfs::create_directories(dir);
    put(dir + "/cgroup.procs");
    LinuxResources r;
    r.devices = gantry::runtime::container_device_rules(
        LinuxResources::from_json({{"devices", {{{"allow", false}, {"access", "rwm"}}}}}).devices,
        {});
    ContainerCgroup::Place p = v2_place(T, "");
    p.attach_devices = record_attach;
    attached.clear();
    ContainerCgroup::create(p, r);
    ASSERT_EQ(attached.size(), 1u);
    EXPECT_EQ(attached[0].second, dir);
    auto want =
        gantry::runtime::device_filter_program(gantry::runtime::fold_device_rules(r.devices));
    ASSERT_EQ(attached[0].first.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(std::memcmp(&attached[0].first[i], &want[i], sizeof want[i]), 0) << i;
    EXPECT_FALSE(exists(dir + "/devices.allow")); // no v1 file written

    r.devices.push_back({false, 'c', 136, 2, "rwm"}); // a hole in "c 136:* rwm"
    stdfs::remove_all(dir);
    try {
        ContainerCgroup::create(p, r);
        ADD_FAILURE() << "a hole in a wildcard rule was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("punches a hole"), std::string::npos) << e.message();
    }
    EXPECT_FALSE(exists(dir));
}

// What a `cgroup` mount shows on a v1 host: each hierarchy's own directory, named as its mount
// point (a combined hierarchy's name holds a comma; name=systemd's is "systemd"), no cgroup2.
TEST(ContainerCgroup, V1ViewNamesEachHierarchyByItsMountPoint) {
    CgTempDir t;
    const std::string T = t.path();
    std::string mi;
    int id = 40;
    for (std::string c : {"cpu,cpuacct", "memory", "systemd"}) {
        mi += mountinfo_line(id++, T + "/" + c, "cgroup",
                             "rw," + (c == "systemd" ? "name=systemd" : c));
        stdfs::create_directories(T + "/" + c);
    }
    mi += mountinfo_line(id++, T + "/unified", "cgroup2", "rw");
    stdfs::create_directories(T + "/unified");
    ContainerCgroup::Place p;
    p.id = "c1";
    p.probe.mountinfo = mi;
    p.probe.proc_cgroup = "3:cpu,cpuacct:/a\n2:memory:/a\n1:name=systemd:/a\n0::/a\n";
    ContainerCgroup cg = ContainerCgroup::create(p, LinuxResources{});
    auto view = cg.v1_view(p.probe);
    ASSERT_EQ(view.size(), 3u);
    EXPECT_EQ(view[0].name, "cpu,cpuacct");
    EXPECT_EQ(view[0].source, T + "/cpu,cpuacct/a/c1");
    EXPECT_EQ(view[1].name, "memory");
    EXPECT_EQ(view[2].name, "systemd");
    EXPECT_EQ(view[2].source, T + "/systemd/a/c1");
    cg.destroy();
}

} // namespace container_cgroup_test
