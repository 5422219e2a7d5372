// util/spawn: a helper program (tar2sqfs, sqfs2tar, ...) run with posix_spawn: chosen descriptors
// become its standard streams, its messages go to a memfd for the error that names it, and
// dropping it before wait() kills and reaps it, so an exception never leaves one behind.
#pragma once

#include "util/fd.hpp"

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace gantry {

class Spawned {
  public:
    // Runs ARGS (ARGS[0] the program's path) with each (fd, target) of DUPS as its descriptor
    // target, and its messages' memfd as each of MESSAGE_TARGETS (e.g. {1, 2}).
    Spawned(const std::vector<std::string>& args, const std::vector<std::pair<int, int>>& dups,
            const std::vector<int>& message_targets);
    ~Spawned();
    Spawned(const Spawned&) = delete;
    Spawned& operator=(const Spawned&) = delete;

    int wait();                 // its wait status
    std::string messages();     // what it wrote there (up to 4 KiB), trailing blanks dropped
    static bool ok(int status); // exited with 0

  private:
    pid_t pid_ = -1;
    Fd err_;
};

} // namespace gantry
