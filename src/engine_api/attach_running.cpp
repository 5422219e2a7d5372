// POST /containers/{id}/attach to a detached container's output (engine_api/sessions.hpp's
// attach_running): with logs=1 what it recorded, then (stream=1, running) its output as written,
// read from the file its output copier writes (container_log/output.hpp), as `logs -f` would,
// sent on the hijacked connection with docker's framing, until the container ends or the client
// hangs up; with stdin=1 to a container that keeps its stdin open (-i), what the client sends
// written to it, and on a terminal its detach keys end the attach and leave it running.
#include "container_log/output.hpp"
#include "engine/attach.hpp"
#include "engine_api/sessions.hpp"
#include "records/state.hpp"

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

// The client's bytes on SOCK, once poll said REVENTS: to IN (detached when its keys came), or
// dropped without IN; gone when it hung up (a half-close is not: docker's CLI may send no
// stdin, and ends it so)
engine::InputStep api_ar_take_input(int sock, short revents, AttachedStdin* in) {
    if (revents & (POLLERR | POLLHUP)) return engine::InputStep::gone;
    char buf[4096];
    ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return engine::InputStep::ended;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? engine::InputStep::more
                                                 : engine::InputStep::gone;
    if (in && !in->forward(std::string_view(buf, static_cast<std::size_t>(n))))
        return engine::InputStep::detached;
    return engine::InputStep::more;
}

} // namespace

void await_headers_read(int sock) {
    for (int ms = 0; ms < 1000; ++ms) {
        int queued = 0;
        if (::ioctl(sock, SIOCOUTQ, &queued) != 0 || queued == 0) return;
        ::usleep(1000);
    }
}

bool attach_running(const records::ContainerState& s, unsigned streams, int sock, bool logs,
                    bool follow, bool finish, AttachedStdin* in, std::string_view early) {
    if (in && !in->forward(early)) return false; // detached at once: the stdin's end
    if (logs) await_headers_read(sock);
    const bool framed = !s.spec.terminal;
    std::string out;
    engine::Attachment a;
    a.streams = streams;
    a.logs = logs;
    a.follow = follow;
    a.output = [&out, framed](int stream, const char* data, std::size_t n) {
        if (framed)
            container_log::append_line_frames(out, stream, data, n);
        else
            out.append(data, n);
        return true;
    };
    a.flush = [&out, sock] {
        bool sent = out.empty() || api_ar_send(sock, out);
        out.clear();
        return sent;
    };
    a.input_fd = sock;
    a.on_input = [sock, in](short revents) { return api_ar_take_input(sock, revents, in); };
    switch (engine::attach(s, a)) {
    case engine::AttachEnd::gone:
    case engine::AttachEnd::detached:
        return false;
    case engine::AttachEnd::no_output: // removed meanwhile, or never started
        if (finish) ::shutdown(sock, SHUT_WR);
        return false;
    case engine::AttachEnd::ended:
        break;
    }
    if (finish) ::shutdown(sock, SHUT_WR);
    return true;
}

} // namespace gantry::engine_api
