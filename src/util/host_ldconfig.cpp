#include "util/host_ldconfig.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace gantry::host_ldconfig {

namespace {

bool is_elf_executable(const std::string& path) {
    if (::access(path.c_str(), X_OK) != 0) return false;
    Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char magic[4] = {};
    return f && ::read(f.get(), magic, sizeof magic) == 4 && magic[0] == 0x7f && magic[1] == 'E' &&
           magic[2] == 'L' && magic[3] == 'F';
}

} // namespace

std::string find(const std::vector<std::string>& candidates) {
    for (auto& c : candidates)
        if (is_elf_executable(c)) return c;
    return {};
}

std::string find() {
    return find(
        {"/sbin/ldconfig.real", "/sbin/ldconfig", "/usr/sbin/ldconfig.real", "/usr/sbin/ldconfig"});
}

std::string resolve(const std::string& path) {
    if (is_elf_executable(path)) return path;
    if (is_elf_executable(path + ".real")) return path + ".real";
    throw Error(Errc::invalid,
                "--ldconfig-path " + path + " is not an executable ELF file (a wrapper script " +
                    "cannot run in an image without a shell)",
                "name the ldconfig binary itself, e.g. /sbin/ldconfig.real on Ubuntu");
}

} // namespace gantry::host_ldconfig
