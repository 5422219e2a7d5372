// process.scheduler, process.ioPriority and linux.memoryPolicy (runtime-spec 1.2; issue 52): what
// RuntimeSpec reads of them, the refusals with runc's rules (each naming the field), the node
// list's strict parse, and the round trip through to_json.
#include "oci/runtime_spec.hpp"
#include "oci/scheduling.hpp"
#include "oci/spec_fields.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oci_scheduling_test {

using gantry::Errc;
using gantry::Error;
using nlohmann::json;
namespace oci = gantry::oci;

namespace {

json sched_config() {
    return json{{"process", {{"args", {"true"}}, {"cwd", "/"}}}, {"root", {{"path", "rootfs"}}}};
}

// The message of the Error that F throws (Errc::invalid), "" when it throws none.
template <class F>
std::string sched_refusal(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << e.message();
        return e.message();
    }
    return "";
}

std::string scheduler_refusal(const json& s) {
    return sched_refusal([&] { (void)oci::parse_scheduler(s); });
}

std::string mpol_refusal(const json& m) {
    return sched_refusal([&] { (void)oci::parse_memory_policy(m); });
}

} // namespace

TEST(OciScheduling, SchedulerReadIntoTheSpecAndWrittenBack) {
    json c = sched_config();
    c["process"]["scheduler"] = {
        {"policy", "SCHED_FIFO"}, {"priority", 10}, {"flags", {"SCHED_FLAG_RESET_ON_FORK"}}};
    c["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_BE"}, {"priority", 6}};
    auto s = oci::RuntimeSpec::from_json(c);
    ASSERT_TRUE(s.scheduler && s.io_priority);
    EXPECT_EQ(s.scheduler->policy_number, 1u);
    EXPECT_EQ(s.scheduler->priority, 10);
    EXPECT_EQ(s.scheduler->flag_bits, 1u);
    EXPECT_EQ(s.io_priority->value(), 2 << 13 | 6);
    auto again = oci::RuntimeSpec::from_json(s.to_json());
    EXPECT_EQ(again.scheduler, s.scheduler);
    EXPECT_EQ(again.io_priority, s.io_priority);
    EXPECT_FALSE(oci::RuntimeSpec::from_json(sched_config()).scheduler);
}

TEST(OciScheduling, SchedulerPoliciesAndTheirNumbers) {
    for (auto [name, number] : std::vector<std::pair<std::string, unsigned>>{
             {"SCHED_OTHER", 0}, {"SCHED_BATCH", 3}, {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}})
        EXPECT_EQ(oci::parse_scheduler({{"policy", name}}).policy_number, number) << name;
    auto d = oci::parse_scheduler(
        {{"policy", "SCHED_DEADLINE"}, {"runtime", 10000}, {"deadline", 20000}, {"period", 30000}});
    EXPECT_EQ(d.runtime, 10000u);
    EXPECT_EQ(d.period, 30000u);
}

TEST(OciScheduling, SchedulerRefusalsNameTheField) {
    EXPECT_NE(scheduler_refusal(json::object()).find("process.scheduler.policy is missing"),
              std::string::npos);
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_FAST"}}).find("process.scheduler.policy"),
              std::string::npos);
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_ISO"}}).find("SCHED_ISO"), std::string::npos);
    EXPECT_NE(
        scheduler_refusal({{"policy", "SCHED_OTHER"}, {"nice", 20}}).find("process.scheduler.nice"),
        std::string::npos);
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"nice", -21}}), "");
    EXPECT_EQ(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"nice", -20}}), "");
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"nice", 1.5}}), "");
    // priority: 1-99 for FIFO and RR, only for them
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_FIFO"}}).find("process.scheduler.priority"),
              std::string::npos);
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_RR"}, {"priority", 100}}), "");
    EXPECT_EQ(scheduler_refusal({{"policy", "SCHED_RR"}, {"priority", 99}}), "");
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"priority", 5}})
                  .find("only for SCHED_FIFO and SCHED_RR"),
              std::string::npos);
    // deadline fields only for SCHED_DEADLINE
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"runtime", 1}})
                  .find("only for SCHED_DEADLINE"),
              std::string::npos);
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_DEADLINE"}, {"period", -1}}), "");
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"flags", {"SCHED_FLAG_FAST"}}})
                  .find("process.scheduler.flags[0]"),
              std::string::npos);
    EXPECT_NE(scheduler_refusal({{"policy", "SCHED_OTHER"}, {"flags", "SCHED_FLAG_RECLAIM"}}), "");
    EXPECT_NE(scheduler_refusal("SCHED_OTHER").find("not an object"), std::string::npos);
}

TEST(OciScheduling, IoPriorityRefusals) {
    auto io = [](const json& j) { return sched_refusal([&] { (void)oci::parse_io_priority(j); }); };
    EXPECT_EQ(io({{"class", "IOPRIO_CLASS_RT"}, {"priority", 0}}), "");
    EXPECT_EQ(oci::parse_io_priority({{"class", "IOPRIO_CLASS_IDLE"}, {"priority", 7}}).value(),
              3 << 13 | 7);
    // IDLE has no levels: its priority may be left out (runc 1.2's and crun's zero)
    EXPECT_EQ(oci::parse_io_priority({{"class", "IOPRIO_CLASS_IDLE"}}).value(), 3 << 13);
    EXPECT_NE(
        io({{"class", "IOPRIO_CLASS_BE"}, {"priority", 8}}).find("process.ioPriority.priority"),
        std::string::npos);
    EXPECT_NE(io({{"class", "IOPRIO_CLASS_BE"}, {"priority", -1}}), "");
    EXPECT_NE(
        io({{"class", "IOPRIO_CLASS_NONE"}, {"priority", 0}}).find("process.ioPriority.class"),
        std::string::npos);
    EXPECT_NE(io({{"class", "IOPRIO_CLASS_BE"}}).find("priority is missing"), std::string::npos);
}

TEST(OciScheduling, NodeListParsedStrictly) {
    const unsigned long all = ~0ul;
    EXPECT_EQ(oci::parse_node_list("0", "n"), std::vector<unsigned long>{1});
    EXPECT_EQ(oci::parse_node_list("0-3,7", "n"), std::vector<unsigned long>{0x8f});
    EXPECT_EQ(oci::parse_node_list("0-63", "n"), std::vector<unsigned long>{all});
    EXPECT_EQ(oci::parse_node_list("64", "n"), (std::vector<unsigned long>{0, 1}));
    EXPECT_EQ(oci::parse_node_list("1023", "n").size(), 16u);
    EXPECT_TRUE(oci::parse_node_list("", "n").empty());
    for (const char* bad : {"1024", "99999999999999999999", "3-1", "0,", ",0", "0,,1", " 0", "0 ",
                            "-1", "0-", "a", "0-3-5", "0x1", "+1", "1;2"})
        EXPECT_NE(sched_refusal([&] {
                      (void)oci::parse_node_list(bad, "linux.memoryPolicy.nodes");
                  }).find("linux.memoryPolicy.nodes"),
                  std::string::npos)
            << bad;
}

TEST(OciScheduling, MemoryPolicyReadWithRuncsRules) {
    json c = sched_config();
    c["linux"] = {
        {"memoryPolicy",
         {{"mode", "MPOL_INTERLEAVE"}, {"nodes", "0-1"}, {"flags", {"MPOL_F_STATIC_NODES"}}}}};
    auto s = oci::RuntimeSpec::from_json(c);
    ASSERT_TRUE(s.memory_policy);
    EXPECT_EQ(s.memory_policy->mode_number, 3);
    EXPECT_EQ(s.memory_policy->flag_bits, 1 << 15);
    EXPECT_EQ(s.memory_policy->node_mask, std::vector<unsigned long>{3});
    EXPECT_EQ(oci::RuntimeSpec::from_json(s.to_json()).memory_policy, s.memory_policy);
    // DEFAULT and LOCAL take no node; BIND, INTERLEAVE, PREFERRED_MANY, WEIGHTED_INTERLEAVE one
    // or more; PREFERRED either (none: local allocation)
    EXPECT_EQ(mpol_refusal({{"mode", "MPOL_DEFAULT"}}), "");
    EXPECT_EQ(mpol_refusal({{"mode", "MPOL_PREFERRED"}}), "");
    EXPECT_EQ(mpol_refusal({{"mode", "MPOL_PREFERRED"}, {"nodes", "0"}}), "");
    EXPECT_NE(mpol_refusal({{"mode", "MPOL_LOCAL"}, {"nodes", "0"}}).find("must be empty"),
              std::string::npos);
    for (const char* m :
         {"MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"})
        EXPECT_NE(mpol_refusal({{"mode", m}}).find("needs at least one node"), std::string::npos)
            << m;
    EXPECT_NE(mpol_refusal({{"mode", "MPOL_SPREAD"}}).find("linux.memoryPolicy.mode"),
              std::string::npos);
    EXPECT_NE(mpol_refusal({{"nodes", "0"}}).find("mode is missing"), std::string::npos);
    EXPECT_NE(mpol_refusal({{"mode", "MPOL_BIND"}, {"nodes", 0}}).find("not a string"),
              std::string::npos);
    EXPECT_NE(mpol_refusal({{"mode", "MPOL_BIND"},
                            {"nodes", "0"},
                            {"flags", {"MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"}}})
                  .find("exclude each other"),
              std::string::npos);
    EXPECT_NE(mpol_refusal({{"mode", "MPOL_BIND"}, {"nodes", "0"}, {"flags", {"MPOL_F_FAST"}}})
                  .find("linux.memoryPolicy.flags[0]"),
              std::string::npos);
}

TEST(OciScheduling, UnknownKeysInsideTheObjectsRefused) {
    json c = sched_config();
    c["process"]["scheduler"] = {{"policy", "SCHED_OTHER"}, {"niceness", 1}};
    EXPECT_NE(sched_refusal([&] { oci::check_spec_fields(c); }).find("process.scheduler.niceness"),
              std::string::npos);
    c = sched_config();
    c["linux"] = {{"memoryPolicy", {{"mode", "MPOL_BIND"}, {"node", "0"}}}};
    EXPECT_NE(sched_refusal([&] { oci::check_spec_fields(c); }).find("linux.memoryPolicy.node"),
              std::string::npos);
    c = sched_config();
    c["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_BE"}, {"priority", 1}};
    c["process"]["scheduler"] = {{"policy", "SCHED_BATCH"}, {"nice", 5}};
    c["linux"] = {{"memoryPolicy", {{"mode", "MPOL_BIND"}, {"nodes", "0"}}}};
    EXPECT_EQ(sched_refusal([&] { oci::check_spec_fields(c); }), "");
}

} // namespace oci_scheduling_test
