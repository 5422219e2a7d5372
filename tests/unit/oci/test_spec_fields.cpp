// What oci::check_spec_fields accepts and refuses of a config.json's namespaces and mount
// propagation (issue 52): a pid namespace joined by path (a pod's), none (the host's), the
// combinations with a new user namespace the kernel cannot serve, the propagation options of
// mounts and linux.rootfsPropagation; idmapped mounts (issue 73: the mount's maps, runc 1.2's
// idmap and ridmap options, the container's maps they take); and what RuntimeSpec reads of them.
#include "oci/runtime_spec.hpp"
#include "oci/spec_fields.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oci_spec_fields_test {

using gantry::Errc;
using gantry::Error;
using nlohmann::json;
namespace oci = gantry::oci;

namespace {

json proc_mount() {
    return {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}};
}

// A config with NAMESPACES and a /proc mount.
json config(std::initializer_list<json> namespaces) {
    return json{{"process", {{"args", {"true"}}, {"cwd", "/"}}},
                {"root", {{"path", "rootfs"}}},
                {"mounts", json::array({proc_mount()})},
                {"linux", {{"namespaces", json(std::vector<json>(namespaces))}}}};
}

json user_maps(json j) {
    j["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}});
    j["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}});
    return j;
}

// The message of the Error check_spec_fields throws for J ("" when it accepts J).
std::string refusal(const json& j) {
    try {
        oci::check_spec_fields(j);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << e.message();
        EXPECT_FALSE(e.hint().empty()) << e.message();
        return e.message();
    }
    return "";
}

json ns(const char* type) {
    return {{"type", type}};
}
json ns(const char* type, const char* path) {
    return {{"type", type}, {"path", path}};
}

} // namespace

TEST(SpecFields, PidNamespaceJoinedByPathIsAccepted) {
    EXPECT_EQ(refusal(config({ns("mount"), ns("network"), ns("pid", "/proc/42/ns/pid")})), "");
    // RuntimeSpec keeps it as a path to join, not a namespace to make
    auto s = oci::RuntimeSpec::from_json(config({ns("mount"), ns("pid", "/proc/42/ns/pid")}));
    EXPECT_EQ(s.namespace_paths.at("pid"), "/proc/42/ns/pid");
    EXPECT_EQ(std::count(s.namespaces.begin(), s.namespaces.end(), "pid"), 0);
    EXPECT_TRUE(s.has_namespace("pid"));
}

TEST(SpecFields, NoPidNamespaceIsTheHostsAndAccepted) {
    EXPECT_EQ(refusal(config({ns("mount"), ns("ipc")})), "");
    auto s = oci::RuntimeSpec::from_json(config({ns("mount")}));
    EXPECT_FALSE(s.has_namespace("pid"));
}

TEST(SpecFields, RelativePidPathRefused) {
    EXPECT_NE(refusal(config({ns("mount"), ns("pid", "proc/42/ns/pid")})).find("absolute"),
              std::string::npos);
}

TEST(SpecFields, MountAndTimePathsStillRefused) {
    for (const char* type : {"mount", "time"}) {
        std::string m = refusal(config({ns("pid"), ns(type, "/proc/42/ns/x")}));
        EXPECT_NE(m.find("linux.namespaces[1].path"), std::string::npos) << m;
        EXPECT_NE(m.find(std::string("joining an existing ") + type), std::string::npos) << m;
    }
}

TEST(SpecFields, ProcessUmaskNamesTheSpecsField) {
    json c = config({ns("mount")});
    c["process"]["umask"] = 23;
    EXPECT_NE(refusal(c).find("process.umask is not supported by gantry: the runtime-spec's umask "
                              "is process.user.umask"),
              std::string::npos)
        << refusal(c);
}

TEST(SpecFields, UserPathJoinedWithThePodsOtherNamespaces) {
    // a pod's container: the sandbox's user namespace and those it owns, by path (rootless
    // pods); with a proc mount in the joined PID namespace, which the user namespace owns
    EXPECT_EQ(refusal(config({ns("user", "/proc/42/ns/user"), ns("pid", "/proc/42/ns/pid"),
                              ns("network", "/proc/42/ns/net"), ns("mount")})),
              "");
    EXPECT_NE(refusal(config({ns("mount"), ns("user", "proc/42/ns/user")})).find("absolute"),
              std::string::npos);
}

TEST(SpecFields, NewUserNamespaceInAPidNamespaceItDidNotMakeRefused) {
    // joined by path, or the host's: its /proc cannot be mounted
    std::string joined =
        refusal(user_maps(config({ns("user"), ns("mount"), ns("pid", "/proc/42/ns/pid")})));
    EXPECT_NE(joined.find("a pid path with a new user namespace"), std::string::npos) << joined;
    EXPECT_NE(joined.find("procfs needs CAP_SYS_ADMIN"), std::string::npos) << joined;
    std::string host = refusal(user_maps(config({ns("user"), ns("mount")})));
    EXPECT_NE(host.find("no pid namespace (the host's)"), std::string::npos) << host;
    // without a proc mount (rootless podman --pid=host binds the host's /proc), accepted
    json bound = user_maps(config({ns("user"), ns("mount")}));
    bound["mounts"] = json::array({{{"destination", "/proc"},
                                    {"type", "bind"},
                                    {"source", "/proc"},
                                    {"options", {"rbind"}}}});
    EXPECT_EQ(refusal(bound), "");
    // with a PID namespace of its own, accepted
    EXPECT_EQ(refusal(user_maps(config({ns("user"), ns("mount"), ns("pid")}))), "");
}

TEST(SpecFields, EveryPropagationOptionOfAMountIsAccepted) {
    for (const char* o : {"shared", "rshared", "slave", "rslave", "private", "rprivate",
                          "unbindable", "runbindable"}) {
        json j = config({ns("mount"), ns("pid")});
        j["mounts"].push_back({{"destination", "/vol"},
                               {"type", "bind"},
                               {"source", "/srv"},
                               {"options", {"rbind", o}}});
        EXPECT_EQ(refusal(j), "") << o;
    }
}

TEST(SpecFields, RootfsPropagationValues) {
    for (const char* p : {"shared", "rshared", "slave", "rslave", "private", "rprivate",
                          "unbindable", "runbindable", ""}) {
        json j = config({ns("mount"), ns("pid")});
        j["linux"]["rootfsPropagation"] = p;
        EXPECT_EQ(refusal(j), "") << p;
        EXPECT_EQ(oci::RuntimeSpec::from_json(j).rootfs_propagation, p);
    }
    json j = config({ns("mount"), ns("pid")});
    j["linux"]["rootfsPropagation"] = "rsharde";
    std::string m = refusal(j);
    EXPECT_NE(m.find("linux.rootfsPropagation \"rsharde\""), std::string::npos) << m;
}

TEST(SpecFields, RootfsPropagationRoundTrips) {
    json j = config({ns("mount"), ns("pid")});
    j["linux"]["rootfsPropagation"] = "rshared";
    auto back = oci::RuntimeSpec::from_json(oci::RuntimeSpec::from_json(j).to_json());
    EXPECT_EQ(back.rootfs_propagation, "rshared");
    EXPECT_FALSE(oci::RuntimeSpec{}.to_json()["linux"].contains("rootfsPropagation"));
}

json idmapped_bind() {
    json maps = json::array({{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}});
    return {{"destination", "/idm"}, {"type", "bind"},      {"source", "/srv"},
            {"options", {"rbind"}},  {"uidMappings", maps}, {"gidMappings", maps}};
}

TEST(SpecFields, IdmappedBindsAcceptedAndReadIntoTheMount) {
    json j = config({ns("mount"), ns("pid")});
    j["mounts"].push_back(idmapped_bind());
    EXPECT_EQ(refusal(j), "");
    auto s = oci::RuntimeSpec::from_json(j);
    ASSERT_EQ(s.mounts.size(), 2u);
    ASSERT_EQ(s.mounts[1].uid_mappings.size(), 1u);
    EXPECT_EQ(s.mounts[1].uid_mappings[0].host_id, 1000u);
    EXPECT_EQ(s.mounts[1].gid_mappings.size(), 1u);
    EXPECT_TRUE(s.mounts[0].uid_mappings.empty());
    auto back = oci::RuntimeSpec::from_json(s.to_json());
    EXPECT_EQ(back.mounts[1].gid_mappings[0].host_id, 1000u);
    EXPECT_FALSE(back.to_json()["mounts"][0].contains("uidMappings"));
}

TEST(SpecFields, IdmappedMountsNeedBothMapsAndABind) {
    json j = config({ns("mount"), ns("pid")});
    json m = idmapped_bind();
    m.erase("gidMappings");
    j["mounts"].push_back(m);
    std::string msg = refusal(j);
    EXPECT_NE(msg.find("mounts[1].gidMappings is missing"), std::string::npos) << msg;
    j = config({ns("mount"), ns("pid")});
    m = idmapped_bind();
    m["type"] = "tmpfs";
    m["options"] = {"nosuid"};
    j["mounts"].push_back(m);
    msg = refusal(j);
    EXPECT_NE(msg.find("mounts[1].uidMappings"), std::string::npos) << msg;
    EXPECT_NE(msg.find("only a bind mount"), std::string::npos) << msg;
}

json bind_with(std::initializer_list<const char*> options) {
    json o = json::array();
    for (const char* x : options) o.push_back(x);
    return {{"destination", "/v"}, {"type", "bind"}, {"source", "/srv"}, {"options", o}};
}

TEST(SpecFields, IdmapAndRidmapReadAsRunc12Does) {
    auto how = [](json m) {
        json j = config({ns("mount")});
        j["mounts"].push_back(m);
        return oci::mount_idmap(oci::RuntimeSpec::from_json(j).mounts[1]);
    };
    EXPECT_EQ(how(bind_with({"rbind"})), oci::MountIdmap::none);
    EXPECT_EQ(how(bind_with({"bind", "idmap"})), oci::MountIdmap::top);
    EXPECT_EQ(how(bind_with({"rbind", "ridmap"})), oci::MountIdmap::recursive);
    // the mount's own maps with neither option: its top mount only, rbind or not (runc 1.2's
    // idmap.bats "non-recursive idmap": an rbind's submounts keep their ids)
    EXPECT_EQ(how(idmapped_bind()), oci::MountIdmap::top);
    json m = idmapped_bind();
    m["options"].push_back("ridmap");
    EXPECT_EQ(how(m), oci::MountIdmap::recursive);
}

TEST(SpecFields, IdmapWithTheMountsOwnMapsAccepted) {
    for (const char* o : {"idmap", "ridmap"}) {
        json m = idmapped_bind();
        m["options"].push_back(o);
        json j = config({ns("mount"), ns("pid")}); // no user namespace: the mount's maps serve
        j["mounts"].push_back(m);
        EXPECT_EQ(refusal(j), "") << o;
        j = user_maps(config({ns("mount"), ns("pid"), ns("user")}));
        j["mounts"].push_back(m);
        EXPECT_EQ(refusal(j), "") << o;
    }
}

TEST(SpecFields, IdmapWithoutMapsTakesTheContainersUserNamespace) {
    for (const char* o : {"idmap", "ridmap"}) {
        json j = user_maps(config({ns("mount"), ns("pid"), ns("user")}));
        j["mounts"].push_back(bind_with({"bind", o}));
        EXPECT_EQ(refusal(j), "") << o;
        j = config({ns("mount"), ns("pid"), ns("user", "/proc/42/ns/user")});
        j["mounts"].push_back(bind_with({"bind", o}));
        EXPECT_EQ(refusal(j), "") << o;
        // no user namespace, or one gantry would map itself: no maps to take
        for (json c :
             {config({ns("mount"), ns("pid")}), config({ns("mount"), ns("pid"), ns("user")})}) {
            c["mounts"].push_back(bind_with({"bind", o}));
            std::string msg = refusal(c);
            EXPECT_NE(msg.find("mounts[1].options \"" + std::string(o) + "\""), std::string::npos)
                << msg;
            EXPECT_NE(msg.find("no user namespace whose maps it could take"), std::string::npos)
                << msg;
        }
    }
}

TEST(SpecFields, IdmapRefusalsNameTheMount) {
    json j = user_maps(config({ns("mount"), ns("pid"), ns("user")}));
    json m = bind_with({"bind", "idmap", "ridmap"});
    j["mounts"].push_back(m);
    EXPECT_NE(refusal(j).find("mounts[1].options: both idmap and ridmap"), std::string::npos);
    // crun's own form
    j["mounts"][1] = bind_with({"bind", "idmap=uids=0-1-100;gids=0-1-100"});
    std::string msg = refusal(j);
    EXPECT_NE(msg.find("mounts[1].options \"idmap=uids=0-1-100;gids=0-1-100\""), std::string::npos)
        << msg;
    // only binds
    m = bind_with({"nosuid", "idmap"});
    m["type"] = "tmpfs";
    j["mounts"][1] = m;
    msg = refusal(j);
    EXPECT_NE(msg.find("mounts[1].options \"idmap\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("only a bind mount"), std::string::npos) << msg;
}

TEST(SpecFields, PersonalityDomainsReadAndOthersRefused) {
    json j = config({ns("mount"), ns("pid")});
    j["linux"]["personality"] = {{"domain", "LINUX32"}};
    EXPECT_EQ(refusal(j), "");
    auto s = oci::RuntimeSpec::from_json(j);
    EXPECT_EQ(s.personality, "LINUX32");
    EXPECT_EQ(oci::RuntimeSpec::from_json(s.to_json()).personality, "LINUX32");
    for (json bad : {json{{"domain", "LINUX64"}}, json{{"domain", "LINUX"}, {"flags", {"X"}}},
                     json{{"flags", json::array()}}, json{{"domain", "LINUX"}, {"other", 1}}}) {
        j["linux"]["personality"] = bad;
        try {
            (void)oci::RuntimeSpec::from_json(j);
            ADD_FAILURE() << bad.dump();
        } catch (const Error& e) {
            EXPECT_NE(e.message().find("linux.personality"), std::string::npos) << e.message();
        }
    }
}

} // namespace oci_spec_fields_test
