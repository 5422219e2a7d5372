// What a RUN step prints, passed on and remembered: for the length of a step the process's
// stdout and stderr (which the container inherits) are a pipe; a helper process copies what
// arrives to the real stderr (unless quiet) and keeps the last lines, so a failing step can show
// them after the build's own messages, as BuildKit does. A process, not a thread: the runtime
// creates the container with raw clone(2), after which glibc in the child would wait for the
// threads of the parent in setresuid (nptl's setxid broadcast), forever.
#pragma once

#include "util/fd.hpp"

#include <string>
#include <sys/types.h>

namespace gantry::image_build {

class OutputTail {
  public:
    explicit OutputTail(bool quiet, std::size_t keep = 10);
    ~OutputTail(); // restores stdout and stderr
    OutputTail(const OutputTail&) = delete;
    OutputTail& operator=(const OutputTail&) = delete;

    // Restores stdout and stderr and waits for the copy to drain; idempotent.
    void stop();
    // The last lines (after stop()), each indented by two spaces.
    const std::string& last_lines() const { return lines_; }

  private:
    Fd saved_out_, saved_err_, result_;
    pid_t helper_ = -1;
    std::string lines_;
    bool stopped_ = false;
};

} // namespace gantry::image_build
