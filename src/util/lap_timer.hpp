// LapTimer: --debug lines saying where a task spends its time.
#pragma once

#include <chrono>

namespace gantry::log {

// Each lap("what") logs "what: N ms" at --debug, the time since the previous lap (or since
// construction), and starts the next.
class LapTimer {
  public:
    void lap(const char* what);

  private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

} // namespace gantry::log
