#include "engine_api/job_stream.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unistd.h>

namespace gantry::engine_api {

std::string api_error_text(const std::exception& e) {
    if (auto* g = dynamic_cast<const Error*>(&e)) {
        std::string m = g->message();
        if (!g->hint().empty()) m += " (" + g->hint() + ")";
        return m;
    }
    return e.what();
}

JobStream::JobStream(Job job) {
    th_ = std::thread([this, job = std::move(job)] {
        try {
            job([this](const json& line) { emit(line); });
        } catch (const std::exception& e) {
            auto m = api_error_text(e);
            emit({{"errorDetail", {{"message", m}}}, {"error", m}});
        }
        std::lock_guard l(mu_);
        done_ = true;
        cv_.notify_all();
    });
}

JobStream::~JobStream() {
    if (th_.joinable()) th_.join();
}

void JobStream::emit(const json& line) {
    std::lock_guard l(mu_);
    pending_ += line.dump(-1, ' ', false, json::error_handler_t::replace);
    pending_ += "\r\n"; // docker's own separator
    cv_.notify_all();
}

std::size_t JobStream::read(char* buf, std::size_t max, const std::function<bool()>& gone) {
    std::unique_lock l(mu_);
    while (pending_.empty() && !done_) {
        cv_.wait_for(l, std::chrono::milliseconds(200));
        if (pending_.empty() && !done_ && gone()) return 0;
    }
    std::size_t n = std::min(max, pending_.size());
    std::memcpy(buf, pending_.data(), n);
    pending_.erase(0, n);
    return n;
}

Response job_response(JobStream::Job job) {
    Response r;
    r.stream = std::make_unique<JobStream>(std::move(job));
    return r;
}

std::size_t FileStream::read(char* buf, std::size_t max, const std::function<bool()>&) {
    for (;;) {
        ssize_t n = ::read(fd_.get(), buf, max);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read the archive to send");
        return static_cast<std::size_t>(n);
    }
}

} // namespace gantry::engine_api
