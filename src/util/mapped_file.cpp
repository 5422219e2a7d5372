#include "util/mapped_file.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace gantry {

MappedFile::MappedFile(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw sys_error(errno, "opening " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw sys_error(errno, "stat " + path);
    if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid, path + " is not a regular file");
    if (st.st_size <= 0) return;
    std::size_t len = static_cast<std::size_t>(st.st_size);
    void* m = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (m == MAP_FAILED) throw sys_error(errno, "mapping " + path);
    data_ = m;
    size_ = len;
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(data_, size_);
}

} // namespace gantry
