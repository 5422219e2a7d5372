// manual/: the man pages and completion scripts rendered from a command tree.
#include "manual/command_tree.hpp"
#include "manual/completion.hpp"
#include "manual/man_page.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace manual_test {

namespace manual = gantry::manual;

namespace {

manual::Command tree() {
    manual::Command root;
    root.name = "gantry";
    root.summary = "a GPU container engine";
    root.footer = "Exit status: 0 ok, 2 usage";
    root.options = {{{"-h", "--help"}, "", "Print help", "", false},
                    {{"--root"}, "TEXT", "Image store directory", "", false}};
    manual::Command run;
    run.name = "run";
    run.summary = "Run a command";
    run.usage = "IMAGE [COMMAND [ARG...]]";
    run.options = {{{"-e", "--env"}, "TEXT", "Set a variable", "Process", true},
                   {{"--rm"}, "", ".dot first and a back\\slash", "Process", false},
                   {{"--gpus"}, "TEXT", "GPUs", "GPUs and devices", false}};
    run.operands = {{"IMAGE", "The image, then the command", true, true}};
    manual::Command images;
    images.name = "images";
    images.aliases = {"ls"};
    images.summary = "List images";
    manual::Command system;
    system.name = "system";
    system.summary = "Store maintenance";
    manual::Command prune;
    prune.name = "prune";
    prune.summary = "Remove unused data";
    system.subcommands = {prune};
    manual::Command rmi;
    rmi.name = "rmi";
    rmi.summary = "Remove images";
    rmi.operands = {{"image", "Images", true, true}};
    manual::Command bundle;
    bundle.name = "bundle";
    bundle.summary = "Write a bundle";
    bundle.operands = {{"image", "Image", true, false}, {"dir", "Directory", true, false}};
    root.subcommands = {run, images, system, rmi, bundle};
    return root;
}

const manual::ManPage& page(const std::vector<manual::ManPage>& pages, const std::string& file) {
    for (const auto& p : pages)
        if (p.file == file) return p;
    throw std::runtime_error("no page " + file);
}

} // namespace

TEST(ManualTree, WalkNamesEveryCommandAtEveryDepth) {
    auto root = tree();
    std::vector<std::string> names;
    for (const auto& e : manual::walk(root)) names.push_back(manual::joined(e.path, '-'));
    EXPECT_EQ(names,
              (std::vector<std::string>{"gantry", "gantry-run", "gantry-images", "gantry-system",
                                        "gantry-system-prune", "gantry-rmi", "gantry-bundle"}));
}

TEST(ManualTree, OperandKindsFollowTheOperandsName) {
    EXPECT_EQ(manual::operand_kind("IMAGE"), manual::OperandKind::image);
    EXPECT_EQ(manual::operand_kind("container"), manual::OperandKind::container);
    EXPECT_EQ(manual::operand_kind("dockerfile"), manual::OperandKind::file);
    EXPECT_EQ(manual::operand_kind("registry"), manual::OperandKind::none);
}

TEST(ManPage, OnePagePerCommandWithOptionsGroupsAndGlobals) {
    auto pages = manual::man_pages(tree(), "gantry 9.9");
    ASSERT_EQ(pages.size(), 7u);
    const auto& run = page(pages, "gantry-run.1").text;
    EXPECT_NE(run.find(".TH GANTRY-RUN 1 \"\" \"gantry 9.9\""), std::string::npos);
    EXPECT_NE(run.find("gantry-run \\- Run a command"), std::string::npos);
    EXPECT_NE(run.find("[\\fIOPTIONS\\fR] IMAGE [COMMAND [ARG...]]"), std::string::npos);
    EXPECT_NE(run.find(".SS Process\n"), std::string::npos);
    EXPECT_NE(run.find(".SS GPUs and devices\n"), std::string::npos);
    EXPECT_NE(run.find("\\fB\\-e\\fR, \\fB\\-\\-env\\fR \\fITEXT\\fR\nSet a variable (repeatable)"),
              std::string::npos);
    // roff's control characters at a line's start and backslashes are escaped
    EXPECT_NE(run.find("\n\\&.dot first and a back\\eslash\n"), std::string::npos);
    EXPECT_NE(run.find(".SH GLOBAL OPTIONS\n"), std::string::npos);
    EXPECT_NE(run.find("\\fB\\-\\-root\\fR"), std::string::npos);
    EXPECT_NE(run.find(".SH EXIT STATUS\nExit status: 0 ok, 2 usage"), std::string::npos);
    const auto& system = page(pages, "gantry-system.1").text;
    EXPECT_NE(system.find(".BR gantry-system-prune (1)"), std::string::npos);
    EXPECT_NE(page(pages, "gantry-system-prune.1").text.find(".BR gantry-system (1)"),
              std::string::npos);
    EXPECT_NE(page(pages, "gantry-images.1").text.find("Also called \\fBgantry ls\\fR."),
              std::string::npos);
    EXPECT_NE(page(pages, "gantry-bundle.1").text.find("IMAGE DIR\n"), std::string::npos);
}

TEST(Completion, TablesHoldSubcommandsAliasesValuedOptionsAndOperandKinds) {
    auto bash = manual::bash_completion(tree());
    EXPECT_NE(bash.find("['gantry']='run images ls system rmi bundle'"), std::string::npos);
    EXPECT_NE(bash.find("['gantry/ls']="), std::string::npos); // an alias completes as itself
    EXPECT_NE(bash.find("['gantry/system/prune']="), std::string::npos);
    EXPECT_NE(bash.find("['gantry/run']='-e --env --rm --gpus'"), std::string::npos);
    EXPECT_NE(bash.find("['gantry/run']='-e --env --gpus'"), std::string::npos); // valued
    EXPECT_NE(bash.find("['gantry/run']='image'"), std::string::npos); // then a command line
    EXPECT_NE(bash.find("['gantry/rmi']='image*'"), std::string::npos);
    EXPECT_NE(bash.find("['gantry/bundle']='image file'"), std::string::npos);
    EXPECT_NE(bash.find("complete -o default -F _gantry gantry gantry-oci\n"), std::string::npos);
    auto zsh = manual::zsh_completion(tree());
    EXPECT_EQ(zsh.rfind("#compdef gantry gantry-oci\n", 0), 0u);
    EXPECT_NE(zsh.find("['gantry/run']='-e --env --rm --gpus'"), std::string::npos);
}

TEST(Completion, ANameTheScriptsCannotHoldIsRefused) {
    auto root = tree();
    root.subcommands[0].options.push_back({{"--x'y"}, "", "quote", "", false});
    EXPECT_THROW(manual::bash_completion(root), gantry::Error);
}

} // namespace manual_test
