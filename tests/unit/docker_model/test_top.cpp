// docker's top over ps's output: the header kept, rows kept by the PID column wherever it is.
#include "docker_model/top.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace docker_top_test {

using gantry::Errc;
using gantry::Error;
using namespace gantry::docker_model;

TEST(DockerTop, KeepsTheRowsOfThePidColumn) {
    std::string ps = "UID        PID  PPID  C STIME TTY          TIME CMD\n"
                     "root         1     0  0 10:00 ?        00:00:01 /sbin/init\n"
                     "root        42     1  0 10:00 ?        00:00:00 sleep 42\n"
                     "root       420    42  0 10:00 ?        00:00:00 sh -c echo 42\n";
    EXPECT_EQ(top_table(ps, {42}), "UID        PID  PPID  C STIME TTY          TIME CMD\n"
                                   "root        42     1  0 10:00 ?        00:00:00 sleep 42\n");
    EXPECT_EQ(top_table("  PID COMMAND\n   42 sleep\n  420 sh", {420}),
              "  PID COMMAND\n  420 sh\n"); // no newline after the last row
    EXPECT_EQ(top_table(ps, {}), "UID        PID  PPID  C STIME TTY          TIME CMD\n");
    EXPECT_EQ(top_table("PID\n12x\n", {12}), "PID\n"); // not a number: not a row of 12
}

TEST(DockerTop, ARowsControlCharactersAreEscaped) {
    // a process's arguments (chosen in the container) end no line and move no cursor
    std::string ps = "PID CMD\n42 sh -c x\x1b[2J\ry\xc2\x85z\n";
    EXPECT_EQ(top_table(ps, {42}), "PID CMD\n42 sh -c x\\x1b[2J\\ry\\u0085z\n");
}

TEST(DockerTop, NoPidColumnIsRefused) {
    try {
        top_table("COMMAND\nsleep\n", {1});
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(std::string(e.what()).find("Couldn't find PID field"), std::string::npos);
    }
}

TEST(DockerTop, NamespaceMembersIncludeTheProcessItself) {
    auto mine = namespace_members(::getpid());
    EXPECT_TRUE(mine.count(::getpid()));
    EXPECT_TRUE(namespace_members(0x7ffffff0).empty()); // no such process
}

} // namespace docker_top_test
