// ocirt: a container's state under --root. save() and parse_state() round-trip every field; a
// damaged state.json is refused naming the container and the directory to remove; ids follow
// runc's rule; a second claim of an id is a conflict; an unknown id is runc's "does not exist".
#include "../support/temp_dir.hpp"
#include "ocirt/container.hpp"
#include "ocirt/state_file.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ocirt_state_test {

using namespace gantry;
using nlohmann::json;

namespace {

const json& config() {
    static const json c = {{"ociVersion", "1.0.2"},
                           {"process", {{"args", {"true"}}, {"cwd", "/"}}},
                           {"root", {{"path", "rootfs"}}}};
    return c;
}

json state(const std::string& id) {
    return {{"id", id},
            {"bundle", "/b"},
            {"rootfs", "/b/rootfs"},
            {"created", "2026-11-25T12:00:00.000000000Z"},
            {"pid", 4242},
            {"pid_start", 123456},
            {"config", config()}};
}

std::optional<std::string> refusal(const json& j, const std::string& id = "ctr") {
    try {
        ocirt::parse_state(j.dump(), id, "/run/gantry-oci/" + id);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.hint().find("/run/gantry-oci/" + id), std::string::npos) << e.hint();
        return e.message();
    }
    return std::nullopt;
}

} // namespace

TEST(OcirtState, SaveAndParseRoundTrip) {
    unit_support::TempDir root("gantry-ocirt-test");
    ocirt::Global g;
    g.root = root.path.string();
    auto dir = ocirt::claim(g, "ctr");
    ocirt::Container c;
    c.id = "ctr";
    c.bundle = "/b";
    c.rootfs = "/b/rootfs";
    c.created = "2026-11-25T12:00:00.000000000Z";
    c.pid = 4242;
    c.pid_start = 99;
    c.config = config();
    c.cgroup = {{"path", "/sys/fs/cgroup/x"}};
    c.monitor = 777;
    c.monitor_started = 55;
    c.container_dir = dir.string();
    ocirt::save(c);
    auto back = ocirt::load(g, "ctr");
    EXPECT_EQ(back.id, "ctr");
    EXPECT_EQ(back.bundle, "/b");
    EXPECT_EQ(back.rootfs, "/b/rootfs");
    EXPECT_EQ(back.created, c.created);
    EXPECT_EQ(back.pid, 4242);
    EXPECT_EQ(back.pid_start, 99u);
    EXPECT_EQ(back.config, c.config);
    EXPECT_EQ(back.cgroup, c.cgroup);
    EXPECT_EQ(back.monitor, 777);
    EXPECT_EQ(back.monitor_started, 55u);
    EXPECT_EQ(ocirt::record_dir(back), dir);
    EXPECT_EQ(back.spec.args, (std::vector<std::string>{"true"}));
}

TEST(OcirtState, DamagedStatesAreRefusedNamingTheContainer) {
    EXPECT_EQ(refusal(state("ctr")), std::nullopt);
    auto other = refusal(state("other"));
    ASSERT_TRUE(other);
    EXPECT_NE(other->find("the state of container ctr is damaged"), std::string::npos);
    EXPECT_NE(other->find("\"other\""), std::string::npos);
    for (const json& pid : {json(-1), json(0), json(1e120), json("42"), json(4194305)}) {
        json j = state("ctr");
        j["pid"] = pid;
        EXPECT_TRUE(refusal(j)) << pid.dump();
    }
    json no_config = state("ctr");
    no_config["config"] = json::array();
    EXPECT_TRUE(refusal(no_config));
    json bad_spec = state("ctr");
    bad_spec["config"].erase("process");
    EXPECT_TRUE(refusal(bad_spec));
    json bad_cgroup = state("ctr");
    bad_cgroup["cgroup"] = "x";
    EXPECT_TRUE(refusal(bad_cgroup));
    // a lazy root's monitor (ocirt/lazy_root.hpp): a process, or the state is damaged
    json monitor = state("ctr");
    monitor["monitor"] = {{"pid", 31}, {"start", 7}};
    EXPECT_EQ(refusal(monitor), std::nullopt);
    for (const json& m : {json({{"pid", 0}, {"start", 7}}), json({{"pid", -3}, {"start", 7}}),
                          json({{"pid", 1e120}, {"start", 7}}), json({{"pid", 31}}),
                          json({{"pid", 31}, {"start", "7"}}), json("31")}) {
        json j = state("ctr");
        j["monitor"] = m;
        EXPECT_TRUE(refusal(j)) << m.dump();
    }
    json missing = state("ctr");
    missing.erase("bundle");
    EXPECT_TRUE(refusal(missing));
    EXPECT_THROW(ocirt::parse_state("{not json", "ctr", "/d"), Error);
    EXPECT_THROW(ocirt::parse_state("[]", "ctr", "/d"), Error);
}

TEST(OcirtState, IdsClaimsAndMissingContainers) {
    for (const char* ok : {"a", "ctr-1", "x_y.z+w", "A9"}) EXPECT_NO_THROW(ocirt::check_id(ok));
    for (const char* bad : {"", ".", "..", "a/b", "a b", "../x"})
        EXPECT_THROW(ocirt::check_id(bad), Error) << bad;
    unit_support::TempDir root("gantry-ocirt-test");
    ocirt::Global g;
    g.root = root.path.string();
    ocirt::claim(g, "one");
    try {
        ocirt::claim(g, "one");
        FAIL() << "a second claim succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::conflict);
        EXPECT_NE(e.message().find("container with id exists: one"), std::string::npos);
    }
    EXPECT_FALSE(ocirt::find(g, "two").has_value());
    EXPECT_FALSE(ocirt::find(g, "one").has_value()); // claimed, no state written yet
    try {
        ocirt::load(g, "two");
        FAIL() << "an unknown container loaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find("container does not exist: two"), std::string::npos);
    }
}

} // namespace ocirt_state_test
