// The host-root flags (--driver-root, --dev-root, --sys-root, and any a vendor adds), declared
// once for every command that reads a GPU host: their names and help come from the vendors'
// registry (gpu_vendors::host_root_flags), so a new vendor's flag reaches every command.
#pragma once

#include "cli/cli11.hpp"
#include "cli/context.hpp"
#include "gpu_vendors/all/backends.hpp"

#include <cctype>
#include <string>

namespace gantry::cli {

// Adds each host-root flag to CMD, bound to ROOTS; PURPOSE ("For --keep-arch host") prefixes
// the help of commands that read the host for one option only.
inline void add_host_root_flags(CLI::App* cmd, gpu_vendors::Roots& roots,
                                const char* purpose = nullptr) {
    for (const gpu_vendors::RootFlag& f : gpu_vendors::host_root_flags()) {
        std::string help = gpu_vendors::root_flag_help(f.name);
        if (purpose && !help.empty()) { // "For --keep-arch host: root of ..."
            help[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(help[0])));
            help = std::string(purpose) + ": " + help;
        }
        cmd->add_option(std::string(f.name), roots.of(f), help + " (default /)");
    }
}

// The same through `run`'s LazyOptions, under --help's GROUP.
inline void add_host_root_flags(LazyOptions& o, const char* group, gpu_vendors::Roots& roots) {
    for (const gpu_vendors::RootFlag& f : gpu_vendors::host_root_flags())
        if (o.may_name(f.name))
            o.option(group, std::string(f.name), roots.of(f),
                     gpu_vendors::root_flag_help(f.name) + " (default /)");
}

} // namespace gantry::cli
