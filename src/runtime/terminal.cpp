#include "runtime/terminal.hpp"

#include "runtime/child_failure.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace gantry::runtime::detail {

Pty Pty::open_pair() {
    Pty p;
    p.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master || ::grantpt(p.master.get()) != 0 || ::unlockpt(p.master.get()) != 0)
        throw_errno("cannot allocate a terminal");
    char name[128];
    if (::ptsname_r(p.master.get(), name, sizeof name) != 0)
        throw_errno("cannot name the terminal");
    p.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.slave) throw_errno(std::string("cannot open ") + name);
    struct winsize ws {};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(p.master.get(), TIOCSWINSZ, &ws);
    return p;
}

void become_terminal_session(int slave) {
    if (::setsid() < 0) fail_errno("setsid failed");
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) fail_errno("cannot set the controlling terminal");
    for (int fd = 0; fd < 3; ++fd)
        if (::dup2(slave, fd) < 0) fail_errno("cannot attach the terminal");
}

Pty open_container_pty(int rootfd, const std::string& ptmx_path) {
    Pty p;
    p.master.reset(rootfd >= 0 ? fs::openat_in_root(rootfd, ptmx_path, O_RDWR | O_NOCTTY)
                               : ::open(ptmx_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master) fail_errno("cannot open the container's " + ptmx_path);
    int unlock = 0;
    if (::ioctl(p.master.get(), TIOCSPTLCK, &unlock) != 0) fail_errno("cannot unlock the terminal");
    p.slave.reset(::ioctl(p.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.slave) fail_errno("cannot open the terminal's peer");
    // the caller's window size, set before the workload can run (a size set by the parent
    // once it holds the master raced a workload's first `stty size`)
    struct winsize ws {};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(p.master.get(), TIOCSWINSZ, &ws);
    return p;
}

} // namespace gantry::runtime::detail
