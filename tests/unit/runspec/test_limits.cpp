// docker's --ulimit, --ipc, --pid and --shm-size in the OCI spec (spec/builder.hpp): parsing, the
// namespaces and /dev/shm mounts they give, and process.rlimits in config.json.
#include "oci/runtime_spec.hpp"
#include "runspec/builder.hpp"
#include "runtime/resources.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>

namespace runspec_limits_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::Mount;
using gantry::oci::Rlimit;
using gantry::oci::RuntimeSpec;
namespace runspec = gantry::runspec;

namespace {

constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

// The message of the Error(usage) parse_ulimit throws (fails the test when there is none).
std::string refused(const std::string& text) {
    try {
        runspec::parse_ulimit(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage) << text;
        return e.message();
    }
    ADD_FAILURE() << text << " was accepted";
    return "";
}

const Mount* mount_at(const RuntimeSpec& s, const std::string& dst) {
    auto it = std::find_if(s.mounts.begin(), s.mounts.end(),
                           [&](const Mount& m) { return m.destination == dst; });
    return it == s.mounts.end() ? nullptr : &*it;
}
// A pointer into a spec destroyed at the end of the statement: refused at compile time.
const Mount* mount_at(RuntimeSpec&& s, const std::string& dst) = delete;

RuntimeSpec build(const runspec::RunOptions& o) {
    return runspec::build(nlohmann::json{{"config", {{"Cmd", {"sh"}}}}}, o);
}

} // namespace

TEST(Ulimit, ParsesDockersForms) {
    EXPECT_EQ(runspec::parse_ulimit("nofile=1024:4096"), (Rlimit{"RLIMIT_NOFILE", 1024, 4096}));
    EXPECT_EQ(runspec::parse_ulimit("stack=67108864"),
              (Rlimit{"RLIMIT_STACK", 67108864, 67108864})); // one value: soft and hard
    EXPECT_EQ(runspec::parse_ulimit("memlock=-1"),
              (Rlimit{"RLIMIT_MEMLOCK", kUnlimited, kUnlimited}));
    EXPECT_EQ(runspec::parse_ulimit("core=0:unlimited"), (Rlimit{"RLIMIT_CORE", 0, kUnlimited}));
}

TEST(Ulimit, RefusesWhatDockerRefuses) {
    EXPECT_NE(refused("nofile").find("invalid --ulimit"), std::string::npos);
    EXPECT_NE(refused("files=10").find("unknown --ulimit \"files\""), std::string::npos);
    EXPECT_NE(refused("files=10").find("nofile"), std::string::npos); // names the known ones
    EXPECT_NE(refused("nofile=ten").find("value \"ten\""), std::string::npos);
    EXPECT_NE(refused("nofile=-2").find("value \"-2\""), std::string::npos);
    EXPECT_NE(refused("nofile=10:").find("value \"\""), std::string::npos);
    EXPECT_NE(refused("nofile=4096:1024").find("soft limit is above the hard"), std::string::npos);
    EXPECT_NE(refused("nofile=-1:1024").find("soft limit is above the hard"), std::string::npos);
}

TEST(Ulimit, TheLastOfANameWins) {
    auto all = runspec::parse_ulimits({"nofile=10", "memlock=-1", "nofile=20:30"});
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0], (Rlimit{"RLIMIT_MEMLOCK", kUnlimited, kUnlimited}));
    EXPECT_EQ(all[1], (Rlimit{"RLIMIT_NOFILE", 20, 30}));
}

TEST(Ulimit, RlimitsRoundTripThroughConfigJson) {
    runspec::RunOptions o;
    o.rlimits = runspec::parse_ulimits({"memlock=-1", "nofile=1024:2048"});
    auto s = build(o);
    auto j = s.to_json();
    ASSERT_TRUE(j["process"].contains("rlimits"));
    EXPECT_EQ(j["process"]["rlimits"][0]["type"], "RLIMIT_MEMLOCK");
    EXPECT_EQ(j["process"]["rlimits"][0]["hard"].get<std::uint64_t>(), kUnlimited);
    EXPECT_EQ(j["process"]["rlimits"][1]["soft"].get<std::uint64_t>(), 1024u);
    EXPECT_EQ(RuntimeSpec::from_json(j).rlimits, o.rlimits);
    EXPECT_FALSE(build({}).to_json()["process"].contains("rlimits")); // none by default
}

TEST(Ipc, PrivateByDefaultWithA64MiBShm) {
    runspec::RunOptions o;
    auto s = build(o);
    EXPECT_TRUE(s.has_namespace("ipc"));
    const Mount* shm = mount_at(s, "/dev/shm");
    ASSERT_NE(shm, nullptr);
    EXPECT_EQ(shm->type, "tmpfs");
    EXPECT_NE(std::find(shm->options.begin(), shm->options.end(), "size=65536k"),
              shm->options.end());
    ASSERT_NE(mount_at(s, "/dev/mqueue"), nullptr);
    EXPECT_EQ(mount_at(s, "/dev/mqueue")->type, "mqueue");
}

TEST(Ipc, ShmSizeSetsTheTmpfsSize) {
    runspec::RunOptions o;
    o.shm_size = gantry::runtime::parse_ram_size("8g", "--shm-size");
    EXPECT_EQ(*o.shm_size, 8ull << 30); // docker's binary units
    auto s = build(o); // kept: shm points into it (make test-asan found it read freed)
    const Mount* shm = mount_at(s, "/dev/shm");
    ASSERT_NE(shm, nullptr);
    EXPECT_NE(std::find(shm->options.begin(), shm->options.end(), "size=8589934592"),
              shm->options.end());
}

TEST(Ipc, HostSharesTheNamespaceAndTheHostsShm) {
    runspec::RunOptions o;
    o.ipc_host = true;
    auto s = build(o);
    EXPECT_FALSE(s.has_namespace("ipc"));
    EXPECT_EQ(runspec::namespaces(o), s.namespaces); // what the early start creates
    const Mount* shm = mount_at(s, "/dev/shm");
    ASSERT_NE(shm, nullptr);
    EXPECT_EQ(shm->type, "bind");
    EXPECT_EQ(shm->source, "/dev/shm");
    // a fresh mqueue would belong to the host's IPC namespace, which a user namespace cannot
    // mount: the host's own is bound when it has one, else there is none
    if (const Mount* mq = mount_at(s, "/dev/mqueue")) {
        EXPECT_EQ(mq->type, "bind");
    }
}

TEST(Ipc, ShmSizeNamesItsFlag) {
    try {
        gantry::runtime::parse_ram_size("lots", "--shm-size");
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.message().rfind("--shm-size: invalid value \"lots\"", 0), 0u) << e.message();
    }
}

TEST(Pid, HostSharesTheNamespaceAndBindsTheHostsProc) {
    runspec::RunOptions o;
    EXPECT_TRUE(build(o).has_namespace("pid"));
    o.pid_host = true;
    auto s = build(o);
    EXPECT_FALSE(s.has_namespace("pid"));
    EXPECT_EQ(runspec::namespaces(o), s.namespaces); // what the early start creates
    // a procfs of the host's PID namespace may not be mounted from a user namespace: bound
    const Mount* proc = mount_at(s, "/proc");
    ASSERT_NE(proc, nullptr);
    EXPECT_EQ(proc->type, "bind");
    EXPECT_EQ(proc->source, "/proc");
    EXPECT_NE(std::find(proc->options.begin(), proc->options.end(), "rbind"), proc->options.end());
}

} // namespace runspec_limits_test
