// binfmt/handlers: the host's binfmt_misc handlers (the kernel's
// Documentation/admin-guide/binfmt-misc.rst), and whether one of them makes this kernel run the
// programs of a foreign OCI platform (qemu-user-static's qemu-aarch64 on an amd64 host). Read
// from /proc/sys/fs/binfmt_misc, or $GANTRY_PROC_ROOT/sys/fs/binfmt_misc when that is set (tests
// simulate hosts, as cpu/isa does with the same variable). Everything here reads; registering a
// handler is the host administrator's business (qemu-user-static's package does it).
#pragma once

#include "oci/image.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::binfmt {

// One entry of binfmt_misc: what the kernel prints in /proc/sys/fs/binfmt_misc/NAME.
struct Handler {
    std::string name;        // the entry's file name: "qemu-aarch64"
    bool enabled = false;    // "enabled" / "disabled"
    std::string interpreter; // "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
    std::string flags;       // the letters of its flags line: "POF"
    bool by_magic = false;   // matched by magic bytes (M), else by file name extension (E)
    std::size_t offset = 0;  // where the magic starts in a file
    std::string magic;       // the bytes compared (M)
    std::string mask;        // which bits of them count; empty: all
    std::string extension;   // E: the file name extension, without its dot

    // Whether the kernel hands a file that starts with HEAD (its first bytes) to this handler.
    bool matches(std::string_view head) const;
    // F ("fix binary"): the interpreter was opened when the handler was registered, so it is
    // found inside a container's mount namespace too; without it the kernel looks the
    // interpreter's path up in the container's root at every exec.
    bool fixed_binary() const { return flags.find('F') != std::string::npos; }
};

// Parses the text of entry NAME. Error(invalid) naming the entry for a line it cannot read
// (a kernel that prints another format must not be half understood).
Handler parse_entry(const std::string& name, std::string_view text);

// binfmt_misc as the host has it.
struct Registry {
    std::filesystem::path dir; // where it was read
    bool mounted = false;      // DIR holds binfmt_misc's status file
    bool enabled = false;      // its status says "enabled"
    std::vector<Handler> handlers;
};

// The host's registry (/proc/sys/fs/binfmt_misc or $GANTRY_PROC_ROOT/sys/fs/binfmt_misc).
Registry read_host();
// The registry mounted at DIR: not mounted when DIR has no status file. Error(io) when an entry
// cannot be read; Error(invalid) from parse_entry.
Registry read(const std::filesystem::path& dir);

// The first 20 bytes (e_ident, e_type, e_machine) of an ELF program of PLATFORM, as an
// executable (ET_EXEC) and as a position-independent one (ET_DYN); nullopt for an architecture
// whose ELF machine gantry does not know or an OS other than Linux.
struct ElfHeads {
    std::string exec, dyn;
};
std::optional<ElfHeads> elf_heads(const oci::Platform& platform);

// The OCI architecture ("arm64") an ELF file is built for, from its first 20 bytes (class, byte
// order, e_machine); nullopt for a file that is not ELF or a machine gantry does not know.
// MIPS and ARM's several ABIs are not told apart.
std::optional<std::string> architecture_of(std::string_view head);

// How this host runs PLATFORM's programs through binfmt_misc: the handler that does, or why
// none does and what to do about it.
struct Emulation {
    std::optional<Handler> handler; // set when the host runs them (enabled, matching, and F or
                                    // its interpreter in the container)
    bool by_path = false;           // the handler has no F: the container's own file at its
                                    // interpreter path serves (an image that ships the emulator)
    std::string why;                // else: the reason, naming the handler or what is missing
    std::string fix;                // and the remedy
};
// IN_CONTAINER(PATH): whether the container has a file at the absolute PATH (its image does),
// which serves a handler without F, whose interpreter the kernel looks up there at each exec;
// none given: no such handler serves.
using InContainer = std::function<bool(const std::string& path)>;
Emulation emulation_for(const Registry& registry, const oci::Platform& platform,
                        const InContainer& in_container = {});

} // namespace gantry::binfmt
