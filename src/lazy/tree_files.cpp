#include "lazy/tree_files.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace gantry::lazy {

bool TreeFiles::has(const std::string& path) const {
    return tree_.find(path) != 0;
}

std::string TreeFiles::read(const std::string& path) const {
    return tree_.read_file(path, 64u << 20).value_or("");
}

std::vector<std::string> TreeFiles::list(const std::string& dir) const {
    std::vector<std::string> names;
    std::uint64_t id = tree_.find(dir);
    if (id == 0) return names;
    auto l = tree_.list(id);
    if (!l) return names;
    for (auto& e : *l) names.push_back(e.name);
    return names;
}

int TreeFiles::open(const std::string& path) const {
    auto data = tree_.read_file(path, 1u << 30);
    if (!data) return -1;
    Fd fd(::memfd_create("gantry-lazy-file", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) throw_errno("cannot create a memfd for " + path);
    fs::write_all(fd.get(), data->data(), data->size(), path);
    ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd.release();
}

} // namespace gantry::lazy
