// runtime/ns_join.hpp: the mappings a spec may give beside a user namespace path (none, or the
// joined namespace's, as runc 1.2), checked here against this process's own namespace.
#include "runtime/child_failure.hpp"
#include "runtime/ns_join.hpp"

#include <gtest/gtest.h>
#include <string>

namespace runtime_ns_join_test {

using gantry::oci::IdMapping;
using gantry::oci::RuntimeSpec;
using gantry::runtime::detail::check_mappings_of_joined_namespace;
using gantry::runtime::detail::ChildFail;
using gantry::runtime::detail::joins_through_helper;
using gantry::runtime::detail::own_id_map;

RuntimeSpec joining(std::vector<IdMapping> uids, std::vector<IdMapping> gids) {
    RuntimeSpec s;
    s.namespace_paths["user"] = "/proc/self/ns/user";
    s.uid_mappings = std::move(uids);
    s.gid_mappings = std::move(gids);
    return s;
}

TEST(NsJoin, MappingsBesideAUserPathMustBeTheJoinedNamespaces) {
    const auto uids = own_id_map("uid_map"), gids = own_id_map("gid_map");
    ASSERT_FALSE(uids.empty());
    EXPECT_NO_THROW(check_mappings_of_joined_namespace(joining({}, {})));
    EXPECT_NO_THROW(check_mappings_of_joined_namespace(joining(uids, gids)));
    auto other = uids;
    other[0].host_id += 1;
    try {
        check_mappings_of_joined_namespace(joining(other, gids));
        ADD_FAILURE() << "other mappings accepted";
    } catch (const ChildFail& f) {
        EXPECT_NE(f.message.find("differ from those of the user namespace /proc/self/ns/user"),
                  std::string::npos)
            << f.message;
        EXPECT_NE(f.hint.find("remove linux.uidMappings"), std::string::npos) << f.hint;
    }
}

TEST(NsJoin, TheHelperJoinsForAUserPathOrANewUserNamespaceWithPaths) {
    RuntimeSpec s;
    s.namespaces = {"mount", "pid"};
    s.namespace_paths["network"] = "/proc/1/ns/net";
    EXPECT_FALSE(joins_through_helper(s)); // as root: joined by the container process
    s.namespaces.push_back("user");
    EXPECT_TRUE(joins_through_helper(s)); // before the new user namespace exists
    EXPECT_TRUE(joins_through_helper(joining({}, {})));
}

} // namespace runtime_ns_join_test
