#include "sqsh/image_tar.hpp"

#include "layer/file_holes.hpp"
#include "layer/tar_reader.hpp"
#include "sqsh/confined.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

namespace gantry::sqsh {

namespace {

la_ssize_t write_out(struct archive*, void* fd, const void* buf, std::size_t n) {
    const int out = *static_cast<int*>(fd);
    std::size_t done = 0;
    while (done < n) {
        ssize_t w = ::write(out, static_cast<const char*>(buf) + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += static_cast<std::size_t>(w);
    }
    return static_cast<la_ssize_t>(n);
}

struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

class TarWriter {
  public:
    TarWriter(Image& image, int fd) : image_(image), fd_(fd), a_(archive_write_new()) {
        if (!a_) throw Error(Errc::internal, "cannot create a tar writer");
        archive_write_set_format_pax_restricted(a_);
        archive_write_set_bytes_per_block(a_, 10240);
        archive_write_set_bytes_in_last_block(a_, 1);
        if (archive_write_open(a_, &fd_, nullptr, write_out, nullptr) != ARCHIVE_OK) fail();
    }
    ~TarWriter() { archive_write_free(a_); }
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    void root() {
        Inode in = image_.inode(image_.root_ref());
        dirs_.insert(image_.root_ref());
        children(*in, "", 1);
        if (archive_write_close(a_) != ARCHIVE_OK) fail();
    }
    std::uint64_t entries() const { return entries_; }

  private:
    [[noreturn]] void fail() {
        const char* m = archive_error_string(a_);
        throw Error(Errc::io,
                    "cannot write the tar of " + image_.path() + ": " + (m ? m : "unknown error"));
    }

    void children(const sqfs_inode_generic_t& dir, const std::string& prefix, std::size_t depth) {
        if (depth > kMaxTarDepth)
            damaged(image_.path(), prefix + " is nested deeper than " +
                                       std::to_string(kMaxTarDepth) + " directories");
        auto list = image_.entries(dir);
        for (const auto& child : *list) entry(prefix + child.name, child, depth);
    }

    void entry(const std::string& path, const DirEntry& listed, std::size_t depth) {
        Inode in = image_.inode(listed.ref);
        struct stat st = image_.stat(*in);
        const mode_t type = st.st_mode & S_IFMT;
        if (type != listed.type)
            damaged(image_.path(), path + ": its directory entry and its inode differ in type");
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        if (!e) throw Error(Errc::internal, "cannot make a tar entry");
        archive_entry_copy_pathname(e.get(), path.c_str());
        archive_entry_set_uid(e.get(), st.st_uid);
        archive_entry_set_gid(e.get(), st.st_gid);
        archive_entry_set_perm(e.get(), st.st_mode & 07777);
        archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
        archive_entry_set_filetype(e.get(), type);
        const std::string* first = nullptr; // the inode's first name: this one is a hard link
        if (type == S_IFDIR) {
            if (!dirs_.insert(listed.ref).second)
                damaged(image_.path(), path + ": a directory reached twice (a loop)");
        } else if (auto [at, added] = names_.emplace(listed.ref, path); !added) {
            first = &at->second;
        }
        if (!first) // a hard link's inode has its xattrs with its first name
            for (const auto& [name, value] : image_.xattrs(*in))
                archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
        if (first) {
            archive_entry_set_filetype(e.get(), AE_IFREG);
            archive_entry_copy_hardlink(e.get(), first->c_str());
            archive_entry_set_size(e.get(), 0);
        } else if (type == S_IFREG) {
            archive_entry_set_size(e.get(), st.st_size);
            // a vast file of sparse blocks keeps its holes, as a layer's tar or a build's file
            // does: 20 GiB of zeros took minutes to write, digest and unpack (4 KB of squashfs)
            regions_.clear();
            if (st.st_size > layer::kMaxExpandedSparse) {
                regions_ = image_.data_regions(*in);
                if (!regions_.empty())
                    layer::add_sparse_map(e.get(), regions_, st.st_size,
                                          image_.path() + ": " + path);
            }
        } else if (type == S_IFLNK) {
            archive_entry_copy_symlink(e.get(), image_.link_target(*in).c_str());
        } else if (type == S_IFCHR || type == S_IFBLK) {
            archive_entry_set_rdev(e.get(), st.st_rdev);
        } else if (type == S_IFSOCK) {
            throw Error(Errc::unsupported,
                        image_.path() + ": " + path + " is a socket, which a tar layer cannot hold",
                        "make the image without it, or run the file as it is: gantry run " +
                            image_.path());
        }
        // ARCHIVE_WARN: a name that is not UTF-8, written as bytes (hdrcharset=BINARY)
        if (archive_write_header(a_, e.get()) < ARCHIVE_WARN) fail();
        ++entries_;
        if (!first && type == S_IFREG) data(*in, path, static_cast<std::uint64_t>(st.st_size));
        if (type == S_IFDIR) children(*in, path + "/", depth + 1);
    }

    // the file's bytes: all of them, or with a sparse map (regions_) its regions' bytes and
    // zeros between them, which the pax writer skips
    void data(const sqfs_inode_generic_t& in, const std::string& path, std::uint64_t size) {
        auto put = [this](const void* p, std::size_t n) {
            for (std::size_t done = 0; done < n;) {
                la_ssize_t w = archive_write_data(a_, static_cast<const char*>(p) + done, n - done);
                if (w <= 0) fail();
                done += static_cast<std::size_t>(w);
            }
        };
        if (regions_.empty()) {
            bytes(in, path, 0, size, put);
            return;
        }
        std::int64_t pos = 0;
        for (const auto& r : regions_) {
            layer::zero_fill(pos, r.offset, put);
            bytes(in, path, static_cast<std::uint64_t>(r.offset),
                  static_cast<std::uint64_t>(r.offset + r.length), put);
            pos = r.offset + r.length;
        }
        layer::zero_fill(pos, static_cast<std::int64_t>(size), put);
    }

    // bytes [FROM, TO) of file IN through PUT
    void bytes(const sqfs_inode_generic_t& in, const std::string& path, std::uint64_t from,
               std::uint64_t to, const std::function<void(const void*, std::size_t)>& put) {
        buf_.resize(1u << 20);
        for (std::uint64_t at = from; at < to;) {
            auto want = static_cast<std::size_t>(std::min<std::uint64_t>(to - at, buf_.size()));
            std::size_t got = image_.read(in, at, buf_.data(), want);
            if (got == 0) damaged(image_.path(), path + " is shorter than its size");
            put(buf_.data(), got);
            at += got;
        }
    }

    Image& image_;
    int fd_;
    struct archive* a_;
    std::set<std::uint64_t> dirs_;               // the directories written, by inode reference
    std::map<std::uint64_t, std::string> names_; // other inodes' first names, for hard links
    std::vector<char> buf_;
    std::vector<layer::DataRegion> regions_; // the current file's, where it keeps its holes
    std::uint64_t entries_ = 0;
};

} // namespace

std::uint64_t write_tar(Image& image, int fd) {
    image.open_tables();
    TarWriter w(image, fd);
    w.root();
    return w.entries();
}

} // namespace gantry::sqsh
