#include "dispatch/command_line.hpp"
#include "dispatch/docker_verbs.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace dispatch_command_line_test {

namespace dispatch = gantry::dispatch;
using gantry::Errc;
using gantry::Error;

namespace {

struct Command {
    const char* names;
    int id;
};
constexpr Command kTable[] = {{"pull", 1}, {"login logout", 2}, {"images ls", 3}, {"run", 4}};

// The command ARGS (the line without the program name) names in kTable: its id and the name as
// written, 0 and "" for none.
std::pair<int, std::string> named(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    auto found = dispatch::find_command(std::span<const Command>(kTable),
                                        std::span<char* const>(argv.data(), argv.size()));
    return {found.command ? found.command->id : 0, std::string(found.as_written)};
}

} // namespace

TEST(Dispatch, FindsACommandByAnyOfItsNames) {
    EXPECT_EQ(named({"pull", "alpine"}), std::make_pair(1, std::string("pull")));
    EXPECT_EQ(named({"logout", "reg.example"}), std::make_pair(2, std::string("logout")));
    EXPECT_EQ(named({"login"}), std::make_pair(2, std::string("login")));
    EXPECT_EQ(named({"ls", "--json"}), std::make_pair(3, std::string("ls")));
    EXPECT_EQ(named({"images"}), std::make_pair(3, std::string("images")));
}

TEST(Dispatch, SkipsGlobalFlagsAndTheValuesOfRootAndImageStore) {
    EXPECT_EQ(named({"--root", "run", "pull"}).first, 1); // "run" is --root's value
    EXPECT_EQ(named({"--image-store", "images", "run", "x"}).first, 4);
    EXPECT_EQ(named({"--debug", "-q", "images"}).first, 3);
    EXPECT_EQ(named({"--root=/s", "run"}).first, 4); // the value is in the same word
}

TEST(Dispatch, OnlyTheFirstWordNamesTheCommand) {
    EXPECT_EQ(named({"frobnicate", "pull"}), std::make_pair(0, std::string()));
    EXPECT_EQ(named({"--help"}), std::make_pair(0, std::string()));
    EXPECT_EQ(named({}), std::make_pair(0, std::string()));
    // a part of a name, or two names together, is no name
    EXPECT_EQ(named({"log"}).first, 0);
    EXPECT_EQ(named({"images ls"}).first, 0);
    EXPECT_EQ(named({""}).first, 0);
}

TEST(Dispatch, NamesIncludeOnlyWholeNames) {
    EXPECT_TRUE(dispatch::names_include("images ls", "ls"));
    EXPECT_TRUE(dispatch::names_include("images ls", "images"));
    EXPECT_FALSE(dispatch::names_include("images ls", "image"));
    EXPECT_FALSE(dispatch::names_include("images ls", "s"));
    EXPECT_FALSE(dispatch::names_include("run", ""));
}

TEST(Dispatch, ApptainersNamesAreGantryApptainer) {
    EXPECT_TRUE(dispatch::called_as_apptainer("/usr/bin/apptainer"));
    EXPECT_TRUE(dispatch::called_as_apptainer("singularity"));
    EXPECT_FALSE(dispatch::called_as_apptainer("/opt/apptainer/gantry"));
    std::string prog = "singularity", a = "exec", b = "x.sif";
    char* argv[] = {prog.data(), a.data(), b.data(), nullptr};
    auto words = dispatch::as_apptainer_command(3, argv);
    ASSERT_EQ(words.size(), 5u);
    EXPECT_STREQ(words[1], "apptainer");
    EXPECT_STREQ(words[2], "exec");
    EXPECT_EQ(words[4], nullptr);
}

TEST(Dispatch, TheOciRuntimeNamesAreGantryOciAndRunc) {
    EXPECT_TRUE(dispatch::called_as_oci_runtime("/usr/local/bin/gantry-oci"));
    EXPECT_TRUE(dispatch::called_as_oci_runtime("runc"));
    EXPECT_FALSE(dispatch::called_as_oci_runtime("/usr/bin/gantry"));
    EXPECT_FALSE(dispatch::called_as_oci_runtime("/opt/runc/gantry")); // the folder is no name
    EXPECT_FALSE(dispatch::called_as_oci_runtime("crun"));

    std::string prog = "runc", a = "state", b = "c1";
    char* argv[] = {prog.data(), a.data(), b.data(), nullptr};
    auto words = dispatch::as_oci_command(3, argv);
    ASSERT_EQ(words.size(), 5u);
    EXPECT_STREQ(words[0], "runc");
    EXPECT_STREQ(words[1], "oci");
    EXPECT_STREQ(words[2], "state");
    EXPECT_STREQ(words[3], "c1");
    EXPECT_EQ(words[4], nullptr);
}

TEST(Dispatch, ContainerCommandsSkipTheLocale) {
    for (auto c : {"run", "exec", "ps", "stop", "rm", "hook", "oci"})
        EXPECT_FALSE(dispatch::needs_utf8_locale(c)) << c;
    for (auto c : {"pull", "load", "images ls", "build", ""})
        EXPECT_TRUE(dispatch::needs_utf8_locale(c)) << c;
}

TEST(Dispatch, AUsageErrorExitsTwoAndPointsAtTheCommandsHelp) {
    auto e = dispatch::usage_error("--bogus: unknown option", "pull");
    EXPECT_EQ(e.status, 2);
    EXPECT_EQ(e.message,
              "gantry: error: --bogus: unknown option\nhint: see `gantry pull --help`\n");
    auto none = dispatch::usage_error("a subcommand is required", "");
    EXPECT_EQ(none.status, 2);
    EXPECT_EQ(none.message, "gantry: error: a subcommand is required\nhint: see `gantry --help`\n");
}

TEST(Dispatch, AnOciUsageErrorExitsOneAsRuncDoes) {
    auto e = dispatch::usage_error("--bogus: unknown option", "oci");
    EXPECT_EQ(e.status, 1);
    EXPECT_EQ(e.message, "gantry-oci: --bogus: unknown option\nhint: see `gantry oci --help`\n");
}

TEST(Dispatch, ACommandErrorExitsWithItsDocumentedStatus) {
    auto e = dispatch::command_error(Error(Errc::not_found, "image x not found", "pull it first"));
    EXPECT_EQ(e.status, 3);
    EXPECT_EQ(e.message, "gantry: error: image x not found\nhint: pull it first\n");
    auto no_hint = dispatch::command_error(Error(Errc::policy, "refused"));
    EXPECT_EQ(no_hint.status, 11);
    EXPECT_EQ(no_hint.message, "gantry: error: refused\n");
    // every line ends once, whatever the message and hint carried (a child's report, a file)
    auto carried = dispatch::command_error(Error(Errc::io, "disk full\n", "free space\r\n"));
    EXPECT_EQ(carried.message, "gantry: error: disk full\nhint: free space\n");
    auto blank_hint = dispatch::command_error(Error(Errc::io, "x", "\n"));
    EXPECT_EQ(blank_hint.message, "gantry: error: x\n");
    auto internal = dispatch::internal_error(std::runtime_error("map::at"));
    EXPECT_EQ(internal.status, 1);
    EXPECT_EQ(internal.message, "gantry: internal error: map::at\n");
}

TEST(Dispatch, AnErrorQuotingAValuePrintsOneLineEach) {
    // a name, path or label with a newline or an escape sequence cannot print a line of its own
    auto e = dispatch::command_error(Error(Errc::not_found,
                                           "no such container: x\ngantry: error: forged\x1b[2J",
                                           "see `gantry ps`\rX\xe2\x80\xa8"));
    EXPECT_EQ(e.message, "gantry: error: no such container: x\\ngantry: error: forged\\x1b[2J\n"
                         "hint: see `gantry ps`\\rX\\u2028\n");
    // a detail's lines (a failed step's last output) stay lines, each escaped on its own
    auto d = dispatch::command_error(
        Error(Errc::run_failed, "RUN x failed: exit status 1; its last output:", "fix it")
            .with_detail("  one\x1b[1A\n  t\rwo\n"));
    EXPECT_EQ(d.message, "gantry: error: RUN x failed: exit status 1; its last output:\n"
                         "  one\\x1b[1A\n  t\\rwo\nhint: fix it\n");
    EXPECT_EQ(dispatch::internal_error(std::runtime_error("bad\nline")).message,
              "gantry: internal error: bad\\nline\n");
    EXPECT_EQ(dispatch::usage_error("unexpected: a\nb", "ps").message.find("a\nb"),
              std::string::npos);
    EXPECT_EQ(dispatch::unknown_command("x\ny").message,
              "gantry: error: unknown command `x\\ny`\nhint: see `gantry --help` for the "
              "commands\n");
}

} // namespace dispatch_command_line_test
