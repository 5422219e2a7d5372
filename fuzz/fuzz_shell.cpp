// Fuzzes the shell splitter (lint/shell) that finds the commands of RUN instructions: scripts,
// and exec-form argv (NUL-separated words here).
#include "fuzz_support.hpp"
#include "lint/shell.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(shell) {
    std::string_view in = fuzz::bytes(data, size);
    for (auto& c : lint::split_commands(in)) (void)c.name();
    std::vector<std::string> argv;
    for (std::string_view rest = in; !rest.empty();) {
        auto [word, tail] = fuzz::split_once(rest, std::string_view("\0", 1));
        argv.emplace_back(word);
        if (tail.data() == nullptr || word.size() == rest.size()) break;
        rest = tail;
    }
    for (auto& c : lint::commands_from_argv(argv)) (void)c.name();
    return 0;
}
