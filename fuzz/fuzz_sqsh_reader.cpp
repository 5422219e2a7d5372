// Fuzzes the squashfs reader (sqsh/image over libsquashfs) with the calls gantry makes on a .sqsh
// file: the reads before mounting (the gantry header, etc/passwd, a directory listing, a mode)
// and every operation of the FUSE server (lookup, getattr, readdir, readlink, listxattr and
// getxattr, read, a file's own blocks read as a server thread reads them), on a walk of the whole
// tree. The input is the image file itself (in a memfd, read by descriptor as gantry reads a file).
// A damaged image must fail with a gantry::Error; a crash, a sanitizer report or another exception
// is a finding. Seeds: fuzz/corpus/sqsh_reader/ (small images of every compressor, with xattrs,
// links, devices, fragments and hard links).
#include "fuzz_support.hpp"
#include "sqsh/image.hpp"

#include <deque>
#include <sys/mman.h>

using namespace gantry;

namespace {

// Bounds of one walk: a hostile image may hold a million entries per directory.
constexpr std::size_t kMaxNodes = 256;
constexpr std::size_t kReadSize = 64u << 10;

void visit(sqsh::Image& img, std::uint64_t ref, std::deque<std::uint64_t>& todo) {
    sqsh::Inode in = img.inode(ref);
    struct stat st = img.stat(*in);
    FUZZ_CHECK((st.st_mode & S_IFMT) == sqsh::file_type(*in));
    for (auto& [k, v] : img.xattrs(*in)) FUZZ_CHECK(!k.empty() && k.size() + v.size() <= 65536);
    if (S_ISDIR(st.st_mode)) {
        const auto& entries = *img.entries(*in);
        FUZZ_CHECK(entries.size() <= sqsh::kMaxDirEntries);
        for (auto& e : entries) {
            FUZZ_CHECK(!e.name.empty() && e.name.find('/') == std::string::npos);
            if (todo.size() < kMaxNodes) todo.push_back(e.ref);
        }
        if (!entries.empty()) FUZZ_CHECK(img.find(*in, entries.back().name).has_value());
        img.find(*in, "no such name");
    } else if (S_ISREG(st.st_mode)) {
        std::string buf(kReadSize, '\0');
        std::size_t n = img.read(*in, 0, buf.data(), buf.size());
        FUZZ_CHECK(n <= buf.size());
        if (img.in_own_blocks(*in, 0, buf.size())) { // the server's unlocked path
            // the same count (and on real images the same bytes: test_image_blocks.cpp; here a
            // crafted image may reuse a block's place with another flag, which libsquashfs'
            // cache, keyed by the place alone, answers from the other reading)
            std::string again(kReadSize, '\0');
            FUZZ_CHECK(img.read_blocks(*in, 0, again.data(), again.size()) == n);
        }
        auto size = static_cast<std::uint64_t>(st.st_size);
        if (size > 1) img.read(*in, size / 2, buf.data(), 4097); // mid-file, across blocks
        img.read(*in, size, buf.data(), 1);                      // at the end
        // the data regions a vast sparse file's tar map takes: in order, apart, inside the file
        std::int64_t end = 0;
        for (const auto& r : img.data_regions(*in)) {
            FUZZ_CHECK(r.offset >= end && r.length >= 0 &&
                       static_cast<std::uint64_t>(r.offset + r.length) <= size);
            end = r.offset + r.length + 1;
        }
    } else if (S_ISLNK(st.st_mode)) {
        auto target = img.link_target(*in);
        FUZZ_CHECK(!target.empty() && target.size() <= sqsh::kMaxLinkTarget);
    }
}

} // namespace

GANTRY_FUZZ_TARGET(sqsh_reader) {
    int fd = ::memfd_create("fuzz.sqsh", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    Fd file(fd);
    for (std::size_t done = 0; done < size;) {
        ssize_t n = ::write(fd, data + done, size - done);
        FUZZ_CHECK(n > 0);
        done += static_cast<std::size_t>(n);
    }
    std::unique_ptr<sqsh::Image> img;
    if (!fuzz::expect_error([&] { img = std::make_unique<sqsh::Image>(std::move(file), "f"); }))
        return 0;
    // what gantry reads before it mounts (inspect, load, the run view)
    fuzz::expect_error([&] { img->header(); });
    fuzz::expect_error([&] { img->read_file("etc/passwd", 4u << 20); });
    fuzz::expect_error([&] { img->mode_of("usr/bin"); });
    fuzz::expect_error([&] { img->list_dir("etc"); });
    // what the FUSE server does, on every node reached
    std::deque<std::uint64_t> todo{img->root_ref()};
    for (std::size_t visited = 0; !todo.empty() && visited < kMaxNodes; ++visited) {
        std::uint64_t ref = todo.front();
        todo.pop_front();
        fuzz::expect_error([&] { visit(*img, ref, todo); });
    }
    return 0;
}
