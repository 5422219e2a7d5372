// Transfer progress on stderr: on a terminal one bar per blob plus a total line with bytes,
// speed and ETA, redrawn a few times a second; otherwise one plain line when a blob starts and
// one when it ends. Nothing at all when quiet.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gantry::registry {

// What a Progress tells an observer (the Engine API's JSON progress stream) besides or instead
// of stderr: a blob added, started, moved on (every 200 ms while active), finished.
enum class ProgressState { waiting, active, done, skipped, failed };
struct ProgressEvent {
    enum class Kind { added, started, advanced, finished } kind;
    std::string label; // "sha256:ab12cd34ef56"
    std::int64_t current = 0, total = 0;
    ProgressState state = ProgressState::waiting;
    std::string note;
};
using ProgressObserver = std::function<void(const ProgressEvent&)>;

class Progress {
  public:
    using State = ProgressState;
    struct Bar {
        std::string label; // "sha256:ab12cd34ef56"
        std::int64_t total = 0;
        std::atomic<std::int64_t> bytes{0}; // transferred in this run
        std::atomic<std::int64_t> base{0};  // already there (resumed)
        std::atomic<State> state{State::waiting};
        std::string note; // shown when finished ("exists", "mounted from x", "resumed at 12 MB")
    };

    // OBSERVER (set): told of every change, on the calling thread or the redraw thread, one
    // call at a time; QUIET does not silence it
    Progress(std::string verb, bool quiet, bool tty, ProgressObserver observer = {});
    ~Progress(); // stops the redraw and prints the final state
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    Bar* add(const std::string& label, std::int64_t total);
    void start(Bar* b, std::int64_t resumed_at = 0);
    void finish(Bar* b, State s, const std::string& note = {});
    void stop();

  private:
    void draw(bool final);
    void tell(ProgressEvent::Kind kind, const Bar& b);
    void tell_active();
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
    ProgressObserver observer_;
    std::mutex observer_mu_;
};

// "12.3 MB" (decimal units, like docker).
std::string human_bytes(std::int64_t n);

} // namespace gantry::registry
