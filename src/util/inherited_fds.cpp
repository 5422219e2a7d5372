#include "util/inherited_fds.hpp"

#include <algorithm>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry {

void close_fds_except(std::span<int> keep) {
    std::sort(keep.begin(), keep.end());
    unsigned from = 0;
    for (int fd : keep) {
        if (static_cast<unsigned>(fd) > from)
            ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0u);
        from = std::max(from, static_cast<unsigned>(fd) + 1);
    }
    ::syscall(SYS_close_range, from, ~0u, 0u);
}

} // namespace gantry
