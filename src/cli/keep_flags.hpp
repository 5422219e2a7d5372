// The keep options of every registered device-code format (CUDA's --no-ptx, and any a vendor's
// format adds), declared as flags of each command that takes --keep-arch (slim, tailor,
// analyze): their names and help come from the formats' grammars (tailor::keep_options), so a new
// vendor's option reaches every such command and no command's file names one.
#pragma once

#include "cli/cli11.hpp"
#include "tailor/tailor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace gantry::cli {

// Adds each keep option to CMD as a flag; GIVEN receives the flags given, for
// tailor::parse_keep_list.
inline void add_keep_option_flags(CLI::App* cmd, std::vector<std::string>& given) {
    for (const device_code::KeepOption& o : tailor::keep_options()) {
        std::string flag = o.flag;
        cmd->add_flag_function(
            flag, [&given, flag](std::int64_t) { given.push_back(flag); }, o.help);
    }
}

} // namespace gantry::cli
