// A runtime spec's process fields and kernel settings (issue 37): what RuntimeSpec::from_json
// reads (the five capability sets, umask, oomScoreAdj, domainname, linux.sysctl) and writes back,
// what oci::check_runtime_spec refuses as runc's validator does (or where runc drops a field,
// refuses naming it), a sysctl key's /proc/sys path, and the HOME lookup in /etc/passwd.
#include "oci/passwd.hpp"
#include "oci/runtime_spec.hpp"
#include "oci/spec_checks.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oci_spec_checks_test {

using gantry::Errc;
using gantry::Error;
using nlohmann::json;
namespace oci = gantry::oci;

namespace {

json minimal() {
    return json{{"process", {{"args", {"true"}}, {"cwd", "/"}}},
                {"root", {{"path", "rootfs"}}},
                {"linux", {{"namespaces", json::array({{{"type", "uts"}}, {{"type", "mount"}}})}}}};
}

// The message of the Error check_runtime_spec throws for J ("" when it accepts J).
std::string refusal(const json& j) {
    try {
        oci::check_runtime_spec(oci::RuntimeSpec::from_json(j));
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << e.message();
        EXPECT_FALSE(e.hint().empty()) << e.message();
        return e.message();
    }
    return "";
}

json with_sysctl(json j, const std::string& key, std::vector<std::string> extra_ns = {}) {
    j["linux"]["sysctl"] = {{key, "1"}};
    for (auto& n : extra_ns) j["linux"]["namespaces"].push_back({{"type", n}});
    return j;
}

} // namespace

TEST(OciProcessFields, ReadsTheFiveCapabilitySetsAndWritesThemBack) {
    json j = minimal();
    j["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_CHOWN"}},
                                    {"effective", {"CAP_KILL"}},
                                    {"permitted", {"CAP_KILL", "CAP_CHOWN"}},
                                    {"inheritable", {"CAP_CHOWN"}},
                                    {"ambient", {"CAP_CHOWN"}}};
    auto s = oci::RuntimeSpec::from_json(j);
    EXPECT_EQ(s.capabilities.bounding, (std::vector<std::string>{"CAP_KILL", "CAP_CHOWN"}));
    EXPECT_EQ(s.capabilities.effective, std::vector<std::string>{"CAP_KILL"});
    EXPECT_EQ(s.capabilities.inheritable, std::vector<std::string>{"CAP_CHOWN"});
    EXPECT_EQ(s.capabilities.ambient, std::vector<std::string>{"CAP_CHOWN"});
    EXPECT_EQ(oci::RuntimeSpec::from_json(s.to_json()).capabilities, s.capabilities);
    // no capabilities object: every set empty (runc drops them all)
    EXPECT_EQ(oci::RuntimeSpec::from_json(minimal()).capabilities, oci::CapabilitySets{});
    // gantry run's shape
    auto same = oci::CapabilitySets::same({"CAP_KILL"});
    EXPECT_EQ(same.permitted, std::vector<std::string>{"CAP_KILL"});
    EXPECT_TRUE(same.ambient.empty() && same.inheritable.empty());
}

TEST(OciProcessFields, ReadsUmaskOomScoreAdjDomainnameAndSysctl) {
    json j = minimal();
    j["process"]["user"] = {{"uid", 0}, {"gid", 0}, {"umask", 18}};
    j["process"]["oomScoreAdj"] = -300;
    j["domainname"] = "example.org";
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    auto s = oci::RuntimeSpec::from_json(j);
    EXPECT_EQ(s.umask, 022u);
    EXPECT_EQ(s.oom_score_adj, -300);
    EXPECT_EQ(s.domainname, "example.org");
    EXPECT_EQ(s.sysctl.at("net.ipv4.ip_forward"), "1");
    auto back = oci::RuntimeSpec::from_json(s.to_json());
    EXPECT_EQ(back.umask, s.umask);
    EXPECT_EQ(back.oom_score_adj, s.oom_score_adj);
    EXPECT_EQ(back.domainname, s.domainname);
    EXPECT_EQ(back.sysctl, s.sysctl);
    auto none = oci::RuntimeSpec::from_json(minimal());
    EXPECT_FALSE(none.umask || none.oom_score_adj);
    EXPECT_FALSE(none.to_json()["process"]["user"].contains("umask"));
}

TEST(OciProcessFields, OomScoreAdjOutOfRangeIsRefused) {
    for (int v : {-1001, 1001}) {
        json j = minimal();
        j["process"]["oomScoreAdj"] = v;
        try {
            oci::RuntimeSpec::from_json(j);
            ADD_FAILURE() << v << " accepted";
        } catch (const Error& e) {
            EXPECT_NE(e.message().find("process.oomScoreAdj"), std::string::npos);
        }
    }
    json j = minimal();
    j["process"]["oomScoreAdj"] = 1000;
    EXPECT_EQ(oci::RuntimeSpec::from_json(j).oom_score_adj, 1000);
}

TEST(OciSpecChecks, UnknownCapabilityNamesAreRefusedNamingTheSet) {
    json j = minimal();
    j["process"]["capabilities"] = {{"bounding", {"CAP_KILL"}}, {"effective", {"CAP_EXPLODE"}}};
    std::string m = refusal(j);
    EXPECT_NE(m.find("process.capabilities.effective"), std::string::npos) << m;
    EXPECT_NE(m.find("CAP_EXPLODE"), std::string::npos) << m;
    j["process"]["capabilities"] = {{"bounding", {"cap_kill"}}}; // runc knows upper case only
    EXPECT_NE(refusal(j).find("cap_kill"), std::string::npos);
    j["process"]["capabilities"] = {{"bounding", {"CAP_CHECKPOINT_RESTORE", "CAP_KILL"}}};
    EXPECT_EQ(refusal(j), "");
}

TEST(OciSpecChecks, AmbientNeedsPermittedAndInheritable) {
    json j = minimal();
    j["process"]["capabilities"] = {{"permitted", {"CAP_KILL"}}, {"ambient", {"CAP_KILL"}}};
    std::string m = refusal(j);
    EXPECT_NE(m.find("process.capabilities.ambient"), std::string::npos) << m;
    j["process"]["capabilities"]["inheritable"] = {"CAP_KILL"};
    EXPECT_EQ(refusal(j), "");
}

TEST(OciSpecChecks, SysctlsFollowRuncsNamespaceRules) {
    // net.* needs a network namespace
    EXPECT_NE(refusal(with_sysctl(minimal(), "net.ipv4.ip_forward")).find("network namespace"),
              std::string::npos);
    EXPECT_EQ(refusal(with_sysctl(minimal(), "net.ipv4.ip_forward", {"network"})), "");
    EXPECT_EQ(refusal(with_sysctl(minimal(), "net/ipv4/conf/eth0.100/rp_filter", {"network"})), "");
    // kernel.shm*, msg*, sem and fs.mqueue.* need an IPC namespace
    for (auto* k : {"kernel.shmmax", "kernel.msgmnb", "kernel.sem", "fs.mqueue.msg_max",
                    "kernel/shm_rmid_forced"}) {
        EXPECT_NE(refusal(with_sysctl(minimal(), k)).find("IPC namespace"), std::string::npos) << k;
        EXPECT_EQ(refusal(with_sysctl(minimal(), k, {"ipc"})), "") << k;
    }
    // kernel.domainname with the UTS namespace; kernel.hostname conflicts with hostname
    EXPECT_EQ(refusal(with_sysctl(minimal(), "kernel.domainname")), "");
    EXPECT_NE(refusal(with_sysctl(minimal(), "kernel.hostname")).find("\"hostname\" field"),
              std::string::npos);
    json no_uts = minimal();
    no_uts["linux"]["namespaces"] = json::array();
    EXPECT_NE(refusal(with_sysctl(no_uts, "kernel.domainname")).find("not in a separate"),
              std::string::npos);
    // anything else is the host's
    for (auto* k : {"vm.swappiness", "kernel.pid_max", "fs.file-max"})
        EXPECT_NE(refusal(with_sysctl(minimal(), k, {"ipc", "network"})).find("not in a separate"),
                  std::string::npos)
            << k;
    // not a name
    for (auto* k : {"net..ipv4", "net/../../etc/passwd", "", "net.ipv4."})
        EXPECT_NE(refusal(with_sysctl(minimal(), k, {"network"})).find("not a sysctl name"),
                  std::string::npos)
            << k;
}

TEST(OciSpecChecks, SysctlKeysBothSpellings) {
    EXPECT_EQ(oci::sysctl_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
    EXPECT_EQ(oci::sysctl_path("net/ipv4/ip_forward"), "net/ipv4/ip_forward");
    EXPECT_EQ(oci::sysctl_path("net.ipv4.conf.eth0/100.rp_filter"),
              "net/ipv4/conf/eth0.100/rp_filter");
    EXPECT_EQ(oci::sysctl_path("net/ipv4/conf/eth0.100/rp_filter"),
              "net/ipv4/conf/eth0.100/rp_filter");
    EXPECT_EQ(oci::sysctl_dotted("net/ipv4/conf/eth0.100/rp_filter"),
              "net.ipv4.conf.eth0/100.rp_filter");
    EXPECT_EQ(oci::sysctl_dotted("kernel.sem"), "kernel.sem");
}

TEST(OciSpecChecks, HostnameDomainnameNeedUtsAndCwdIsAbsolute) {
    json j = minimal();
    j["hostname"] = "box";
    j["domainname"] = "example.org";
    EXPECT_EQ(refusal(j), "");
    j["linux"]["namespaces"] = json::array({{{"type", "mount"}}});
    EXPECT_NE(refusal(j).find("hostname \"box\" needs a UTS namespace"), std::string::npos);
    j.erase("hostname");
    EXPECT_NE(refusal(j).find("domainname \"example.org\" needs a UTS namespace"),
              std::string::npos);
    json c = minimal();
    c["process"]["cwd"] = "work";
    EXPECT_NE(refusal(c).find("process.cwd \"work\""), std::string::npos);
}

TEST(OciPasswd, FirstEntryOfTheUidWins) {
    std::string passwd = "root:x:0:0:root:/root:/bin/sh\n"
                         "bad:x:x1:0::/bad:/bin/sh\n"
                         "short:x:5:5\n"
                         "a:x:1000:1000::/home/a:/bin/sh\n"
                         "b:x:1000:1000::/home/b:/bin/sh\n";
    EXPECT_EQ(oci::passwd_entry(passwd, 0)->home, "/root");
    EXPECT_EQ(oci::passwd_entry(passwd, 1000)->home, "/home/a");
    EXPECT_FALSE(oci::passwd_entry(passwd, 5));
    EXPECT_FALSE(oci::passwd_entry(passwd, 42));
    EXPECT_FALSE(oci::passwd_entry("", 0));
}

} // namespace oci_spec_checks_test
