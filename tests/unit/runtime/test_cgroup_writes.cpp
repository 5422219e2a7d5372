// linux.resources (issue 37): what oci::LinuxResources::from_json reads and refuses, and the
// cgroup v1 and v2 files runtime::cgroup_writes turns it into, with runc 1.1's conversions and
// refusals; gantry run's flags (to_linux_resources) land on the same writes.
#include "oci/linux_resources.hpp"
#include "runtime/cgroup_writes.hpp"
#include "runtime/resources.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cgroup_writes_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::LinuxResources;
using gantry::runtime::cgroup_writes;
using gantry::runtime::CgroupVersion;
using nlohmann::json;

namespace {

// "controller file=value" for each write, in order.
std::vector<std::string> writes(const json& res, CgroupVersion v) {
    std::vector<std::string> out;
    for (const auto& w : cgroup_writes(LinuxResources::from_json(res), v))
        out.push_back(w.controller + " " + w.file + "=" + w.value);
    return out;
}

std::string refusal(const json& res, CgroupVersion v = CgroupVersion::v1) {
    try {
        writes(res, v);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_FALSE(e.hint().empty()) << e.message();
        return e.message();
    }
    return "";
}

const auto v1 = CgroupVersion::v1;
const auto v2 = CgroupVersion::v2;

} // namespace

TEST(CgroupWrites, MemoryCpuPidsOnV1AsRuncWritesThem) {
    json r = {
        {"memory",
         {{"limit", 67108864},
          {"swap", 134217728},
          {"reservation", 1048576},
          {"swappiness", 10},
          {"disableOOMKiller", true}}},
        {"cpu",
         {{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0-1"}, {"mems", "0"}}},
        {"pids", {{"limit", 20}}}};
    EXPECT_EQ(
        writes(r, v1),
        (std::vector<std::string>{
            "cpu cpu.shares=512", "cpu cpu.cfs_period_us=100000", "cpu cpu.cfs_quota_us=50000",
            "cpuset cpuset.cpus=0-1", "cpuset cpuset.mems=0",
            "memory memory.limit_in_bytes=67108864", "memory memory.memsw.limit_in_bytes=134217728",
            "memory memory.soft_limit_in_bytes=1048576", "memory memory.swappiness=10",
            "memory memory.oom_control=1", "pids pids.max=20"}));
    // unlimited memory means unlimited swap too; a pids limit of 0 or less is "max"
    EXPECT_EQ(
        writes({{"memory", {{"limit", -1}}}, {"pids", {{"limit", -1}}}}, v1),
        (std::vector<std::string>{"memory memory.limit_in_bytes=-1",
                                  "memory memory.memsw.limit_in_bytes=-1", "pids pids.max=max"}));
}

TEST(CgroupWrites, MemoryCpuPidsOnV2WithRuncsConversions) {
    json r = {{"memory", {{"limit", 67108864}, {"swap", 134217728}, {"reservation", 1048576}}},
              {"cpu", {{"shares", 1024}, {"quota", 50000}, {"period", 100000}}},
              {"pids", {{"limit", 20}}}};
    EXPECT_EQ(writes(r, v2), (std::vector<std::string>{
                                 "cpu cpu.weight=39", "cpu cpu.max=50000 100000",
                                 "memory memory.max=67108864", "memory memory.swap.max=67108864",
                                 "memory memory.low=1048576", "pids pids.max=20"}));
    EXPECT_EQ(writes({{"cpu", {{"quota", -1}}}, {"memory", {{"limit", -1}, {"swap", -1}}}}, v2),
              (std::vector<std::string>{"cpu cpu.max=max", "memory memory.max=max",
                                        "memory memory.swap.max=max"}));
    EXPECT_EQ(gantry::runtime::cpu_weight_of_shares(2), 1u);
    EXPECT_EQ(gantry::runtime::cpu_weight_of_shares(262144), 10000u);
    EXPECT_EQ(gantry::runtime::io_weight_of_blkio(10), 1u);
    EXPECT_EQ(gantry::runtime::io_weight_of_blkio(1000), 10000u);
}

TEST(CgroupWrites, BlockIoHugetlbAndUnified) {
    json r = {{"blockIO",
               {{"weight", 500},
                {"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 1048576}}}}}},
              {"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 4194304}}}}};
    auto w = cgroup_writes(LinuxResources::from_json(r), v1);
    ASSERT_EQ(w.size(), 4u);
    EXPECT_EQ(w[0].file, "blkio.bfq.weight");
    EXPECT_EQ(w[0].fallback_file, "blkio.weight");
    EXPECT_EQ(w[1].file + "=" + w[1].value, "blkio.throttle.read_bps_device=8:0 1048576");
    EXPECT_EQ(w[2].file + "=" + w[2].value, "hugetlb.2MB.limit_in_bytes=4194304");
    EXPECT_TRUE(w[3].optional); // the reservation limit, where the kernel has one
    auto w2 = cgroup_writes(LinuxResources::from_json(r), v2);
    EXPECT_EQ(w2[0].fallback_file + "=" + w2[0].fallback_value, "io.weight=4950");
    EXPECT_EQ(w2[1].file + "=" + w2[1].value, "io.max=8:0 rbps=1048576");
    EXPECT_EQ(w2[2].file, "hugetlb.2MB.max");
    EXPECT_EQ(writes({{"unified", {{"memory.high", "50000000"}}}}, v2),
              (std::vector<std::string>{"memory memory.high=50000000"}));
    // dmem's limits, one region a write (--gpu-memory on two GPUs)
    EXPECT_EQ(writes({{"unified",
                       {{"dmem.max", "drm/0000:03:00.0/vram0 1024\nnvidia/0000:3b:00.0/"
                                     "vidmem 2048"}}}},
                     v2),
              (std::vector<std::string>{"dmem dmem.max=drm/0000:03:00.0/vram0 1024",
                                        "dmem dmem.max=nvidia/0000:3b:00.0/vidmem 2048"}));
}

TEST(CgroupWrites, DeviceRulesAsRuncBuildsThem) {
    gantry::oci::DeviceNode fuse;
    fuse.path = "/dev/fuse";
    fuse.major = 10;
    fuse.minor = 229;
    auto rules = gantry::runtime::container_device_rules(
        LinuxResources::from_json({{"devices", {{{"allow", false}, {"access", "rwm"}}}}}).devices,
        {fuse});
    LinuxResources r;
    r.devices = rules;
    auto w = cgroup_writes(r, v1);
    ASSERT_EQ(w.size(), 12u);
    EXPECT_EQ(w[0].file + " " + w[0].value, "devices.deny a");
    // no rule of its own for a linux.devices node (runc 1.1: the spec's rules and the defaults)
    EXPECT_EQ(w[1].file + " " + w[1].value, "devices.allow c *:* m");
    EXPECT_EQ(w[3].value, "c 1:3 rwm");
    EXPECT_EQ(w.back().value, "c 10:200 rwm"); // runc's last default: /dev/net/tun
    // a linux.devices node at a default's path takes its place: that default's rule goes
    gantry::oci::DeviceNode zero;
    zero.path = "/dev/zero";
    zero.major = 1;
    zero.minor = 5;
    auto without = gantry::runtime::container_device_rules({}, {fuse, zero});
    ASSERT_EQ(without.size(), 10u);
    for (const auto& rule : without)
        EXPECT_NE(gantry::runtime::device_rule_text(rule), "c 1:5 rwm");
    // cgroup v2: no file; the rules are an eBPF program (test_device_filter.cpp), which
    // ContainerCgroup attaches (test_container_cgroup.cpp)
    EXPECT_TRUE(cgroup_writes(r, v2).empty());
    EXPECT_TRUE(writes({{"devices", {{{"allow", true}, {"access", "rwm"}}}}}, v2).empty());
}

TEST(CgroupWrites, RefusedWithTheFieldNamed) {
    EXPECT_EQ(refusal({{"unified", {{"memory.max", "1"}}}}),
              "linux.resources.unified cannot be applied on cgroup v1: it names cgroup v2 files, "
              "and this host's controllers are on cgroup v1 (runc refuses it there too)");
    EXPECT_NE(refusal({{"cpu", {{"realtimeRuntime", 1000}}}}, v2).find("cpu.realtimeRuntime"),
              std::string::npos);
    EXPECT_NE(refusal({{"memory", {{"swappiness", 10}}}}, v2).find("memory.swappiness"),
              std::string::npos);
    EXPECT_NE(refusal({{"memory", {{"limit", 100}, {"swap", 50}}}}, v2).find("is below"),
              std::string::npos);
    auto parse_error = [](const json& j) {
        try {
            LinuxResources::from_json(j);
        } catch (const Error& e) {
            return e.message();
        }
        return std::string();
    };
    EXPECT_EQ(parse_error({{"memory", {{"kernel", 1}}}}),
              "linux.resources.memory.kernel is not supported by gantry: kernel memory limits are "
              "deprecated by the kernel and runc 1.1 does not apply them either");
    EXPECT_EQ(parse_error({{"network", {{"classID", 1}}}}).find("linux.resources.network"), 0u);
    EXPECT_EQ(parse_error({{"memory", {{"limt", 1}}}}),
              "linux.resources.memory.limt is not a field gantry knows");
    EXPECT_EQ(parse_error({{"pids", {{"limit", "x"}}}}),
              "linux.resources.pids.limit is not an integer: \"x\"");
    EXPECT_EQ(parse_error({{"cpu", {{"cpus", "0;rm"}}}}),
              "linux.resources.cpu.cpus is not a list such as 0-3,5: \"0;rm\"");
    EXPECT_EQ(parse_error({{"hugepageLimits", {{{"pageSize", "../x"}, {"limit", 1}}}}}),
              "linux.resources.hugepageLimits[0].pageSize is not a page size such as 2MB: "
              "\"../x\"");
    EXPECT_EQ(parse_error({{"unified", {{"../memory.max", "1"}}}}),
              "linux.resources.unified has a key that is no cgroup file name: \"../memory.max\"");
    EXPECT_EQ(parse_error({{"memory", {{"limit", nullptr}}}}), ""); // Go's nil: not set
    for (const json& j :
         {json{{"memory", {{"useHierarchy", true}}}},
          json{{"memory", {{"checkBeforeUpdate", true}}}}, json{{"cpu", {{"idle", 1}}}},
          json{{"cpu", {{"burst", 1}}}}, json{{"rdma", json::object()}}})
        EXPECT_NE(parse_error(j).find("is not supported by gantry"), std::string::npos) << j;
    EXPECT_NE(parse_error({{"memory", {{"swappiness", 101}}}}).find("out of range"),
              std::string::npos);
    EXPECT_NE(refusal({{"blockIO", {{"leafWeight", 100}}}}, v2).find("blockIO.leafWeight"),
              std::string::npos);
    EXPECT_NE(refusal({{"memory", {{"kernelTCP", 1000000}}}}, v2).find("memory.kernelTCP"),
              std::string::npos);
    EXPECT_NE(refusal({{"memory", {{"disableOOMKiller", true}}}}, v2).find("disableOOMKiller"),
              std::string::npos);
}

TEST(CgroupWrites, UpdateMergesTheFieldsGiven) {
    LinuxResources r =
        LinuxResources::from_json({{"memory", {{"limit", 100}}}, {"pids", {{"limit", 5}}}});
    r.merge(LinuxResources::from_json({{"pids", {{"limit", 7}}}}));
    EXPECT_EQ(*r.memory.limit, 100);
    EXPECT_EQ(*r.pids_limit, 7);
}

TEST(CgroupWrites, GantryRunsFlagsAreTheSameLimits) {
    gantry::runtime::Resources flags;
    flags.memory = 512 * 1024 * 1024;
    flags.cpus = 1.5;
    flags.pids = 100;
    auto w = cgroup_writes(gantry::runtime::to_linux_resources(flags), v2);
    std::vector<std::string> got;
    for (auto& x : w) got.push_back(x.file + "=" + x.value);
    EXPECT_EQ(got, (std::vector<std::string>{"cpu.max=150000 100000", "memory.max=536870912",
                                             "memory.swap.max=536870912", "pids.max=100"}));
}

} // namespace cgroup_writes_test
