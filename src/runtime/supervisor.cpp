#include "runtime/supervisor.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace gantry::runtime::detail {

sigset_t forwarded_signals() {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH, SIGCONT})
        sigaddset(&s, sig);
    return s;
}

ForwardedSignalsBlocked::ForwardedSignalsBlocked() : set_(forwarded_signals()) {
    ::sigprocmask(SIG_BLOCK, &set_, &old_);
    sigemptyset(&was_ignored_);
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction now {};
        if (sigismember(&set_, sig) == 1 && ::sigaction(sig, nullptr, &now) == 0 &&
            now.sa_handler == SIG_IGN) {
            ::signal(sig, SIG_DFL);
            sigaddset(&was_ignored_, sig);
        }
    }
}

ForwardedSignalsBlocked::~ForwardedSignalsBlocked() {
    for (int sig = 1; sig < NSIG; ++sig) // ignored again before unblocked: a pending one is dropped
        if (sigismember(&was_ignored_, sig) == 1) ::signal(sig, SIG_IGN);
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

namespace {

struct RawMode {
    bool on = false;
    struct termios saved {};
    void restore() {
        if (on) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        on = false;
    }
    void enable() {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved) != 0) return;
        struct termios raw = saved;
        ::cfmakeraw(&raw);
        if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) on = true;
    }
    ~RawMode() { restore(); }
};

bool pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    const char* p = buf;
    while (n > 0) {
        ssize_t w = ::write(to, p, static_cast<size_t>(n));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= w;
    }
    return true;
}

// What our terminal typed, through KEYS, to the pty; false at its end, and in DETACHED once the
// keys came
bool pump_keys(int from, int to, DetachKeys& keys, bool& detached) {
    char buf[4096];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    std::string bytes = keys.scan(std::string_view(buf, static_cast<std::size_t>(n)), detached);
    for (std::size_t done = 0; done < bytes.size();) {
        ssize_t w = ::write(to, bytes.data() + done, bytes.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        done += static_cast<std::size_t>(w);
    }
    return !detached;
}

// The pty's reader once the client detached: a process of its own session (no terminal, no
// signals from ours) that drops what the process writes until the last writer is gone, so that
// it neither blocks on a full pty nor gets SIGHUP from its closing
void hand_over_pty(int pty_master) {
    if (::fork() != 0) return; // (a failed fork: the process gets SIGHUP as without keys)
    ::setsid();
    int null = ::open("/dev/null", O_RDWR);
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
        if (null >= 0) ::dup2(null, fd);
    if (pty_master != 3) ::dup2(pty_master, 3);
    ::syscall(SYS_close_range, 4U, ~0U,
              0U); // nothing of gantry's (locks, pipes) is kept open by it
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(3, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(0);
    }
}

} // namespace

int supervise(pid_t pid, const sigset_t& fwd, int pty_master, bool proxy, DetachKeys* keys,
              bool* detached) {
    if (keys && (pty_master < 0 || !::isatty(STDIN_FILENO))) keys = nullptr;
    Fd sfd(::signalfd(-1, &fwd, SFD_CLOEXEC));
    if (!sfd) throw_errno("signalfd failed");
    RawMode raw;
    if (pty_master >= 0) raw.enable();
    bool stdin_open = pty_master >= 0;
    bool master_open = pty_master >= 0;
    for (;;) {
        struct pollfd pfd[3] = {{sfd.get(), POLLIN, 0},
                                {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                                {master_open ? pty_master : -1, POLLIN, 0}};
        if (::poll(pfd, 3, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll failed");
        }
        if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
            if (!pump(pty_master, STDOUT_FILENO)) master_open = false;
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            bool gone = false;
            if (keys ? !pump_keys(STDIN_FILENO, pty_master, *keys, gone)
                     : !pump(STDIN_FILENO, pty_master))
                stdin_open = false;
            if (gone) {
                raw.restore();
                hand_over_pty(pty_master);
                if (detached) *detached = true;
                return 0;
            }
        }
        if (!(pfd[0].revents & POLLIN)) continue;
        struct signalfd_siginfo si {};
        if (::read(sfd.get(), &si, sizeof si) != sizeof si) continue;
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            int st = 0;
            pid_t r = ::waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                while (master_open && pump(pty_master, STDOUT_FILENO)) {
                }
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
        } else if (sig == SIGWINCH && pty_master >= 0) {
            struct winsize ws {};
            if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(pty_master, TIOCSWINSZ, &ws);
        } else if (proxy) {
            ::kill(pid, sig);
        }
    }
}

} // namespace gantry::runtime::detail
