#include "image_build/instruction_error.hpp"

#include "util/error.hpp"

namespace gantry::image_build {

void instruction_error(const dockerfile::Instruction& ins, const std::string& what,
                       std::string hint) {
    instruction_error(ins, ins.keyword, what, std::move(hint));
}

void instruction_error(const dockerfile::Instruction& ins, const std::string& subject,
                       const std::string& what, std::string hint) {
    throw Error(Errc::invalid, "line " + std::to_string(ins.line) + ": " + subject + ": " + what,
                std::move(hint));
}

} // namespace gantry::image_build
