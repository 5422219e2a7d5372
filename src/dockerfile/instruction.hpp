// Internal to dockerfile/: one instruction's logical line parsed (keyword, flags checked against
// what BuildKit accepts, JSON form, argument counts, ONBUILD's instruction).
#pragma once

#include "dockerfile/dockerfile.hpp"

#include <string_view>

namespace gantry::dockerfile {

// Throws Error(invalid, "line N: ...").
Instruction parse_instruction(std::string_view logical, int line, char esc);

} // namespace gantry::dockerfile
