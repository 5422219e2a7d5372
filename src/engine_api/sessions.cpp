// Hijacked connections' processes (engine_api/sessions.hpp).
#include "engine_api/sessions.hpp"

#include "engine_api/spawn.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

namespace gantry::engine_api {

namespace {

bool api_ses_write(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// docker's multiplexed frame: stream, 0, 0, 0, the length big endian, the bytes
bool api_ses_frame(int sock, char stream, const char* p, std::size_t n) {
    char head[8] = {stream,
                    0,
                    0,
                    0,
                    static_cast<char>(n >> 24),
                    static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8),
                    static_cast<char>(n)};
    return api_ses_write(sock, head, 8) && api_ses_write(sock, p, n);
}

// the most of the client's input held for a process that has not read it yet
constexpr std::size_t kApiSesInMax = 1 << 20;

struct ApiSesRegistry {
    std::mutex m;
    std::map<std::string, std::shared_ptr<Session>> by_id;
};

ApiSesRegistry& api_ses_registry() {
    static ApiSesRegistry r; // function-local: no start-up constructor
    return r;
}

} // namespace

void start_session(Session& s, const std::string& store_root,
                   const std::vector<std::string>& args) {
    std::lock_guard<std::mutex> lock(s.m);
    if (s.tty) {
        Fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
            throw_errno("cannot allocate a terminal for the container");
        char name[128];
        if (::ptsname_r(master.get(), name, sizeof name) != 0)
            throw_errno("cannot name the terminal's slave");
        Fd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!slave) throw_errno(std::string("cannot open ") + name);
        if (s.rows && s.cols) {
            struct winsize ws {};
            ws.ws_row = static_cast<unsigned short>(s.rows);
            ws.ws_col = static_cast<unsigned short>(s.cols);
            ::ioctl(master.get(), TIOCSWINSZ, &ws);
        }
        s.pid = spawn_helper(store_root, args, {slave.get(), slave.get(), slave.get(), true});
        s.master = std::move(master);
    } else {
        int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
        if ((s.want_in && ::pipe2(in, O_CLOEXEC) != 0) ||
            (s.want_out && ::pipe2(out, O_CLOEXEC) != 0) ||
            (s.want_err && ::pipe2(err, O_CLOEXEC) != 0))
            throw_errno("pipe failed");
        Fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
        s.pid = spawn_helper(store_root, args, {in_r.get(), out_w.get(), err_w.get(), false});
        s.in_w = std::move(in_w);
        s.out_r = std::move(out_r);
        s.err_r = std::move(err_r);
    }
    s.started = true;
    s.cv.notify_all();
    if (s.wake) { // the pump waits in poll(2), not on the condition variable
        std::uint64_t one = 1;
        (void)!::write(s.wake.get(), &one, sizeof one);
    }
}

void pump_session(Session& s, int sock, std::string early) {
    bool client_eof = false, client_gone = false;
    std::string pending = std::move(early);
    // until the start: what the client sends is kept for the process's stdin
    for (;;) {
        int wake = -1;
        {
            std::lock_guard<std::mutex> lock(s.m);
            if (s.started) break;
            if (client_gone) {
                s.abandoned = true;
                s.cv.notify_all();
                return;
            }
            // start_session writes it: `docker run`'s output flows the moment the start
            // comes (a 100 ms poll timeout was most of a docker run's time through the socket)
            if (!s.wake) s.wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
            wake = s.wake.get();
        }
        bool room = pending.size() < kApiSesInMax;
        pollfd ps[2] = {{sock, static_cast<short>(client_eof || !room ? 0 : POLLIN), 0},
                        {wake, POLLIN, 0}};
        pollfd& p = ps[0];
        if (::poll(ps, wake >= 0 ? 2 : 1, wake >= 0 ? 1000 : 100) < 0 && errno != EINTR)
            client_gone = true;
        if (p.revents & POLLIN) {
            char buf[16384];
            ssize_t n = ::read(sock, buf, sizeof buf);
            if (n > 0 && s.want_in) pending.append(buf, static_cast<std::size_t>(n));
            if (n == 0) client_eof = true;
            if (n < 0 && errno != EINTR && errno != EAGAIN) client_gone = true;
        }
        if (p.revents & (POLLHUP | POLLERR)) client_gone = true;
    }
    // stdin is written as the process takes it (non-blocking, from TO_IN), so a process that
    // writes while its stdin is full never deadlocks against this loop; the socket is read
    // again once less than kApiSesInMax is waiting
    // the detach keys (with stdin): once they came, the client is let go, the process runs on
    bool detached = false;
    auto from_client = [&s, &detached](std::string_view data) {
        if (!s.detach || detached) return std::string(data);
        return s.detach->scan(data, detached);
    };
    std::string to_in = from_client(pending);
    int in = s.tty ? s.master.get() : s.in_w.get();
    if (in >= 0) ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) | O_NONBLOCK);
    bool sock_ok = true;
    if (sock >= 0) await_headers_read(sock); // before the first output goes behind them
    int outs[2] = {s.tty ? s.master.get() : s.out_r.get(), s.tty ? -1 : s.err_r.get()};
    for (;;) {
        if (detached && sock_ok) {
            // docker's detach: the client's connection ends, nothing more goes to the process's
            // stdin (held open: a terminal's master, or the pipe, until it ends)
            ::shutdown(sock, SHUT_RDWR);
            sock_ok = false;
            client_eof = true;
        }
        if (client_eof && to_in.empty() && !s.tty && s.in_w && !detached) {
            s.in_w = Fd(); // the client's half-close: the process's stdin ends
            in = -1;
        }
        if (outs[0] < 0 && outs[1] < 0) break;
        bool want_sock = !client_eof && sock_ok && to_in.size() < kApiSesInMax;
        pollfd p[4] = {{want_sock ? sock : -1, POLLIN, 0},
                       {outs[0], POLLIN, 0},
                       {outs[1], POLLIN, 0},
                       {to_in.empty() ? -1 : in, POLLOUT, 0}};
        if (::poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        char buf[32768];
        if (p[0].revents) {
            ssize_t n = ::read(sock, buf, sizeof buf);
            if (n > 0) {
                auto bytes = from_client(std::string_view(buf, static_cast<std::size_t>(n)));
                if (in >= 0) to_in.append(bytes);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                client_eof = true;
            }
        }
        if (p[3].revents) {
            ssize_t n = ::write(in, to_in.data(), to_in.size());
            if (n > 0)
                to_in.erase(0, static_cast<std::size_t>(n));
            else if (n < 0 && errno != EINTR && errno != EAGAIN)
                to_in.clear(); // it closed its stdin: what is left goes nowhere
        }
        for (int i = 0; i < 2; ++i) {
            if (!p[i + 1].revents) continue;
            ssize_t n = ::read(outs[i], buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) { // its end (a pty's master: EIO once its last slave closed)
                outs[i] = -1;
                continue;
            }
            if (!sock_ok) continue; // the client left: the output is read and dropped
            if (s.tty && !s.framed)
                sock_ok = api_ses_write(sock, buf, static_cast<std::size_t>(n));
            else
                sock_ok =
                    api_ses_frame(sock, static_cast<char>(i + 1), buf, static_cast<std::size_t>(n));
        }
    }
    int status = wait_helper(s.pid);
    {
        std::lock_guard<std::mutex> lock(s.m);
        s.status = status;
        s.done = true;
        s.in_w = Fd();
        s.out_r = Fd();
        s.err_r = Fd();
        s.master = Fd();
        s.cv.notify_all();
    }
    if (sock_ok) ::shutdown(sock, SHUT_WR);
}

std::optional<int> await_session(Session& s, const std::function<bool()>& gone) {
    std::unique_lock<std::mutex> lock(s.m);
    while (!s.cv.wait_for(lock, std::chrono::milliseconds(200),
                          [&s] { return s.done || (s.abandoned && !s.started); }))
        if (gone && gone()) return std::nullopt;
    if (!s.done) return std::nullopt;
    return s.status;
}

bool resize_session(Session& s, unsigned height, unsigned width) {
    std::lock_guard<std::mutex> lock(s.m);
    if (s.done || (s.abandoned && !s.started)) return false;
    if (!s.started) {
        s.rows = height;
        s.cols = width;
        return true;
    }
    if (!s.master) return true;
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(height);
    ws.ws_col = static_cast<unsigned short>(width);
    ::ioctl(s.master.get(), TIOCSWINSZ, &ws);
    return true;
}

bool register_attached(const std::string& id, const std::shared_ptr<Session>& s) {
    auto& r = api_ses_registry();
    std::lock_guard<std::mutex> lock(r.m);
    auto it = r.by_id.find(id);
    if (it != r.by_id.end()) {
        std::lock_guard<std::mutex> old(it->second->m);
        if (!it->second->done && !(it->second->abandoned && !it->second->started)) return false;
    }
    r.by_id[id] = s;
    return true;
}

std::shared_ptr<Session> find_attached(const std::string& id) {
    auto& r = api_ses_registry();
    std::lock_guard<std::mutex> lock(r.m);
    auto it = r.by_id.find(id);
    return it == r.by_id.end() ? nullptr : it->second;
}

} // namespace gantry::engine_api
