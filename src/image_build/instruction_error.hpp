// image_build/instruction_error: the error gantry build throws for a Dockerfile instruction it
// cannot run, naming the line: Error(invalid) "line N: KEYWORD: what" (or another subject, "RUN
// --mount").
#pragma once

#include "dockerfile/dockerfile.hpp"

#include <string>

namespace gantry::image_build {

[[noreturn]] void instruction_error(const dockerfile::Instruction& ins, const std::string& what,
                                    std::string hint = {});
[[noreturn]] void instruction_error(const dockerfile::Instruction& ins, const std::string& subject,
                                    const std::string& what, std::string hint);

} // namespace gantry::image_build
