// Response bodies made while the client reads them: a job's JSON lines (pull, push, load and
// build answer docker's JSON message stream: progress, then a final status or an error line
// after the 200) and a file's bytes (an image archive written to tmp/ for GET /images/get).
#pragma once

#include "engine_api/api.hpp"
#include "util/fd.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace gantry::engine_api {

// The message of an exception as the API answers it: a gantry Error's message and its hint.
std::string api_error_text(const std::exception& e);

// JOB runs on its own thread from construction; each emit() hands the client one JSON line.
// An exception the job throws becomes docker's error line ({"errorDetail": {"message": M},
// "error": M}), which the docker CLI prints and exits 1 on. The destructor waits for the job:
// a client that hangs up does not cut a pull or a load short half-way.
class JobStream : public Stream {
  public:
    using Emit = std::function<void(const json&)>;
    using Job = std::function<void(const Emit&)>;
    explicit JobStream(Job job);
    ~JobStream() override;
    JobStream(const JobStream&) = delete;
    JobStream& operator=(const JobStream&) = delete;
    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override;

  private:
    void emit(const json& line);
    std::mutex mu_;
    std::condition_variable cv_;
    std::string pending_;
    bool done_ = false;
    std::thread th_;
};

// A 200 whose body is JOB's JSON lines.
Response job_response(JobStream::Job job);

// The bytes of an open file from its start (already unlinked: it goes with the stream).
class FileStream : public Stream {
  public:
    explicit FileStream(Fd fd) : fd_(std::move(fd)) {}
    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override;

  private:
    Fd fd_;
};

} // namespace gantry::engine_api
