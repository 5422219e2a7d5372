// A process the service starts with a client's streams on a hijacked connection: a container
// attached before its start (docker run: create, attach, start, wait) or an exec. The helper
// process (engine_api/spawn.hpp) runs gantry's own `start -a` or `exec`; the session pumps the
// client's socket to its stdin (the client's half-close closes it) and its stdout and stderr back
// (docker's multiplexed frames: an 8-byte header, stream 1 or 2, without a terminal; raw bytes
// through a pty with one), then keeps its exit status for wait and exec's inspect.
#pragma once

#include "engine/attach.hpp"
#include "records/state.hpp"
#include "runtime/detach_keys.hpp"
#include "util/fd.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace gantry::engine_api {

// An attached client's way into a running container's stdin (engine/attach.hpp)
using engine::AttachedStdin;
using runtime::DetachKeys;

struct Session {
    std::mutex m;
    std::condition_variable cv;
    bool tty = false, want_in = false, want_out = true, want_err = true;
    // a terminal's output sent in docker's frames (stream 1) all the same: an exec started
    // with Tty false in the start's body (docker's daemon frames by the start's Tty)
    bool framed = false;
    bool started = false;   // its process runs (start_session)
    bool abandoned = false; // its client left before the start
    bool done = false;      // its process ended: STATUS is its exit status
    int status = 0;
    pid_t pid = -1;
    unsigned rows = 0, cols = 0; // a terminal size asked for before the start
    Fd in_w, out_r, err_r;       // without a terminal: the pipes' service ends
    Fd master;                   // with one: the pty's master
    Fd wake;                     // the pump's eventfd, written at the start (none yet: -1)
    // with want_in and a terminal (docker's daemon matches them on a terminal's input only):
    // the client's detach keys; once they came, the client is let go (its connection closed)
    // and the process runs on, its output read and dropped
    std::optional<DetachKeys> detach;
};

// Starts ARGS (gantry's own command line, after --root) as S's process, its streams piped or on
// a new pty as S says; wakes the client's pump. Throws Error when it cannot.
void start_session(Session& s, const std::string& store_root, const std::vector<std::string>& args);

// The pump of a hijacked connection SOCK (EARLY: bytes the HTTP layer read past the request):
// waits for the start (returns early, S abandoned, when the client leaves before it), then
// copies until the process's output ends, records its exit status and half-closes SOCK.
void pump_session(Session& s, int sock, std::string early);

// Waits until S's process ended; its exit status, or nothing when its client left before start
// or GONE (the waiting client hung up) says so.
std::optional<int> await_session(Session& s, const std::function<bool()>& gone = {});

// A terminal size change for S's pty (none: nothing to do, as docker's for a process without
// one; before the start: kept for it); false when S has ended.
bool resize_session(Session& s, unsigned height, unsigned width);

// The sessions of containers attached before their start, by container ID: a new one replaces
// an ended or abandoned one; false when one is still waiting or running.
bool register_attached(const std::string& id, const std::shared_ptr<Session>& s);
std::shared_ptr<Session> find_attached(const std::string& id);

// Until the client has read what is queued on SOCK (the 101 answer's headers), at most 1 s: a
// client that reads the headers through a buffered reader (docker-py's http.client) takes the
// bytes that came with them into that buffer and then reads the raw socket, so output sent
// right behind the headers would be lost to it (docker-py's exec_start(demux=True) lost an
// exec's first line so, under load). SIOCOUTQ: on a unix socket the bytes the peer has not
// read; on TCP the ones not acknowledged. (attach_running.cpp)
void await_headers_read(int sock);

// An attach to S's output file (attach_running.cpp), its STREAMS (a mask of
// container_log::kStdout, kStderr) on SOCK with docker's framing (multiplexed without a
// terminal, raw with one): with LOGS (docker's logs=1) what it recorded so far first, else from
// now on; with FOLLOW (stream=1, S running and detached) what it writes then, until it ends or
// the client hangs up. With FINISH, SOCK is half-closed at the end. False when the client hung
// up (or S has no output file: removed meanwhile, or never started).
// With IN, what the client sends on SOCK (EARLY first: what the HTTP layer read past the
// request) goes to the container's stdin, IN's detach keys ending the attach (false, SOCK not
// half-closed: the connection is closed, the container runs on); without, it is dropped.
bool attach_running(const records::ContainerState& s, unsigned streams, int sock, bool logs,
                    bool follow, bool finish = true, AttachedStdin* in = nullptr,
                    std::string_view early = {});

} // namespace gantry::engine_api
