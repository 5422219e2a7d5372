#include "runtime/fd_passing.hpp"

#include "runtime/child_failure.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/socket.h>

namespace gantry::runtime::detail {

namespace {

// One byte of data and room for one descriptor: the message both ends pass.
struct FdMessage {
    char data = 't';
    struct iovec iov {
        &data, 1
    };
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    FdMessage() {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf;
        msg.msg_controllen = sizeof buf;
    }
    FdMessage(const FdMessage&) = delete;
    FdMessage& operator=(const FdMessage&) = delete;
};

} // namespace

void send_fd(int sock, int fd, const char* what) {
    FdMessage m;
    auto& msg = m.msg;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (::sendmsg(sock, &msg, 0) < 0) fail_errno(std::string("cannot pass ") + what + " to gantry");
}

int recv_fd(int sock) {
    FdMessage m;
    auto& msg = m.msg;
    ssize_t n;
    while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return -1;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

} // namespace gantry::runtime::detail
