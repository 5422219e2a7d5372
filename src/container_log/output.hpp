// A detached container's output, read back as `docker logs` does: the whole of it, its last
// lines, and following it while the container may still write.
//
// Written since the streams were told apart: CONTAINER_DIR/output, a sequence of frames in
// docker's multiplexed format (an 8-byte header: the stream, 1 stdout or 2 stderr, a flags byte,
// two zero bytes, the payload's length big endian; then the payload), appended by the
// container's output copier (a process its monitor forks: the workload's stdout and stderr are
// pipes to it). Since timestamps are recorded, the copier's frames have the flag kTimed: the
// time the chunk was read (nanoseconds since the epoch, 8 bytes big endian) comes between the
// header and the payload. A frame with flags 0 (written before) has no time.
// Before: CONTAINER_DIR/log, both streams interleaved as written, read as stdout.
#pragma once

#include "util/fd.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::container_log {

inline constexpr const char* kOutputFile = "output"; // framed
inline constexpr const char* kLegacyLogFile = "log"; // raw, both streams (older containers)
inline constexpr unsigned kStdout = 1, kStderr = 2;  // stream masks (the frames' ids are 1, 2)
inline constexpr unsigned char kTimed = 1;           // a frame's flags: its time follows the header

// A chunk's handler: its stream (1, 2), its time (nanoseconds since the epoch; 0 for a chunk
// recorded without one), its bytes.
using TimedSink = std::function<void(int, std::int64_t, const char*, std::size_t)>;

// The copier's loop: reads the pipes OUT and ERR until both end, appending each read to FILE
// (O_APPEND) as one timed frame of stream 1 or 2 (the time of the read, CLOCK_REALTIME; a
// payload of at most 64 KiB, one write each).
void copy_streams_framed(int out, int err, int file);

// The copier of a detached container's monitor: a process reading two new pipes into PATH
// (created 0600, appended to) as frames until every writer is gone. Returns its pid, and the
// pipes' write ends (close-on-exec) in OUT_W and ERR_W for the workload's stdout and stderr.
// Forked: only its three descriptors stay open in it (its own stdio is /dev/null), and
// SIGHUP, SIGINT and SIGTERM are ignored (it ends with the streams). Error when it cannot start.
pid_t start_output_copier(const std::string& path, Fd& out_w, Fd& err_w);

// Waits up to MS milliseconds for the copier PID to end (it ends once every writer of its
// pipes has closed them); true when it did (reaped).
bool await_output_copier(pid_t pid, int ms);

// Appends DATA as one frame of docker's multiplexed format to OUT: the 8-byte header (stream id,
// three zero bytes, the length big-endian), then the bytes. What the Engine API sends clients.
void append_frame(std::string& out, int stream, const char* data, std::size_t n);
// DATA as docker's log messages are framed: a frame per line (each with its new line), the
// part after the last one a frame of its own, as docker's log drivers record a line a message.
void append_line_frames(std::string& out, int stream, const char* data, std::size_t n);

// A container's output file, opened for reading: the framed one, or the raw one older
// containers have (read as stdout's).
class OutputReader {
  public:
    // DIR/output, else DIR/log; nullopt (errno set) when neither opens.
    static std::optional<OutputReader> open(const std::string& dir);
    bool framed() const { return framed_; }
    const std::string& path() const { return path_; }
    // Moves the start to the first of the last LINES lines of the STREAMS (a mask) selected.
    void tail(std::size_t lines, unsigned streams);
    // Hands SINK (stream id, data, size) what is complete from the position on, of the STREAMS
    // selected, and moves the position past it; true when anything was read (selected or not).
    // Error(io) for a file that cannot be read or a frame that is not one.
    bool read(unsigned streams, const std::function<void(int, const char*, std::size_t)>& sink);
    // The same, with each chunk's time (0 for a chunk recorded without one).
    bool read(unsigned streams, const TimedSink& sink);
    int fd() const { return fd_.get(); }

  private:
    OutputReader(Fd fd, bool framed, std::string path)
        : fd_(std::move(fd)), framed_(framed), path_(std::move(path)) {}
    bool fill(off_t off, std::size_t need); // the buffer holds [off, off + need)
    Fd fd_;
    bool framed_;
    std::string path_;
    off_t at_ = 0;           // a frame's start (framed), or a byte (raw)
    std::uint32_t skip_ = 0; // the payload bytes of the frame at at_ already handed out
    std::vector<char> buf_;
    off_t buf_off_ = 0;
    std::size_t buf_len_ = 0;
};

// What docker's `logs` selects by time and how it marks it: --since and --until (nanoseconds
// since the epoch; 0: not given), --timestamps.
struct LogView {
    std::int64_t since = 0, until = 0;
    bool timestamps = false;
    bool selects() const { return since != 0 || until != 0; }
};

// VIEW applied between a reader and SINK: a chunk recorded before SINCE or after UNTIL is left
// out (docker's json-file keeps since <= time <= until), and so is one recorded without a time
// when either is given; with timestamps, each line's start is prefixed with its chunk's time as
// docker prints it, RFC 3339 in UTC with 9 fraction digits and a space
// ("2026-11-29T12:38:36.123456789Z "; docker's zero time for a chunk without one), a line's
// start tracked per stream.
class ViewSink {
  public:
    ViewSink(LogView view, std::function<void(int, const char*, std::size_t)> sink)
        : view_(view), sink_(std::move(sink)) {}
    void operator()(int stream, std::int64_t time, const char* data, std::size_t n);

  private:
    LogView view_;
    std::function<void(int, const char*, std::size_t)> sink_;
    bool line_start_[3] = {true, true, true};
    std::string stamped_;
};

// TIME (nanoseconds since the epoch) as docker's logs print it: RFC3339NanoFixed in UTC
// ("2026-11-29T12:38:36.000000001Z"); 0 is docker's zero time, "0001-01-01T00:00:00.000000000Z".
std::string log_time(std::int64_t time);

// `gantry logs`: what R has of STREAMS, through VIEW, stdout's to OUT and stderr's to ERR
// (consecutive pieces of one stream written together); with FOLLOW as copy_output's.
void print_output(OutputReader& r, unsigned streams, int out, int err,
                  const std::function<bool()>& follow = {}, const LogView& view = {});

// Blocks until FD (a file) is written, or ALSO (a descriptor, -1: none) is readable, at most MS
// milliseconds (inotify; a sleep without it).
class OutputWatch {
  public:
    explicit OutputWatch(int fd);
    void wait(int ms, int also = -1);

  private:
    Fd watch_;
};

// The offset at which the last LINES lines of the file FD begin (a last line without a newline
// counts as one). Reads backwards from the end in blocks, so a large file costs only its tail.
off_t tail_offset(int fd, std::size_t lines);

// Copies FD from offset FROM to OUT until its end. With FOLLOW set, then keeps copying what is
// appended, woken by inotify (or every 100 ms), until FOLLOW returns false, and copies what was
// appended up to then. Error(io) if FD cannot be read or OUT cannot be written.
void copy_output(int fd, off_t from, int out, const std::function<bool()>& follow = {});

} // namespace gantry::container_log
