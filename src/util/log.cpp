#include "util/log.hpp"

#include "util/printable.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace gantry::log {

namespace {
std::atomic<Level> g_level{Level::normal};
std::mutex g_mutex;
void emit(const char* prefix, const std::string& msg) {
    std::lock_guard lock(g_mutex);
    // one line, whatever the message quotes (util/printable.hpp)
    std::fprintf(stderr, "gantry: %s%s\n", prefix, text::printable(msg).c_str());
}
} // namespace

void set_level(Level level) {
    g_level = level;
}
Level level() {
    return g_level;
}
void debug(const std::string& msg) {
    if (g_level == Level::debug) emit("debug: ", msg);
}
void note(const std::string& msg) {
    if (g_level != Level::quiet) emit("", msg);
}
void warn(const std::string& msg) {
    emit("warning: ", msg);
}

} // namespace gantry::log
