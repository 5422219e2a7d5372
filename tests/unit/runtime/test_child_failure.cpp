// runtime::detail::write_failure (child_failure.hpp): the report a container child writes to
// gantry ("CODE MESSAGE\nHINT", read back by read_failure), and the text a person reads once
// the report goes to the process's stderr (an OCI container after `create`): no code in front.
#include "runtime/child_failure.hpp"
#include "util/error.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace runtime_child_failure_test {

using gantry::Errc;
using gantry::Error;
using namespace gantry::runtime::detail;

namespace {
std::string written(int code, const std::string& msg, const std::string& hint, bool as_text) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    if (as_text) report_failures_as_text(p[1]);
    write_failure(p[1], code, msg, hint);
    report_failures_as_text(-1);
    ::close(p[1]);
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    return out;
}
} // namespace

TEST(ChildFailure, TheReportCarriesTheCodeForGantry) {
    EXPECT_EQ(written(127, "exec: \"x\": not found", "check PATH", false),
              "127 exec: \"x\": not found\ncheck PATH");
}

TEST(ChildFailure, AsTextItIsTheMessageAndTheHintWithoutACode) {
    // before: "125 startContainer hook ..." on an OCI container's stderr
    EXPECT_EQ(written(125, "startContainer hook /bin/sh exited with status 5", "fix it", true),
              "startContainer hook /bin/sh exited with status 5\nhint: fix it\n");
    EXPECT_EQ(written(127, "exec: \"x\": not found", "", true), "exec: \"x\": not found\n");
}

TEST(ChildFailure, ReadBackAsTheErrorItWas) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    write_failure(p[1], static_cast<int>(Errc::cmd_not_found), "exec: \"x\": not found", "h");
    ::close(p[1]);
    try {
        read_failure(p[0]);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::cmd_not_found);
        EXPECT_EQ(e.message(), "exec: \"x\": not found");
    }
    ::close(p[0]);
}

} // namespace runtime_child_failure_test
