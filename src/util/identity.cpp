#include "util/identity.hpp"

#include "util/fs.hpp"

#include <unistd.h>

namespace gantry {

bool running_as_real_root() {
    if (::geteuid() != 0) return false;
    try { // in a user namespace, uid 0 is not the host's root
        std::string map = fs::read_file("/proc/self/uid_map");
        return map.find("4294967295") != std::string::npos;
    } catch (...) {
        return false;
    }
}

} // namespace gantry
