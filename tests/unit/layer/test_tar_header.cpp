// layer/tar_header: a tar header whose checksum does not match is invalid input naming the byte
// offset of the header (fuzzing found such entries skipped with exit 0, or reported as a missing
// file or an unsupported archive).
#include "layer/extract.hpp"
#include "layer/stream.hpp"
#include "layer/tar_header.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace layer_tar_header_test {

using gantry::Errc;
using gantry::Error;
using gantry::Fd;
namespace layer = gantry::layer;
namespace stdfs = std::filesystem;

namespace {

class StringReader final : public layer::Reader {
  public:
    explicit StringReader(std::string data) : data_(std::move(data)) {}
    std::size_t read(void* buf, std::size_t n) override {
        n = std::min(n, data_.size() - pos_);
        std::memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    std::size_t pos_ = 0;
};

// One ustar header block (regular file), with its checksum.
std::string ustar_header(const std::string& name, std::size_t size) {
    std::string h(512, '\0');
    std::memcpy(h.data(), name.data(), std::min<std::size_t>(name.size(), 100));
    std::snprintf(h.data() + 100, 8, "%07o", 0644);
    std::snprintf(h.data() + 108, 8, "%07o", 0);
    std::snprintf(h.data() + 116, 8, "%07o", 0);
    std::snprintf(h.data() + 124, 12, "%011zo", size);
    std::snprintf(h.data() + 136, 12, "%011o", 1600000000);
    h[156] = '0';
    std::memcpy(h.data() + 257, "ustar", 6);
    std::memcpy(h.data() + 263, "00", 2);
    std::memset(h.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h.data() + 148, 8, "%06o", sum);
    h[155] = ' ';
    return h;
}

// a.txt (100 bytes) at 0, b.txt (700 bytes) at 1024, c.txt (10 bytes) at 2560.
std::string three_files() {
    std::string t;
    for (auto [name, size] : {std::pair{"a.txt", 100}, {"b.txt", 700}, {"c.txt", 10}}) {
        t += ustar_header(name, static_cast<std::size_t>(size));
        std::string data(static_cast<std::size_t>(size), name[0]);
        data.resize((data.size() + 511) / 512 * 512, '\0');
        t += data;
    }
    return t + std::string(1024, '\0');
}

std::string damaged_at(std::string tar, std::size_t header) {
    std::memcpy(tar.data() + header + 148, "0000000", 8);
    return tar;
}

class Root {
  public:
    Root() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-tarhdr-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        path_ = tmpl;
        fd_ = Fd(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    ~Root() {
        fd_.reset();
        std::error_code ec;
        stdfs::remove_all(path_, ec);
    }
    int fd() const { return fd_.get(); }
    const stdfs::path& path() const { return path_; }

  private:
    stdfs::path path_;
    Fd fd_;
};

std::string extract_error(const std::string& tar) {
    Root r;
    StringReader in(tar);
    try {
        layer::extract_tar(in, r.fd(), {"layer 2/2 (sha256:ab12)", false});
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "extracted a damaged tar";
    return "";
}

} // namespace

TEST(TarHeader, ChecksumOfAGoodAndADamagedHeader) {
    std::string h = ustar_header("a.txt", 3);
    EXPECT_TRUE(layer::tar_checksum_ok(reinterpret_cast<const unsigned char*>(h.data())));
    h[0] = 'b'; // the content changed, the checksum did not
    EXPECT_FALSE(layer::tar_checksum_ok(reinterpret_cast<const unsigned char*>(h.data())));
    std::string z = damaged_at(ustar_header("a.txt", 3), 0);
    EXPECT_FALSE(layer::tar_checksum_ok(reinterpret_cast<const unsigned char*>(z.data())));
}

TEST(TarHeader, IntactTarExtractsEveryEntry) {
    Root r;
    StringReader in(three_files());
    auto st = layer::extract_tar(in, r.fd(), {"layer", false});
    EXPECT_EQ(st.files, 3u);
    EXPECT_EQ(stdfs::file_size(r.path() / "b.txt"), 700u);
}

TEST(TarHeader, DamagedHeaderIsInvalidInputNamingLayerAndOffset) {
    for (std::size_t at : {0u, 1024u, 2560u})
        EXPECT_EQ(extract_error(damaged_at(three_files(), at)),
                  "layer 2/2 (sha256:ab12): the tar header at byte offset " + std::to_string(at) +
                      " has a bad checksum (the entry is damaged)");
}

TEST(TarHeader, DamagedHeaderAfterAPaxHeader) {
    // libarchive reports this one as FATAL rather than RETRY; the offset is the damaged header's
    std::string buf(1 << 16, '\0');
    size_t used = 0;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_set_bytes_in_last_block(a, 1);
    ASSERT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK);
    for (const std::string& name : {std::string("first.txt"), std::string(150, 'n')}) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 5);
        archive_write_header(a, e);
        archive_write_data(a, "hello", 5);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    buf.resize(used);
    // first.txt: header 0, data 512; the long name: pax header 1024, its data 1536, header 2048
    ASSERT_EQ(buf[1024 + 156], 'x');
    ASSERT_EQ(buf[2048 + 156], '0');
    EXPECT_NE(extract_error(damaged_at(buf, 2048)).find("tar header at byte offset 2048 has a bad"),
              std::string::npos);
    EXPECT_NE(extract_error(damaged_at(buf, 1024)).find("tar header at byte offset 1024 has a bad"),
              std::string::npos);
}

TEST(TarHeader, FirstBlockThatIsNoTarHeaderIsLeftToTheCaller) {
    EXPECT_NO_THROW(layer::check_first_tar_header(std::string(512, 'x'), "f"));
    EXPECT_NO_THROW(layer::check_first_tar_header("short", "f"));
    EXPECT_NO_THROW(layer::check_first_tar_header(ustar_header("a", 1), "f"));
    EXPECT_THROW(layer::check_first_tar_header(damaged_at(ustar_header("a", 1), 0), "f"), Error);
}

} // namespace layer_tar_header_test
