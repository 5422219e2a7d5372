// sqsh/confined: a read of a squashfs image made by a process forked for it, never by gantry.
// Everything past the superblock of an untrusted .sqsh is parsed there: the process first calls
// CONFINE (runtime/thread_confinement.hpp: nobody when root, no capabilities, no_new_privs, the
// seccomp allow-list of sqsh::Server::syscalls()), keeps only stderr, the image's descriptor,
// its answer pipe and one descriptor the caller names open, and has 1 GiB of address space and
// 60 s. sqsh/facts.hpp (the pre-mount facts) and sqsh::SquashFiles (the image files the GPU
// step and the CPU check read) are built on it.
#pragma once

#include "sqsh/image.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace gantry::sqsh {

// Runs WORK(IMAGE) in a confined process and returns what it returned (at most MAX_ANSWER
// bytes). An Error WORK throws is thrown here again with its message (code not_found, invalid,
// unsupported or io; run_failed otherwise). A process that dies, overruns MAX_ANSWER or its
// 60 s is Error(invalid) "a damaged or hostile squashfs image"; run_failed when it cannot be
// started or confined. KEEP_FD (>= 0) stays open in the process (e.g. a memfd it fills).
std::string run_confined(Image& image, const std::function<void()>& confine,
                         const std::function<std::string(Image&)>& work, std::size_t max_answer,
                         int keep_fd = -1);

// Error(invalid) naming PATH as a damaged or hostile squashfs image, WHY, and the check to run.
[[noreturn]] void damaged(const std::string& path, const std::string& why);

// The answers' framing: a u32 length and the bytes, per field.
void put_field(std::string& out, std::string_view field);
bool take_field(std::string_view& in, std::string& field); // false when cut short

} // namespace gantry::sqsh
