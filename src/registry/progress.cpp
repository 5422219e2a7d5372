#include "registry/progress.hpp"

#include "util/units.hpp"

#include <cstdio>

namespace gantry::registry {

std::string human_bytes(std::int64_t n) {
    auto s = units::decimal_scaled(static_cast<double>(n));
    char buf[32];
    std::snprintf(buf, sizeof buf, s.whole_bytes ? "%.0f %s" : "%.1f %s", s.value, s.unit);
    return buf;
}

Progress::Progress(std::string verb, bool quiet, bool tty, ProgressObserver observer)
    : verb_(std::move(verb)), quiet_(quiet), tty_(tty && !quiet),
      t0_(std::chrono::steady_clock::now()), observer_(std::move(observer)) {
    if (tty_ || observer_)
        th_ = std::thread([this] {
            std::unique_lock l(mu_);
            while (!stopping_) {
                cv_.wait_for(l, std::chrono::milliseconds(200));
                if (stopping_) break;
                if (tty_) draw(false);
                if (observer_) tell_active();
            }
        });
}

void Progress::tell(ProgressEvent::Kind kind, const Bar& b) {
    if (!observer_) return;
    ProgressEvent e{kind, b.label, b.base + b.bytes, b.total, b.state.load(), {}};
    if (kind == ProgressEvent::Kind::finished) e.note = b.note;
    std::lock_guard l(observer_mu_);
    observer_(e);
}

void Progress::tell_active() { // under mu_
    for (auto& b : bars_)
        if (b.state == State::active && b.bytes > 0) tell(ProgressEvent::Kind::advanced, b);
}

Progress::~Progress() {
    stop();
}

void Progress::stop() {
    {
        std::lock_guard l(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (th_.joinable()) th_.join();
    std::lock_guard l(mu_);
    if (tty_) draw(true);
}

Progress::Bar* Progress::add(const std::string& label, std::int64_t total) {
    std::lock_guard l(mu_);
    auto& b = bars_.emplace_back();
    b.label = label;
    b.total = total;
    tell(ProgressEvent::Kind::added, b);
    return &b;
}

void Progress::start(Bar* b, std::int64_t resumed_at) {
    b->base = resumed_at;
    b->state = State::active;
    tell(ProgressEvent::Kind::started, *b);
    if (quiet_ || tty_) return;
    std::lock_guard l(mu_);
    std::string extra = resumed_at > 0 ? ", resuming at " + human_bytes(resumed_at) : "";
    std::fprintf(stderr, "%s blob %s (%s%s)\n", verb_.c_str(), b->label.c_str(),
                 human_bytes(b->total).c_str(), extra.c_str());
}

void Progress::finish(Bar* b, State s, const std::string& note) {
    {
        std::lock_guard l(mu_);
        b->note = note;
    }
    b->state = s;
    {
        std::lock_guard l(mu_);
        tell(ProgressEvent::Kind::finished, *b);
    }
    if (quiet_ || tty_) return;
    std::lock_guard l(mu_);
    const char* word = s == State::done ? "done" : s == State::skipped ? "skipped" : "failed";
    std::fprintf(stderr, "blob %s: %s%s%s\n", b->label.c_str(), word, note.empty() ? "" : ": ",
                 note.c_str());
}

void Progress::line(const Bar& b, std::string& out, bool final) const {
    State s = b.state;
    std::int64_t have = b.base + b.bytes;
    char buf[256];
    if (s == State::skipped || (s == State::done && !b.note.empty())) {
        std::snprintf(buf, sizeof buf, "%s  %s", b.label.c_str(), b.note.c_str());
    } else if (s == State::done) {
        std::snprintf(buf, sizeof buf, "%s  done  %s", b.label.c_str(),
                      human_bytes(b.total).c_str());
    } else if (s == State::failed) {
        std::snprintf(buf, sizeof buf, "%s  failed%s%s", b.label.c_str(),
                      b.note.empty() ? "" : ": ", b.note.c_str());
    } else if (s == State::waiting) {
        std::snprintf(buf, sizeof buf, "%s  %s", b.label.c_str(),
                      final ? "not started" : "waiting");
    } else {
        constexpr int width = 30;
        int fill = b.total > 0
                       ? static_cast<int>(width * std::min<std::int64_t>(have, b.total) / b.total)
                       : 0;
        std::string bar(static_cast<std::size_t>(fill), '=');
        if (fill < width) bar += '>';
        bar.resize(width, ' ');
        std::snprintf(buf, sizeof buf, "%s  [%s]  %s / %s", b.label.c_str(), bar.c_str(),
                      human_bytes(have).c_str(), human_bytes(b.total).c_str());
    }
    out += buf;
    out += "\033[K\n";
}

void Progress::draw(bool final) {
    std::string out;
    if (drawn_lines_) out += "\033[" + std::to_string(drawn_lines_) + "A";
    std::int64_t total = 0, have = 0, moved = 0;
    for (auto& b : bars_) {
        line(b, out, final);
        total += b.total;
        have += b.state == State::skipped ? b.total : b.base + b.bytes;
        moved += b.bytes;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    double speed = secs > 0 ? static_cast<double>(moved) / secs : 0;
    char buf[200];
    std::string eta = "";
    if (!final && speed > 0 && total > have) {
        std::snprintf(buf, sizeof buf, "  ETA %.0fs", static_cast<double>(total - have) / speed);
        eta = buf;
    }
    std::snprintf(buf, sizeof buf, "total  %s / %s  %s/s%s  %.1fs", human_bytes(have).c_str(),
                  human_bytes(total).c_str(), human_bytes(static_cast<std::int64_t>(speed)).c_str(),
                  eta.c_str(), secs);
    out += buf;
    out += "\033[K\n";
    drawn_lines_ = bars_.size() + 1;
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
}

} // namespace gantry::registry
