// POST /containers/{id}/attach to a detached container's output (engine_api/sessions.hpp's
// attach_running): with logs=1 what it recorded, then (stream=1, running) its output as written,
// read from the file its output copier writes (container_log/output.hpp), as `logs -f` would,
// sent on the hijacked connection with docker's framing, until the container ends or the client
// hangs up; with stdin=1 to a container that keeps its stdin open (-i), what the client sends
// written to it, and on a terminal its detach keys end the attach and leave it running.
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

// all of DATA to FD (the container's stdin); false when its reader closed it
bool api_ar_write(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// What the client sent (DATA) through IN's detach keys to the container's stdin; false once
// the keys detached the client. A stdin the container closed takes nothing more.
bool api_ar_forward(AttachedStdin& in, std::string_view data) {
    bool detached = false;
    std::string bytes = in.keys ? in.keys->scan(data, detached) : std::string(data);
    if (in.fd && !bytes.empty() && !api_ar_write(in.fd.get(), bytes)) in.fd = Fd();
    return !detached;
}

// The client's bytes on SOCK, once it is readable: to IN (false when its keys detached it), or
// dropped without IN; false too when it hung up (a half-close is not: docker's CLI may send no
// stdin, and ends it so)
bool api_ar_take_input(int sock, AttachedStdin* in, bool& eof) {
    pollfd p{sock, POLLIN, 0};
    if (eof || ::poll(&p, 1, 0) <= 0) return true;
    if (p.revents & (POLLERR | POLLHUP)) return false;
    char buf[4096];
    ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
        eof = true;
        return true;
    }
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    return !in || api_ar_forward(*in, std::string_view(buf, static_cast<std::size_t>(n)));
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
    if (in && !api_ar_forward(*in, early)) return false; // detached at once: the stdin's end
    auto reader = container_log::OutputReader::open(s.container_dir);
    if (!reader) { // removed meanwhile, or never started: nothing (more) will come
        if (finish) ::shutdown(sock, SHUT_WR);
        return false;
    }
    if (!logs)
        reader->tail(0, streams); // from now on
    else
        await_headers_read(sock);
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
    bool running = follow, client_eof = false;
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
                if (!api_ar_take_input(sock, in, client_eof)) return false; // gone, or detached
                watch.wait(100, client_eof ? -1 : sock);
            }
        }
    } catch (const Error&) {
        // the file went bad under us: end the stream
    }
    if (finish) ::shutdown(sock, SHUT_WR);
    return true;
}

} // namespace gantry::engine_api
