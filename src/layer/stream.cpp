#include "layer/stream.hpp"

#include "layer/igzip.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <zstd.h>

namespace gantry::layer {

FdReader::FdReader(int fd, std::string name, off_t offset, std::int64_t length)
    : fd_(fd), name_(std::move(name)), offset_(offset), left_(length) {}

std::size_t FdReader::read(void* buf, std::size_t n) {
    if (left_ == 0) return 0;
    if (left_ > 0 && static_cast<std::int64_t>(n) > left_) n = static_cast<std::size_t>(left_);
    for (;;) {
        ssize_t r = ::pread(fd_, buf, n, offset_);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot read " + name_);
        }
        if (r == 0 && left_ > 0)
            throw Error(Errc::invalid, name_ + " is truncated: " + std::to_string(left_) +
                                           " more bytes were expected");
        offset_ += r;
        if (left_ > 0) left_ -= r;
        return static_cast<std::size_t>(r);
    }
}

HashingReader::HashingReader(Reader& src, int tee_fd, std::string tee_name)
    : src_(src), tee_fd_(tee_fd), tee_name_(std::move(tee_name)) {}

std::size_t HashingReader::read(void* buf, std::size_t n) {
    std::size_t got = src_.read(buf, n);
    if (got) {
        hash_.update(buf, got);
        count_ += got;
        if (tee_fd_ >= 0) fs::write_all(tee_fd_, buf, got, tee_name_);
    }
    return got;
}

std::size_t PrefixedReader::read(void* buf, std::size_t n) {
    if (pos_ < prefix_.size()) {
        std::size_t k = std::min(n, prefix_.size() - pos_);
        std::memcpy(buf, prefix_.data() + pos_, k);
        pos_ += k;
        return k;
    }
    return src_.read(buf, n);
}

std::vector<unsigned char> SniffedStream::head(Reader& blob) {
    std::vector<unsigned char> h(4096);
    std::size_t got = 0;
    while (got < h.size()) {
        std::size_t n = blob.read(h.data() + got, h.size() - got);
        if (n == 0) break;
        got += n;
    }
    h.resize(got);
    return h;
}

SniffedStream::SniffedStream(Reader& blob, const std::string& what)
    : head_(head(blob)), compression_(oci::sniff_compression(head_.data(), head_.size())),
      prefixed_(std::move(head_), blob), plain_(make_decompressor(compression_, prefixed_, what)) {}

std::uint64_t drain(Reader& r) {
    std::vector<char> buf(1 << 16);
    std::uint64_t total = 0;
    while (std::size_t n = r.read(buf.data(), buf.size())) total += n;
    return total;
}

namespace {

constexpr std::size_t kInBuf = 1 << 18;

class PlainReader final : public Reader {
  public:
    explicit PlainReader(Reader& src) : src_(src) {}
    std::size_t read(void* buf, std::size_t n) override { return src_.read(buf, n); }

  private:
    Reader& src_;
};

class GzipReader final : public Reader {
  public:
    GzipReader(Reader& src, std::string what) : src_(src), what_(std::move(what)), in_(kInBuf) {
        reset();
    }
    std::size_t read(void* buf, std::size_t n) override {
        auto* out = static_cast<std::uint8_t*>(buf);
        st_.next_out = out;
        st_.avail_out = static_cast<std::uint32_t>(std::min<std::size_t>(n, 1u << 30));
        while (st_.next_out == out) {
            if (st_.block_state == ISAL_BLOCK_FINISH) {
                // End of a gzip member: concatenated members continue, EOF ends the stream.
                if (st_.avail_in == 0 && !fill()) return 0;
                std::uint8_t* next = st_.next_in;
                std::uint32_t avail = st_.avail_in;
                reset();
                st_.next_in = next;
                st_.avail_in = avail;
                st_.next_out = out;
                st_.avail_out = static_cast<std::uint32_t>(std::min<std::size_t>(n, 1u << 30));
            }
            if (st_.avail_in == 0 && !fill()) {
                throw Error(Errc::invalid, what_ + ": gzip stream is truncated",
                            "the blob was cut short; fetch or export it again");
            }
            if (in_header_) {
                // The member's header, read here and not by isal_inflate: isal_inflate reads it
                // into a header on its own stack each call, so a header cut across two reads
                // (a name or comment field, small reads) lost what the first call had read.
                int rc = igzip::api().read_gzip_header(&st_, &header_);
                if (rc == ISAL_END_INPUT && st_.avail_in == 0) continue; // the loop reads more
                if (rc != ISAL_DECOMP_OK)
                    throw Error(Errc::invalid,
                                what_ + ": corrupt gzip header (igzip error " + std::to_string(rc) +
                                    ")",
                                "the blob is damaged; fetch or export it again");
                in_header_ = false;
                continue;
            }
            int rc = igzip::api().inflate(&st_);
            if (rc != ISAL_DECOMP_OK)
                throw Error(Errc::invalid,
                            what_ + ": corrupt gzip data (igzip error " + std::to_string(rc) + ")",
                            "the blob is damaged; fetch or export it again");
        }
        return static_cast<std::size_t>(st_.next_out - out);
    }

  private:
    bool fill() {
        std::size_t n = src_.read(in_.data(), in_.size());
        st_.next_in = in_.data();
        st_.avail_in = static_cast<std::uint32_t>(n);
        return n > 0;
    }
    void reset() {
        igzip::api().inflate_init(&st_);
        st_.crc_flag =
            ISAL_GZIP_NO_HDR_VER; // the header is read first (read()); verify the trailer
        igzip::api().gzip_header_init(&header_); // name, comment, extra: not kept (null buffers)
        in_header_ = true;
    }
    Reader& src_;
    std::string what_;
    std::vector<std::uint8_t> in_;
    inflate_state st_{};
    isal_gzip_header header_{}; // one member's header, kept across reads until complete
    bool in_header_ = true;
};

class ZstdReader final : public Reader {
  public:
    ZstdReader(Reader& src, std::string what)
        : src_(src), what_(std::move(what)), in_(ZSTD_DStreamInSize()) {
        ds_ = ZSTD_createDStream();
        if (!ds_) throw Error(Errc::internal, "cannot create a zstd decoder");
        ZSTD_initDStream(ds_);
    }
    ~ZstdReader() override { ZSTD_freeDStream(ds_); }
    std::size_t read(void* buf, std::size_t n) override {
        ZSTD_outBuffer out{buf, n, 0};
        while (out.pos == 0) {
            if (ib_.pos == ib_.size) {
                std::size_t got = src_.read(in_.data(), in_.size());
                if (got == 0) {
                    if (last_ != 0)
                        throw Error(Errc::invalid, what_ + ": zstd stream is truncated",
                                    "the blob was cut short; fetch or export it again");
                    return 0;
                }
                ib_ = ZSTD_inBuffer{in_.data(), got, 0};
            }
            last_ = ZSTD_decompressStream(ds_, &out, &ib_);
            if (ZSTD_isError(last_))
                throw Error(Errc::invalid,
                            what_ + ": corrupt zstd data (" + ZSTD_getErrorName(last_) + ")",
                            "the blob is damaged; fetch or export it again");
        }
        return out.pos;
    }

  private:
    Reader& src_;
    std::string what_;
    std::vector<char> in_;
    ZSTD_inBuffer ib_{nullptr, 0, 0};
    ZSTD_DStream* ds_ = nullptr;
    std::size_t last_ = 1; // non-zero until a frame completes: empty input is truncated
};

} // namespace

std::unique_ptr<Reader> make_decompressor(oci::Compression c, Reader& src, std::string what) {
    switch (c) {
    case oci::Compression::gzip:
        return std::make_unique<GzipReader>(src, std::move(what));
    case oci::Compression::zstd:
        return std::make_unique<ZstdReader>(src, std::move(what));
    default:
        return std::make_unique<PlainReader>(src);
    }
}

} // namespace gantry::layer
