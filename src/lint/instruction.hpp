// Internal to lint/: one instruction's logical line parsed (keyword, flags checked against what
// BuildKit accepts, JSON form, argument counts, ONBUILD's instruction).
#pragma once

#include "lint/dockerfile.hpp"

#include <string_view>

namespace gantry::lint {

// Throws Error(invalid, "line N: ...").
Instruction parse_instruction(std::string_view logical, int line, char esc);

} // namespace gantry::lint
