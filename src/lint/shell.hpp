// Just enough of a POSIX shell tokenizer to find the commands of a RUN instruction reliably:
// simple commands split at &&, ||, ;, |, &, newlines, ( ) { } and if/then/do...; quotes and
// backslash escapes removed; redirections and their targets dropped (shell heredoc bodies
// skipped); leading VAR=value assignments and wrappers (sudo, env, exec, command, time, nice,
// nohup) peeled off; `sh -c 'script'` / `bash -c` scripts split recursively; the command that
// `find ... -exec CMD {} ;` or `xargs CMD` runs follows the find/xargs command itself.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::lint {

struct Command {
    std::vector<std::string> argv;    // argv[0] is the program as written (may be a path)
    std::vector<std::string> assigns; // VAR=value words before the program
    std::string name() const;         // basename of argv[0], "" when argv is empty
};

// The simple commands of a shell script, in order.
std::vector<Command> split_commands(std::string_view script);

// The commands of an exec-form argv (["sh", "-c", "..."] is split as a script).
std::vector<Command> commands_from_argv(const std::vector<std::string>& argv);

} // namespace gantry::lint
