#include "runtime/supervisor.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
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
    void enable() {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved) != 0) return;
        struct termios raw = saved;
        ::cfmakeraw(&raw);
        if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) on = true;
    }
    ~RawMode() {
        if (on) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
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

} // namespace

int supervise(pid_t pid, const sigset_t& fwd, int pty_master, bool proxy) {
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
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
            if (!pump(STDIN_FILENO, pty_master)) stdin_open = false;
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
