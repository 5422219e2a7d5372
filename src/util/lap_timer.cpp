#include "util/lap_timer.hpp"

#include "util/log.hpp"

#include <string>

namespace gantry::log {

void LapTimer::lap(const char* what) {
    auto now = std::chrono::steady_clock::now();
    debug(std::string(what) + ": " +
          std::to_string(std::chrono::duration<double, std::milli>(now - start_).count()) + " ms");
    start_ = now;
}

} // namespace gantry::log
