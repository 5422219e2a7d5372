// Test helpers for the layer extractor's tests: a reader over bytes in memory, a sandbox whose
// outside hostile entries try to reach, and a pax tar builder (libarchive).
#pragma once

#include "layer/stream.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utility>
#include <vector>

// Named, not anonymous: the unit tests may be built as one translation unit (a unity build).
namespace extract_test {

using gantry::Errc;
using gantry::Error;
using gantry::Fd;
using gantry::layer::Reader;
namespace stdfs = std::filesystem;

class StringReader final : public Reader {
  public:
    explicit StringReader(std::string data, std::size_t chunk = 1 << 20)
        : data_(std::move(data)), chunk_(chunk) {}
    std::size_t read(void* buf, std::size_t n) override {
        n = std::min({n, chunk_, data_.size() - pos_});
        std::memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    std::size_t chunk_;
    std::size_t pos_ = 0;
};

class ThrowingReader final : public Reader {
  public:
    std::size_t read(void*, std::size_t) override { throw Error(Errc::io, "the source went away"); }
};

// A temp dir P holding the layer root P/layer and a sibling P/sibling/keep.txt that hostile
// entries try to reach.
class Sandbox {
  public:
    Sandbox() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-extract-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        top_ = tmpl;
        stdfs::create_directory(root());
        stdfs::create_directory(top_ / "sibling");
        std::ofstream(top_ / "sibling/keep.txt") << "keep me";
        root_fd_ = Fd(::open(root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd_) throw std::runtime_error("cannot open layer root");
    }
    ~Sandbox() {
        root_fd_.reset();
        try {
            gantry::fs::remove_tree(top_);
        } catch (...) {
        }
    }
    const stdfs::path& top() const { return top_; }
    stdfs::path root() const { return top_ / "layer"; }
    int root_fd() const { return root_fd_.get(); }

    // Everything outside the layer root: names directly under top, and the sibling's content.
    std::vector<std::string> outside() const {
        std::vector<std::string> out;
        for (auto& e : stdfs::directory_iterator(top_)) out.push_back(e.path().filename());
        for (auto& e : stdfs::recursive_directory_iterator(top_ / "sibling"))
            out.push_back("sibling/" + stdfs::relative(e.path(), top_ / "sibling").string());
        std::sort(out.begin(), out.end());
        return out;
    }
    void expect_outside_untouched() const {
        EXPECT_EQ(outside(), (std::vector<std::string>{"layer", "sibling", "sibling/keep.txt"}));
        std::ifstream f(top_ / "sibling/keep.txt");
        std::string s((std::istreambuf_iterator<char>(f)), {});
        EXPECT_EQ(s, "keep me");
        struct stat st {};
        ASSERT_EQ(::stat((top_ / "sibling/keep.txt").c_str(), &st), 0);
        EXPECT_EQ(st.st_nlink, 1u);
    }

  private:
    stdfs::path top_;
    Fd root_fd_;
};

struct TarOpts {
    mode_t perm = 0644;
    time_t mtime = 1600000000;
    la_int64_t uid = 0, gid = 0;
    std::vector<std::pair<std::string, std::string>> xattrs;
};

// Builds a pax tar stream in memory.
class Tar {
  public:
    using Opts = TarOpts;

    explicit Tar(std::size_t capacity = 4 << 20) : buf_(capacity), a_(archive_write_new()) {
        archive_write_set_format_pax(a_);
        // One xattr record per attribute, as docker writes them (SCHILY.xattr.*); libarchive's
        // default writes each twice and reads both back.
        archive_write_set_format_option(a_, "pax", "xattrheader", "SCHILY");
        archive_write_add_filter_none(a_);
        archive_write_set_bytes_in_last_block(a_, 1);
        if (archive_write_open_memory(a_, buf_.data(), buf_.size(), &used_) != ARCHIVE_OK)
            throw std::runtime_error(archive_error_string(a_));
    }
    ~Tar() {
        if (a_) archive_write_free(a_);
    }
    Tar(const Tar&) = delete;
    Tar& operator=(const Tar&) = delete;

    Tar& file(const std::string& name, const std::string& data, Opts o = {}) {
        return add(name, AE_IFREG, o, data, nullptr, nullptr);
    }
    Tar& dir(const std::string& name, Opts o = {}) {
        if (o.perm == 0644) o.perm = 0755;
        return add(name, AE_IFDIR, o, {}, nullptr, nullptr);
    }
    Tar& symlink(const std::string& name, const std::string& target, Opts o = {}) {
        if (o.perm == 0644) o.perm = 0777;
        return add(name, AE_IFLNK, o, {}, target.c_str(), nullptr);
    }
    Tar& hardlink(const std::string& name, const std::string& target, Opts o = {}) {
        return add(name, AE_IFREG, o, {}, nullptr, target.c_str());
    }
    Tar& whiteout(const std::string& name) { return file(name, ""); }
    Tar& chardev(const std::string& name, unsigned maj, unsigned min) {
        Opts o;
        o.perm = 0666;
        return add(name, AE_IFCHR, o, {}, nullptr, nullptr, makedev(maj, min));
    }
    Tar& fifo(const std::string& name) { return add(name, AE_IFIFO, {}, {}, nullptr, nullptr); }

    std::string str() {
        if (archive_write_close(a_) != ARCHIVE_OK)
            throw std::runtime_error(archive_error_string(a_));
        archive_write_free(a_);
        a_ = nullptr;
        return std::string(buf_.data(), used_);
    }

  private:
    Tar& add(const std::string& name, mode_t type, const Opts& o, const std::string& data,
             const char* symlink, const char* hardlink, dev_t rdev = 0) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, o.perm);
        archive_entry_set_mtime(e, o.mtime, 0);
        archive_entry_set_uid(e, o.uid);
        archive_entry_set_gid(e, o.gid);
        if (symlink) archive_entry_set_symlink(e, symlink);
        if (hardlink) archive_entry_set_hardlink(e, hardlink);
        if (type == AE_IFCHR) archive_entry_set_rdev(e, rdev);
        archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
        for (auto& [k, v] : o.xattrs)
            archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
        if (archive_write_header(a_, e) != ARCHIVE_OK)
            throw std::runtime_error(std::string("archive_write_header: ") +
                                     archive_error_string(a_));
        if (!data.empty() && archive_write_data(a_, data.data(), data.size()) !=
                                 static_cast<la_ssize_t>(data.size()))
            throw std::runtime_error("archive_write_data failed");
        archive_entry_free(e);
        return *this;
    }

    std::vector<char> buf_;
    std::size_t used_ = 0;
    struct archive* a_;
};

inline Tar::Opts perm(mode_t p, time_t mtime = 1600000000) {
    Tar::Opts o;
    o.perm = p;
    o.mtime = mtime;
    return o;
}

} // namespace extract_test
