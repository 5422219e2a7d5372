#include "runtime/monitor.hpp"

#include "util/inherited_fds.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace gantry::runtime {

pid_t fork_monitor(const MonitorStart& start) {
    std::vector<int> keep; // made before the fork: nothing allocates in the monitor here
    if (start.keep_only) {
        keep = *start.keep_only;
        keep.insert(keep.end(), {0, 1, 2});
    }
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::setsid();
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) ::_exit(125);
    ::dup2(null, 0);
    if (start.null_output) {
        ::dup2(null, 1);
        ::dup2(null, 2);
    }
    if (start.keep_only) {
        close_fds_except(keep);
    } else {
        ::close(null);
    }
    return 0;
}

} // namespace gantry::runtime
