// -u USER[:GROUP] against a container's /etc/passwd (runspec/user_spec.hpp), as run and exec
// resolve it: names, numeric IDs with and without an entry, numeric groups only.
#include "runspec/user_spec.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace runspec_user_spec_test {

namespace runspec = gantry::runspec;
using gantry::Errc;
using gantry::Error;

const char* kPasswd = "root:x:0:0:root:/root:/bin/sh\n"
                      "vscode:x:1000:1001::/home/vscode:/bin/bash\n";

TEST(UserSpec, NamesAndNumbers) {
    auto v = runspec::resolve_user("vscode", kPasswd);
    EXPECT_EQ(v.uid, 1000u);
    EXPECT_EQ(v.gid, 1001u);
    EXPECT_EQ(v.home, "/home/vscode");
    auto n = runspec::resolve_user("1000:7", kPasswd);
    EXPECT_EQ(n.uid, 1000u);
    EXPECT_EQ(n.gid, 7u);
    auto other = runspec::resolve_user("4242", kPasswd);
    EXPECT_EQ(other.gid, 4242u);
    EXPECT_EQ(other.home, "");
}

TEST(UserSpec, RefusesWhatItCannotResolve) {
    try {
        runspec::resolve_user("nobody-here", kPasswd);
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::run_failed);
        EXPECT_NE(e.message().find("nobody-here"), std::string::npos);
    }
    EXPECT_THROW(runspec::resolve_user("vscode:staff", kPasswd), Error);
    EXPECT_THROW(runspec::resolve_user("4294967296", kPasswd), Error);
}

} // namespace runspec_user_spec_test
