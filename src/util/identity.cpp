#include "util/identity.hpp"

#include "util/fs.hpp"

#include <grp.h>
#include <unistd.h>
#include <vector>

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

std::string group_name(gid_t gid) {
    std::vector<char> buf(16384);
    group gr{};
    group* out = nullptr;
    if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &out) != 0 || !out || !out->gr_name)
        return {};
    return out->gr_name;
}

} // namespace gantry
