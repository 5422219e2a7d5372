// Descriptors passed from a container child to gantry over a unix socket (SCM_RIGHTS): the
// container's private tmpfs, and the master side of its terminal.
#pragma once

namespace gantry::runtime::detail {

// Passes a file descriptor (`what`, for the error) over a unix socket (SCM_RIGHTS); recv_fd
// returns -1 at EOF.
void send_fd(int sock, int fd, const char* what);
int recv_fd(int sock);

} // namespace gantry::runtime::detail
