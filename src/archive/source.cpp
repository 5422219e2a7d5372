#include "archive/source.hpp"

#include "layer/extract.hpp"
#include "layer/tar_header.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::archive {

namespace {

class OwnedFdReader final : public layer::Reader {
  public:
    OwnedFdReader(Fd fd, std::string name)
        : fd_(std::move(fd)), inner_(fd_.get(), std::move(name)) {}
    std::size_t read(void* buf, std::size_t n) override { return inner_.read(buf, n); }

  private:
    Fd fd_;
    layer::FdReader inner_;
};

std::string clean_name(const std::string& name) {
    std::vector<std::string> comps;
    if (!layer::normalize_entry_path(name, comps)) return {};
    return text::join(comps, "/");
}

class TarSource final : public Source {
  public:
    TarSource(const stdfs::path& path, const stdfs::path& tmp_dir) {
        path_ = path.string();
        fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd_) throw_errno("cannot open " + path_, "check the path and its permissions");
        unsigned char head[4] = {};
        ssize_t n = ::pread(fd_.get(), head, sizeof head, 0);
        if (n < 0) throw_errno("cannot read " + path_);
        auto c = oci::sniff_compression(head, static_cast<std::size_t>(n));
        if (c != oci::Compression::none) decompress(c, tmp_dir);
        index();
    }

    bool has(const std::string& name) const override { return members_.count(clean_name(name)); }
    std::uint64_t size(const std::string& name) const override { return find(name).size; }
    std::string read(const std::string& name, std::uint64_t max) const override {
        const Member& m = find(name);
        if (m.size > max)
            throw Error(Errc::invalid, path_ + ": member " + name + " is too large (" +
                                           std::to_string(m.size) + " bytes)");
        std::string out(m.size, '\0');
        layer::FdReader r(fd_.get(), path_ + ":" + name, m.offset,
                          static_cast<std::int64_t>(m.size));
        std::size_t got = 0;
        while (got < out.size()) got += r.read(out.data() + got, out.size() - got);
        return out;
    }
    std::unique_ptr<layer::Reader> open(const std::string& name) const override {
        const Member& m = find(name);
        return std::make_unique<layer::FdReader>(fd_.get(), path_ + ":" + name, m.offset,
                                                 static_cast<std::int64_t>(m.size));
    }
    std::vector<std::string> names() const override {
        std::vector<std::string> v;
        for (auto& [k, _] : members_) v.push_back(k);
        return v;
    }
    bool is_directory() const override { return false; }

  private:
    struct Member {
        off_t offset;
        std::uint64_t size;
    };

    const Member& find(const std::string& name) const {
        auto it = members_.find(clean_name(name));
        if (it == members_.end())
            throw Error(Errc::not_found, path_ + " has no member \"" + name + "\"",
                        "the archive is incomplete or not an image archive; export it again");
        return it->second;
    }

    void decompress(oci::Compression c, const stdfs::path& tmp_dir) {
        Fd tmp(::open(tmp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
        if (!tmp) throw_errno("cannot create a temporary file in " + tmp_dir.string());
        struct stat st {};
        ::fstat(fd_.get(), &st);
        layer::FdReader raw(fd_.get(), path_, 0, st.st_size);
        auto plain = layer::make_decompressor(c, raw, path_);
        std::vector<char> buf(1 << 20);
        while (std::size_t got = plain->read(buf.data(), buf.size()))
            fs::write_all(tmp.get(), buf.data(), got, "a temporary copy of " + path_);
        fd_ = std::move(tmp);
    }

    void index() {
        std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(),
                                                                    archive_read_free);
        archive_read_support_format_tar(a.get());
        archive_read_support_format_gnutar(a.get());
        ::lseek(fd_.get(), 0, SEEK_SET);
        if (archive_read_open_fd(a.get(), fd_.get(), 1 << 16) != ARCHIVE_OK) {
            std::string first(layer::kTarBlock, '\0');
            ssize_t got = ::pread(fd_.get(), first.data(), first.size(), 0);
            first.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
            layer::check_first_tar_header(first, path_);
            throw Error(Errc::invalid, path_ + " cannot be read as a tar archive",
                        "give a `docker save` archive, an OCI archive or an OCI layout directory");
        }
        for (;;) {
            struct archive_entry* e = nullptr;
            int rc = archive_read_next_header(a.get(), &e);
            if (rc == ARCHIVE_EOF) break;
            layer::check_tar_header(a.get(), rc, path_);
            if (rc < ARCHIVE_WARN) {
                const char* msg = archive_error_string(a.get());
                if (members_.empty() && archive_errno(a.get()) == EILSEQ)
                    throw Error(Errc::invalid, path_ + " is not a tar archive",
                                "give a `docker save` archive, an OCI archive or an OCI layout "
                                "directory");
                throw Error(Errc::invalid,
                            path_ + " is truncated or corrupt (" + (msg ? msg : "tar error") + ")",
                            "export or copy the archive again");
            }
            if (archive_entry_filetype(e) != AE_IFREG || archive_entry_sparse_count(e) > 0)
                continue;
            const char* n = archive_entry_pathname(e);
            if (!n) continue;
            std::string name = clean_name(n);
            if (name.empty()) continue;
            members_[name] = Member{static_cast<off_t>(archive_filter_bytes(a.get(), 0)),
                                    static_cast<std::uint64_t>(archive_entry_size(e))};
        }
        struct stat st {};
        ::fstat(fd_.get(), &st);
        for (auto& [name, m] : members_)
            if (m.offset + static_cast<off_t>(m.size) > st.st_size)
                throw Error(Errc::invalid,
                            path_ + " is truncated: member " + name + " is cut short",
                            "export or copy the archive again");
        if (members_.empty())
            throw Error(Errc::invalid, path_ + " is an empty archive: it holds no files",
                        "give a `docker save` archive, an OCI archive or an OCI layout directory");
    }

    Fd fd_;
    std::map<std::string, Member> members_;
};

class DirSource final : public Source {
  public:
    explicit DirSource(const stdfs::path& path) : dir_(fs::open_dir(path)) {
        path_ = path.string();
    }

    bool has(const std::string& name) const override {
        struct stat st {};
        Fd fd(open_fd(name, false));
        return fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
    }
    std::uint64_t size(const std::string& name) const override {
        struct stat st {};
        Fd fd(open_fd(name, true));
        ::fstat(fd.get(), &st);
        return static_cast<std::uint64_t>(st.st_size);
    }
    std::string read(const std::string& name, std::uint64_t max) const override {
        Fd fd(open_fd(name, true));
        return fs::read_file("/proc/self/fd/" + std::to_string(fd.get()), max);
    }
    std::unique_ptr<layer::Reader> open(const std::string& name) const override {
        return std::make_unique<OwnedFdReader>(Fd(open_fd(name, true)), path_ + "/" + name);
    }
    std::vector<std::string> names() const override { return {}; }
    bool is_directory() const override { return true; }

  private:
    int open_fd(const std::string& name, bool must) const {
        std::string clean = clean_name(name);
        int fd = clean.empty() ? -1 : fs::openat_in_root(dir_.get(), clean, O_RDONLY);
        if (fd < 0 && must) {
            if (errno == ENOENT || clean.empty())
                throw Error(Errc::not_found, path_ + " has no file \"" + name + "\"",
                            "the layout is incomplete; export it again");
            throw_errno("cannot open " + path_ + "/" + name);
        }
        return fd;
    }
    Fd dir_;
};

} // namespace

std::unique_ptr<Source> Source::open_path(const stdfs::path& path, const stdfs::path& tmp_dir) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw sys_error(errno, "cannot load " + path.string(), "check the path");
    if (S_ISDIR(st.st_mode)) return std::make_unique<DirSource>(path);
    return std::make_unique<TarSource>(path, tmp_dir);
}

} // namespace gantry::archive
