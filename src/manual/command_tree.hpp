// The command tree as a manual reads it: each command's names, summary, options and operands.
// The CLI copies it from the very parser it runs (cli/cmd_generate.cpp walks CLI11's tree), and
// the man pages (manual/man_page.hpp) and shell completions (manual/completion.hpp) are rendered
// from it at build time, so neither can drift from what the parser accepts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::manual {

struct Option {
    std::vector<std::string> names; // "-e", "--env": short names first
    std::string value;              // the value's name ("TEXT", "INT"); empty for a flag
    std::string help;
    std::string group; // --help's section; empty: "Options"
    bool repeatable = false;
};

struct Operand {
    std::string name; // as the parser names it: "IMAGE", "container", "dir"
    std::string help;
    bool required = false;
    bool many = false; // takes every word after it
};

struct Command {
    std::string name;
    std::vector<std::string> aliases;
    std::string summary;
    std::string usage; // the operands' usage line when the parser has its own ("IMAGE [ARG...]")
    std::vector<Option> options;
    std::vector<Operand> operands;
    std::vector<Command> subcommands;
    std::string footer; // --help's closing text (the root's: the exit statuses)
};

// What a shell completes an operand with, decided by the operand's name: an image of the store
// (IMAGE), a container of the state directory (CONTAINER), a file or directory (FILE, PATH,
// DIR, CONTEXT, DOCKERFILE), else nothing gantry knows.
enum class OperandKind { image, container, file, none };
OperandKind operand_kind(std::string_view operand_name);
// "image", "container", "file" or "" (the completion scripts' words for the kinds)
std::string_view operand_kind_word(OperandKind kind);

// Every command below ROOT with its path of names: {"gantry"}, {"gantry", "run"},
// {"gantry", "system", "prune"}, ..., the root first, each parent before its subcommands.
struct Entry {
    std::vector<std::string> path;
    const Command* command;
};
std::vector<Entry> walk(const Command& root);

// "gantry-system-prune" for the path {"gantry", "system", "prune"}
std::string joined(const std::vector<std::string>& path, char sep);

} // namespace gantry::manual
