#include "lazy/read_fetcher.hpp"

#include "util/log.hpp"

#include <thread>

namespace gantry::lazy {

ReadFetcher::ReadFetcher(std::shared_ptr<ReadPriority> priority, unsigned threads)
    : state_(std::make_shared<State>()), threads_(threads == 0 ? 1 : threads) {
    state_->priority = std::move(priority);
}

ReadFetcher::~ReadFetcher() {
    std::deque<Job> left;
    {
        std::lock_guard hold(state_->mu);
        state_->stop = true;
        left.swap(state_->jobs);
    }
    state_->ready.notify_all();
    for (auto& j : left) j.map->abandon(j.begin, j.end);
}

void ReadFetcher::submit(std::shared_ptr<RemoteBlob> blob, std::shared_ptr<LocalMap> map,
                         std::uint64_t begin, std::uint64_t end, bool urgent) {
    auto runs = map->claim(begin, end);
    if (runs.empty()) return;
    {
        std::lock_guard hold(state_->mu);
        if (urgent)
            for (auto it = runs.rbegin(); it != runs.rend(); ++it)
                state_->jobs.push_front({blob, map, it->first, it->second, true});
        else
            for (auto& [b, e] : runs) state_->jobs.push_back({blob, map, b, e, false});
        while (state_->started < threads_) {
            ++state_->started;
            std::thread(work, state_).detach();
        }
    }
    state_->ready.notify_one();
}

void ReadFetcher::work(std::shared_ptr<State> s) {
    for (;;) {
        Job j;
        {
            std::unique_lock hold(s->mu);
            s->ready.wait(hold, [&] { return s->stop || !s->jobs.empty(); });
            if (s->stop) return;
            j = std::move(s->jobs.front());
            s->jobs.pop_front();
        }
        ReadPriority::Reader reading(s->priority.get()); // the prefetch waits meanwhile
        log::debug(j.blob->what() + ": " + (j.urgent ? "read" : "read-ahead") + " of bytes " +
                   std::to_string(j.begin) + "+" + std::to_string(j.end - j.begin));
        std::uint64_t marked = j.begin;
        try {
            j.blob->stream_into_copy(j.begin, static_cast<std::size_t>(j.end - j.begin),
                                     [&](std::uint64_t upto) {
                                         if (upto < marked) marked = j.begin; // a retry
                                         marked = j.map->mark_whole(marked, upto);
                                     });
        } catch (const std::exception&) {
            // remembered by the blob: the read waiting on these bytes fails with it
        }
        j.map->abandon(j.begin, j.end); // what did not arrive (the rest is marked)
    }
}

} // namespace gantry::lazy
