// Transfer progress on stderr: on a terminal one bar per blob plus a total line with bytes,
// speed and ETA, redrawn a few times a second; otherwise one plain line when a blob starts and
// one when it ends. Nothing at all when quiet.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace gantry::registry {

class Progress {
  public:
    enum class State { waiting, active, done, skipped, failed };
    struct Bar {
        std::string label; // "sha256:ab12cd34ef56"
        std::int64_t total = 0;
        std::atomic<std::int64_t> bytes{0}; // transferred in this run
        std::atomic<std::int64_t> base{0};  // already there (resumed)
        std::atomic<State> state{State::waiting};
        std::string note; // shown when finished ("exists", "mounted from x", "resumed at 12 MB")
    };

    Progress(std::string verb, bool quiet, bool tty);
    ~Progress(); // stops the redraw and prints the final state
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    Bar* add(const std::string& label, std::int64_t total);
    void start(Bar* b, std::int64_t resumed_at = 0);
    void finish(Bar* b, State s, const std::string& note = {});
    void stop();

  private:
    void draw(bool final);
    void line(const Bar& b, std::string& out, bool final) const;
    std::string verb_;
    bool quiet_, tty_;
    std::deque<Bar> bars_; // stable addresses
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::size_t drawn_lines_ = 0;
    std::chrono::steady_clock::time_point t0_;
    std::thread th_;
};

// "12.3 MB" (decimal units, like docker).
std::string human_bytes(std::int64_t n);

} // namespace gantry::registry
