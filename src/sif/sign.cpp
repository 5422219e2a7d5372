#include "sif/sign.hpp"

#include "sif/signature.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <linux/fs.h>
#include <set>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::sif {

namespace {

std::string sign_hex(std::string_view b) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) s += d[c >> 4], s += d[c & 15];
    return s;
}

std::uint64_t sign_get(std::string_view b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
        v |= std::uint64_t(std::uint8_t(b[at + static_cast<std::size_t>(i)])) << (8 * i);
    return v;
}

void sign_put(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
        b[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}

void sign_pwrite(int fd, const std::string& b, std::uint64_t at, const std::string& what) {
    std::size_t done = 0;
    while (done < b.size()) {
        ssize_t n = ::pwrite(fd, b.data() + done, b.size() - done, static_cast<off_t>(at + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("writing " + what);
        done += static_cast<std::size_t>(n);
    }
}

void sign_copy(int from, int to, std::uint64_t size, const std::string& what) {
    if (::ioctl(to, FICLONE, from) == 0) return; // a reflink: no data copied
    loff_t in = 0, out = 0;
    while (static_cast<std::uint64_t>(in) < size) {
        ssize_t n =
            ::copy_file_range(from, &in, to, &out, size - static_cast<std::uint64_t>(in), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("copying " + what);
        if (n == 0) throw Error(Errc::io, what + " shrank while it was copied");
    }
}

} // namespace

std::vector<std::uint32_t> object_groups(const Container& c) {
    std::set<std::uint32_t> g;
    for (auto& o : c.objects)
        if (o.group) g.insert(o.group);
    return {g.begin(), g.end()};
}

std::string group_metadata(const Container& c, const ReadAt& read, std::uint32_t group) {
    std::vector<const Object*> objs;
    for (auto& o : c.objects)
        if (o.group == group) objs.push_back(&o);
    if (objs.empty())
        throw Error(Errc::internal, "object group " + std::to_string(group) + " is empty");
    std::sort(objs.begin(), objs.end(), [](auto* a, auto* b) { return a->id < b->id; });
    std::uint32_t min_id = objs.front()->id;
    std::string head(kHeaderSize, '\0');
    read(0, head.data(), head.size());
    std::string s = "{\"version\":1,\"header\":{\"digest\":\"sha256:" +
                    sign_hex(digest_bytes("sha256", header_integrity_bytes(head))) +
                    "\"},\"objects\":[";
    for (std::size_t i = 0; i < objs.size(); ++i) {
        const Object& o = *objs[i];
        std::string d(kDescriptorSize, '\0');
        read(o.descriptor_at, d.data(), d.size());
        std::string dd = digest_bytes("sha256", descriptor_integrity_bytes(d, o.id - min_id));
        s += std::string(i ? "," : "") + "{\"relativeId\":" + std::to_string(o.id - min_id) +
             ",\"descriptorDigest\":\"sha256:" + sign_hex(dd) +
             "\",\"objectDigest\":\"sha256:" + sign_hex(digest_object(read, o, "sha256")) + "\"}";
    }
    return s + "]}";
}

Editor::Editor(const std::string& path) : path_(path) {
    Fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!src) throw_errno("cannot open " + path);
    struct stat st {};
    if (::fstat(src.get(), &st) != 0) throw_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, path + " is not a regular file", "give the path of a .sif file");
    std::string dir = std::filesystem::path(path).parent_path().string();
    tmp_ = (dir.empty() ? std::string(".") : dir) + "/." +
           std::filesystem::path(path).filename().string() + ".gantry-sign-XXXXXX";
    fd_ = ::mkostemp(tmp_.data(), O_CLOEXEC);
    if (fd_ < 0) {
        tmp_.clear();
        throw_errno("cannot create a copy of " + path +
                    " beside it (the directory must be "
                    "writable)");
    }
    ::fchmod(fd_, st.st_mode & 07777);
    sign_copy(src.get(), fd_, static_cast<std::uint64_t>(st.st_size), path);
    c_ = read(fd_, path);
}

Editor::~Editor() {
    if (fd_ >= 0) ::close(fd_);
    if (!done_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

ReadAt Editor::reader() const {
    return pread_reader(fd_, path_);
}

std::uint32_t Editor::add_signature(std::uint32_t group, const std::string& data,
                                    std::uint32_t hash, const std::string& fingerprint,
                                    std::int64_t now) {
    std::string head(kHeaderSize, '\0');
    reader()(0, head.data(), head.size());
    std::uint64_t total = sign_get(head, 88, 8), table = sign_get(head, 96, 8);
    std::uint64_t data_at = sign_get(head, 112, 8), data_size = sign_get(head, 120, 8);
    std::string tab(static_cast<std::size_t>(total * kDescriptorSize), '\0');
    reader()(table, tab.data(), tab.size());
    std::uint64_t i = 0;
    while (i < total && tab[static_cast<std::size_t>(i * kDescriptorSize + 4)]) ++i;
    if (i == total)
        throw Error(Errc::invalid,
                    path_ + " has no free descriptor (all " + std::to_string(total) +
                        " are used): no signature object can be added",
                    "rebuild the image with more descriptors (siftool new, apptainer build)");
    const std::uint64_t at = data_at + data_size;
    sign_pwrite(fd_, data, at, "the copy of " + path_);
    std::string d(kDescriptorSize, '\0');
    sign_put(d, 0, static_cast<std::uint32_t>(DataType::signature), 4);
    d[4] = 1;
    auto id = static_cast<std::uint32_t>(i + 1);
    sign_put(d, 5, id, 4);
    sign_put(d, 9, 0xf0000000u, 4); // no group
    sign_put(d, 13, 0xf0000000u | group, 4);
    sign_put(d, 17, at, 8);
    sign_put(d, 25, data.size(), 8);
    sign_put(d, 33, data.size(), 8); // no alignment, no padding
    sign_put(d, 41, static_cast<std::uint64_t>(now), 8);
    sign_put(d, 49, static_cast<std::uint64_t>(now), 8);
    sign_put(d, 201, hash, 4);
    d.replace(205, std::min<std::size_t>(fingerprint.size(), 256), fingerprint.substr(0, 256));
    sign_pwrite(fd_, d, table + i * kDescriptorSize, "the copy of " + path_);
    sign_put(head, 72, static_cast<std::uint64_t>(now), 8);
    sign_put(head, 80, sign_get(head, 80, 8) - 1, 8);
    sign_put(head, 120, data_size + data.size(), 8);
    sign_pwrite(fd_, head.substr(64, 64), 64, "the copy of " + path_);
    c_ = read(fd_, path_);
    return id;
}

void Editor::commit() {
    fs::sync_file(fd_, "the copy of " + path_);
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw_errno("cannot replace " + path_);
    done_ = true;
    std::string dir = std::filesystem::path(path_).parent_path().string();
    fs::sync_dir(dir.empty() ? "." : dir);
}

} // namespace gantry::sif
