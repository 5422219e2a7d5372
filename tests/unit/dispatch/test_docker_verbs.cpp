#include "dispatch/docker_verbs.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <span>
#include <string>
#include <vector>

namespace dispatch_docker_verbs_test {

namespace dispatch = gantry::dispatch;

namespace {

// ARGS as the words main() hands over (the line without the program name).
struct Line {
    std::vector<std::string> words;
    std::vector<char*> argv;
    explicit Line(std::vector<std::string> w) : words(std::move(w)) {
        for (auto& a : words) argv.push_back(a.data());
    }
    std::span<char* const> span() const { return {argv.data(), argv.size()}; }
};

std::vector<std::string> expanded(std::vector<std::string> words) {
    Line l(std::move(words));
    auto out = dispatch::expand_docker_group(l.span());
    return out ? *out : std::vector<std::string>{"<none>"};
}

} // namespace

TEST(DockerVerbs, GroupVerbsBecomeGantrysCommands) {
    using V = std::vector<std::string>;
    EXPECT_EQ(expanded({"image", "ls", "-q"}), (V{"images", "-q"}));
    EXPECT_EQ(expanded({"image", "rm", "x:1"}), (V{"rmi", "x:1"}));
    EXPECT_EQ(expanded({"container", "ls", "-a"}), (V{"ps", "-a"}));
    EXPECT_EQ(expanded({"image", "prune"}), (V{"system", "prune"}));
    // the lifecycle verbs (engine/lifecycle.hpp, engine/copy.hpp)
    EXPECT_EQ(expanded({"container", "create", "img"}), (V{"create", "img"}));
    EXPECT_EQ(expanded({"container", "start", "-a", "c"}), (V{"start", "-a", "c"}));
    EXPECT_EQ(expanded({"container", "restart", "c"}), (V{"restart", "c"}));
    EXPECT_EQ(expanded({"container", "rename", "a", "b"}), (V{"rename", "a", "b"}));
    EXPECT_EQ(expanded({"container", "kill", "-s", "HUP", "c"}), (V{"kill", "-s", "HUP", "c"}));
    EXPECT_EQ(expanded({"container", "cp", "c:/a", "-"}), (V{"cp", "c:/a", "-"}));
    // docker's JSON of one kind of object
    EXPECT_EQ(expanded({"container", "inspect", "-f", "{{.Id}}", "c"}),
              (V{"inspect", "--type", "container", "-f", "{{.Id}}", "c"}));
    EXPECT_EQ(expanded({"image", "inspect", "x:1"}), (V{"inspect", "--type", "image", "x:1"}));
    // global flags and their values stay in front
    EXPECT_EQ(expanded({"--root", "/s", "--debug", "image", "history", "x"}),
              (V{"--root", "/s", "--debug", "history", "x"}));
    // near misses: not a group, a verb gantry has no command for, a group alone
    EXPECT_EQ(expanded({"images", "ls"}), (V{"<none>"}));
    EXPECT_EQ(expanded({"container", "export", "x"}), (V{"<none>"}));
    EXPECT_EQ(expanded({"container", "attach", "x"}), (V{"attach", "x"}));
    EXPECT_EQ(expanded({"image"}), (V{"<none>"}));
    // a value of --root that looks like a group is a value, not the command
    EXPECT_EQ(expanded({"--root", "image", "ls"}), (V{"<none>"}));
}

TEST(DockerVerbs, UnknownCommandsAreNamedWithTheirEquivalent) {
    auto other_verb = dispatch::unknown_command("export");
    EXPECT_EQ(other_verb.status, 2);
    EXPECT_EQ(other_verb.message.rfind("gantry: error: unknown command `export`\nhint: ", 0), 0u)
        << other_verb.message;
    EXPECT_NE(other_verb.message.find("gantry save"), std::string::npos);
    EXPECT_EQ(other_verb.message.back(), '\n');
    // a group's verb falls back to the verb's entry, then the group's
    EXPECT_NE(dispatch::unknown_command("container update").message.find("--memory"),
              std::string::npos);
    EXPECT_NE(dispatch::unknown_command("image frobnicate").message.find("gantry images"),
              std::string::npos);
    // a word gantry knows nothing of: the help
    auto other = dispatch::unknown_command("frobnicate");
    EXPECT_NE(other.message.find("unknown command `frobnicate`"), std::string::npos);
    EXPECT_NE(other.message.find("see `gantry --help`"), std::string::npos);
    Line l({"--debug", "container", "export", "x"});
    EXPECT_EQ(dispatch::command_as_written(l.span()), "container export");
    Line flag_after({"image", "--help"});
    EXPECT_EQ(dispatch::command_as_written(flag_after.span()), "image");
}

TEST(DockerVerbs, CliElevensRefusalsInGantrysWords) {
    EXPECT_EQ(dispatch::usage_message("The following argument was not expected: -P"),
              "unknown flag `-P`");
    EXPECT_EQ(dispatch::usage_message("The following arguments were not expected: --all x"),
              "unknown flag `--all`; unexpected argument `x`");
    EXPECT_EQ(dispatch::usage_message("The following arguments were not expected: -a -b"),
              "unknown flags `-a`, `-b`");
    EXPECT_EQ(dispatch::usage_message("The following argument was not expected: --token=s3cret"),
              "unknown flag `--token`");
    EXPECT_EQ(dispatch::first_unknown_flag("The following argument was not expected: --restart=no"),
              "--restart");
    EXPECT_EQ(dispatch::usage_message("image is required"), "image is required");
    EXPECT_EQ(dispatch::first_unknown_flag("The following arguments were not expected: x -P"),
              "-P");
    EXPECT_NE(dispatch::unknown_flag_hint("run", "--dns=1.1.1.1").find("resolv.conf"),
              std::string::npos);
    EXPECT_EQ(dispatch::unknown_flag_hint("run", "-P"), "");        // run has it (docs/networks.md)
    EXPECT_EQ(dispatch::unknown_flag_hint("run", "--restart"), ""); // and --restart
    EXPECT_EQ(dispatch::unknown_flag_hint("images", "-P"), "");
    // the whole ending: the message, the flag's hint, the command's help
    auto e = dispatch::usage_error("The following argument was not expected: --dns", "run");
    EXPECT_EQ(e.status, 2);
    EXPECT_NE(e.message.find("gantry: error: unknown flag `--dns`\nhint: "), std::string::npos)
        << e.message;
    EXPECT_NE(e.message.find("see `gantry run --help`\n"), std::string::npos) << e.message;
}

} // namespace dispatch_docker_verbs_test
