// POST /containers/{id}/attach to a detached container's output (engine_api/sessions.hpp's
// attach_running): with logs=1 what it recorded, then (stream=1, running) its output as written,
// read from the file its output copier writes (container_log/output.hpp), as `logs -f` would,
// sent on the hijacked connection with docker's framing, until the container ends or the client
// hangs up.
#include "container_log/output.hpp"
#include "engine_api/sessions.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstdint>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace gantry::engine_api {

namespace {

// all of DATA to SOCK; false when the client is gone
bool api_ar_send(int sock, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(sock, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// whether the client hung up (a half-close of its side is not: docker's CLI may send no stdin)
bool api_ar_gone(int sock) {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP)) return true;
    char buf[4096];
    ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 && errno != EAGAIN && errno != EINTR; // bytes (ignored) or its half-close: on
}

// Until the client has read what is queued on SOCK (the 101 answer's headers), at most 1 s:
// a client that reads the headers through a buffered reader (docker-py's http.client) takes
// the bytes that came with them into that buffer and then reads the raw socket, so output sent
// right behind the headers (logs=1's recorded output) would be lost to it. SIOCOUTQ: on a unix
// socket the bytes the peer has not read; on TCP the ones not acknowledged.
void api_ar_await_headers_read(int sock) {
    for (int ms = 0; ms < 1000; ++ms) {
        int queued = 0;
        if (::ioctl(sock, SIOCOUTQ, &queued) != 0 || queued == 0) return;
        ::usleep(1000);
    }
}

} // namespace

bool attach_running(const records::ContainerState& s, unsigned streams, int sock, bool logs,
                    bool follow, bool finish) {
    auto reader = container_log::OutputReader::open(s.container_dir);
    if (!reader) { // removed meanwhile, or never started: nothing (more) will come
        if (finish) ::shutdown(sock, SHUT_WR);
        return false;
    }
    if (!logs)
        reader->tail(0, streams); // from now on
    else
        api_ar_await_headers_read(sock);
    const bool framed = !s.spec.terminal;
    std::string out;
    auto sink = [&out, framed](int stream, const char* data, std::size_t n) {
        if (framed)
            container_log::append_line_frames(out, stream, data, n);
        else
            out.append(data, n);
    };
    auto state_file = records::StateDir().dir() / s.name / "state.json";
    container_log::OutputWatch watch(reader->fd());
    bool running = follow;
    try {
        for (;;) {
            reader->read(streams, sink);
            if (!out.empty() && !api_ar_send(sock, out)) return false;
            out.clear();
            if (!running) break;
            // its workload, then its monitor recording the end (so the copier is done); until
            // then, or its removal; what was written up to then is read once more
            running = (s.running() || s.monitor_alive()) && fs::stdfs::exists(state_file);
            if (running) {
                if (api_ar_gone(sock)) return false;
                watch.wait(100);
            }
        }
    } catch (const Error&) {
        // the file went bad under us: end the stream
    }
    if (finish) ::shutdown(sock, SHUT_WR);
    return true;
}

} // namespace gantry::engine_api
