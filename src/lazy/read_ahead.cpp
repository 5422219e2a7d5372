#include "lazy/read_ahead.hpp"

#include <algorithm>

namespace gantry::lazy {

ReadAhead::Stream* ReadAhead::find(std::uint64_t offset) {
    for (Stream& s : streams_)
        if (s.window != 0 && offset >= s.start && offset <= s.next + kGap) return &s;
    return nullptr;
}

std::uint64_t ReadAhead::on_miss(std::uint64_t offset, std::uint64_t limit) {
    Stream* s = find(offset);
    if (s) {
        s->sequential = true;
        s->window = grow(s->window);
    } else {
        s = &streams_[0];
        for (Stream& x : streams_)
            if (x.used < s->used) s = &x;
        *s = Stream{};
        s->window = initial_;
    }
    s->start = offset;
    s->next = offset;
    s->used = ++clock_;
    last_ = s;
    return limit > offset ? std::min(s->window, limit - offset) : s->window;
}

void ReadAhead::fetched(std::uint64_t offset, std::uint64_t end) {
    if (!last_ || last_->start != offset || end < offset) return;
    last_->next = end;
    // a stream that continued: its next window is asked for as soon as this one is read
    last_->trigger = last_->sequential ? offset : end;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>>
ReadAhead::on_read(std::uint64_t offset, std::uint64_t end, std::uint64_t limit) {
    for (Stream& s : streams_) {
        if (s.window == 0 || !s.sequential || offset < s.trigger || offset >= s.next) continue;
        if (end <= offset || s.next >= limit) return std::nullopt;
        s.window = grow(s.window);
        std::pair<std::uint64_t, std::uint64_t> ahead{s.next, std::min(s.next + s.window, limit)};
        s.trigger = s.next;
        s.next = ahead.second;
        s.used = ++clock_;
        return ahead;
    }
    return std::nullopt;
}

} // namespace gantry::lazy
