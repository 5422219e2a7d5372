#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace gantry {

Error sys_error(int err, const std::string& what, std::string hint) {
    Errc code = Errc::io;
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        code = Errc::not_found;
        break;
    case EEXIST:
    case EBUSY:
    case ENOTEMPTY:
        code = Errc::conflict;
        break;
    case ENOSPC:
    case EDQUOT:
        if (hint.empty())
            hint = "free space on that filesystem or point --root/GANTRY_ROOT elsewhere";
        code = Errc::io;
        break;
    default:
        code = Errc::io;
    }
    return Error(code, what + ": " + std::strerror(err), std::move(hint));
}

void throw_errno(const std::string& what, std::string hint) {
    throw sys_error(errno, what, std::move(hint));
}

int exit_status(Errc code) {
    return static_cast<int>(code);
}

} // namespace gantry
