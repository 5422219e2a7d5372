// Minimal logging to stderr: notes and warnings for users, debug output with --debug. Each message
// is one line: printed printable (util/printable.hpp), a newline it quotes escaped.
#pragma once

#include <string>

namespace gantry::log {

enum class Level { quiet, normal, debug };
void set_level(Level level);
Level level();

void debug(const std::string& msg); // "gantry: debug: ..." only at Level::debug
void note(const std::string& msg);  // "gantry: ..." unless quiet
void warn(const std::string& msg);  // "gantry: warning: ..." always

} // namespace gantry::log
