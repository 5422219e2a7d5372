// sqsh/confined: a read of a squashfs image made by a process forked for it, never by gantry.
// Everything past the superblock of an untrusted .sqsh is parsed there: the process first calls
// CONFINE (sandbox/thread_confinement.hpp: nobody when root, no capabilities, no_new_privs, the
// seccomp allow-list of fuse::Server::syscalls()), keeps only stderr, the image's descriptor,
// its answer pipe and one descriptor the caller names open, and has 1 GiB of address space and
// 60 s. sqsh/facts.hpp (the pre-mount facts), sqsh::SquashFiles (the image files the GPU step
// and the CPU check read) and `load FILE.sqsh` (the image as a tar stream, stream_confined) are
// built on it.
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

// What a confined process streams to gantry (stream_confined), read as from a pipe: 0 at its
// end; Error(invalid) naming the image when nothing comes for 60 s.
class ConfinedStream {
  public:
    ConfinedStream(int fd, std::string path);
    std::size_t read(void* buf, std::size_t n);

  private:
    int fd_;
    std::string path_;
};

// A stream of any length: PRODUCE(IMAGE, FD) runs in a confined process as run_confined's WORK
// and writes it to FD (a pipe), while CONSUME reads it here, as it comes. An Error PRODUCE throws
// (the stream then ends short) is thrown here, before CONSUME's own error about the short
// stream; a process that dies is Error(invalid) as in run_confined. When CONSUME throws for a
// reason of its own, the process is killed and that error is thrown.
void stream_confined(Image& image, const std::function<void()>& confine,
                     const std::function<void(Image&, int)>& produce,
                     const std::function<void(ConfinedStream&)>& consume);

// Error(invalid) naming PATH as a damaged or hostile squashfs image, WHY, and the check to run.
[[noreturn]] void damaged(const std::string& path, const std::string& why);

// The answers' framing: a u32 length and the bytes, per field.
void put_field(std::string& out, std::string_view field);
bool take_field(std::string_view& in, std::string& field); // false when cut short

} // namespace gantry::sqsh
