#include "lazy/zstd_chunked_writer.hpp"

#include "lazy/blob_output.hpp"
#include "lazy/convert.hpp"
#include "lazy/tar_split.hpp"
#include "lazy/toc_entry.hpp"
#include "oci/image.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/nettle.hpp"
#include "util/text.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <array>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <zstd.h>

namespace gantry::lazy::zstd_chunked {

using nlohmann::json;

std::uint64_t crc64_iso(std::uint64_t crc, std::string_view data) {
    static const std::array<std::uint64_t, 256> table = [] {
        std::array<std::uint64_t, 256> t{};
        for (std::uint64_t i = 0; i < 256; ++i) {
            std::uint64_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xD800000000000000ull : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    crc = ~crc;
    for (unsigned char b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
    return ~crc;
}

namespace {

constexpr int kLevel = 3; // zstd's default, as containers/storage's writer

// The blob's frames: tar bytes from libarchive go into the open frame, and into the current
// tar-split segment unless they are a file's content. Hashes the blob and the tar.
class Frames : public BlobOutput {
  public:
    Frames(int fd, std::string what)
        : BlobOutput(fd, "zstd:chunked", std::move(what)), z_(ZSTD_createCCtx()) {
        if (!z_) throw Error(Errc::internal, "zstd: cannot create a compression context");
        ZSTD_CCtx_setParameter(z_, ZSTD_c_compressionLevel, kLevel);
        ZSTD_CCtx_setParameter(z_, ZSTD_c_checksumFlag, 0);
    }
    ~Frames() { ZSTD_freeCCtx(z_); }
    Frames(const Frames&) = delete;
    Frames& operator=(const Frames&) = delete;

    bool content = false; // the bytes coming are a file's content (not in the tar-split)

    void add(const void* data, std::size_t n) {
        std::string_view s(static_cast<const char*>(data), n);
        count_tar(s.data(), s.size());
        if (!content) segment_.append(s);
        open_ = true;
        pump(s, ZSTD_e_continue);
    }

    // ends the open frame (if any bytes went in)
    void close() {
        if (!open_) return;
        pump({}, ZSTD_e_end);
        open_ = false;
    }

    // the tar-split line of the segment gathered so far (none when empty)
    void flush_segment() {
        if (segment_.empty()) return;
        tar_split::Entry e;
        e.payload = std::move(segment_);
        segment_.clear();
        split_ += tar_split::line(e, position_++);
    }
    void file_line(const std::string& name, std::uint64_t size, std::uint64_t crc) {
        flush_segment();
        tar_split::Entry e;
        e.file = true;
        e.name = name;
        e.size = size;
        if (size > 0)
            for (int i = 7; i >= 0; --i) e.payload += static_cast<char>((crc >> (8 * i)) & 0xff);
        split_ += tar_split::line(e, position_++);
    }

    std::string take_split() { return std::move(split_); }

  private:
    void pump(std::string_view s, ZSTD_EndDirective mode) {
        ZSTD_inBuffer in{s.data(), s.size(), 0};
        char buf[1 << 16];
        for (;;) {
            ZSTD_outBuffer out{buf, sizeof buf, 0};
            std::size_t left = ZSTD_compressStream2(z_, &out, &in, mode);
            if (ZSTD_isError(left))
                throw Error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(left));
            emit(buf, out.pos);
            if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
        }
    }

    ZSTD_CCtx* z_;
    bool open_ = false;
    std::uint64_t position_ = 0;
    std::string segment_, split_;
};

la_ssize_t on_write(archive*, void* self, const void* buf, size_t n) {
    static_cast<Frames*>(self)->add(buf, n);
    return static_cast<la_ssize_t>(n);
}

void check(archive* a, int rc, const std::string& what) {
    if (rc < ARCHIVE_WARN) {
        const char* e = archive_error_string(a);
        throw Error(Errc::invalid, what + ": " + (e ? e : "libarchive error"));
    }
}

// DATA zstd-compressed as one frame
std::string compress(std::string_view data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), kLevel);
    if (ZSTD_isError(n)) throw Error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return out;
}

} // namespace

WrittenLayer write_layer(int in_fd, int out_fd, const std::string& what, std::uint64_t chunk_size) {
    if (chunk_size == 0 || chunk_size > kMaxChunkSize)
        throw Error(Errc::usage, "a zstd:chunked chunk size must be 1 byte to 64 MiB");
    std::unique_ptr<archive, decltype(&archive_read_free)> in(archive_read_new(),
                                                              archive_read_free);
    archive_read_support_filter_all(in.get());
    archive_read_support_format_tar(in.get());
    check(in.get(), archive_read_open_fd(in.get(), in_fd, 1 << 16), "cannot read " + what);

    Frames f(out_fd, what);
    std::unique_ptr<archive, decltype(&archive_write_free)> out(archive_write_new(),
                                                                archive_write_free);
    archive_write_set_format_pax_restricted(out.get());
    archive_write_set_bytes_per_block(out.get(), 0); // every byte at once: frames end exactly
    archive_write_set_bytes_in_last_block(out.get(), 1);
    check(out.get(), archive_write_open(out.get(), &f, nullptr, on_write, nullptr),
          "cannot write " + what);

    json entries = json::array();
    std::string buf(1 << 16, '\0');
    archive_entry* e = nullptr;
    for (;;) {
        int rc = archive_read_next_header(in.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        check(in.get(), rc, "cannot read " + what);
        const char* pathname = archive_entry_pathname(e);
        std::string name = pathname ? pathname : "";
        if (is_estargz_artefact(e)) continue;
        as_plain_entry(e, what, "zstd:chunked");
        json ent = toc_entry(e, name, what, {"zstd:chunked", false});
        check(out.get(), archive_write_header(out.get(), e), "cannot write " + what);
        const bool content = !archive_entry_hardlink(e) && archive_entry_filetype(e) == AE_IFREG;
        const auto size =
            content ? static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(e), 0))
                    : 0;
        if (content) ent["size"] = size;
        if (size == 0) {
            if (content) ent["digest"] = "sha256:" + Sha256::hex_of("");
            f.file_line(name, 0, 0);
            archive_write_finish_entry(out.get());
            entries.push_back(std::move(ent));
            continue;
        }
        f.close(); // the content starts a frame
        Sha256 whole;
        std::uint64_t crc = 0;
        std::size_t first = entries.size();
        std::uint64_t done = 0;
        f.content = true;
        while (done < size) {
            std::uint64_t len = std::min(chunk_size, size - done);
            json c = done == 0 ? ent : json{{"name", name}, {"type", "chunk"}};
            c["offset"] = f.offset();
            if (done > 0) c["chunkOffset"] = done;
            c["chunkSize"] = len;
            Sha256 part;
            std::uint64_t left = len;
            while (left > 0) {
                la_ssize_t n = archive_read_data(in.get(), buf.data(),
                                                 std::min<std::uint64_t>(left, buf.size()));
                if (n <= 0) throw Error(Errc::invalid, what + ": entry " + name + " is truncated");
                std::string_view piece(buf.data(), static_cast<std::size_t>(n));
                part.update(piece.data(), piece.size());
                whole.update(piece.data(), piece.size());
                crc = crc64_iso(crc, piece);
                if (archive_write_data(out.get(), piece.data(), piece.size()) != n)
                    check(out.get(), ARCHIVE_FATAL, "cannot write " + what);
                left -= static_cast<std::uint64_t>(n);
            }
            f.close(); // each chunk its own frame
            c["chunkDigest"] = "sha256:" + part.hex_final();
            entries.push_back(std::move(c));
            done += len;
        }
        f.content = false;
        entries[first]["endOffset"] = f.offset();
        entries[first]["digest"] = "sha256:" + whole.hex_final();
        f.file_line(name, size, crc);
        archive_write_finish_entry(out.get()); // the padding, in the next frame
    }
    check(out.get(), archive_write_close(out.get()), "cannot write " + what);
    f.close();
    f.flush_segment();

    std::string split = f.take_split();
    std::string split_z = compress(split);
    json toc = {{"version", 1},
                {"entries", std::move(entries)},
                {"tarSplitDigest", "sha256:" + Sha256::hex_of(split_z)}};
    std::string text = toc.dump(); // toc_entry refused what JSON cannot hold
    std::string toc_z = compress(text);

    WrittenLayer r;
    r.layout.generation = Generation::current;
    r.layout.toc = {f.offset() + 8, toc_z.size(), text.size()};
    r.layout.toc_checksum = "sha256:" + Sha256::hex_of(toc_z);
    f.raw(skippable_frame(toc_z));
    r.layout.tar_split = Position{f.offset() + 8, split_z.size(), split.size()};
    f.raw(skippable_frame(split_z));
    f.raw(footer_bytes(r.layout.toc, *r.layout.tar_split));
    r.size = f.offset();
    r.tar_size = f.tar_size();
    r.digest = oci::Digest::from_hex(f.blob_hex());
    r.diff_id = oci::Digest::from_hex(f.tar_hex());
    return r;
}

oci::Digest convert_image(store::Store& store, const oci::Digest& manifest_digest,
                          std::uint64_t chunk_size) {
    return convert_layers(store, manifest_digest, [&](int in, int out, const std::string& what) {
        WrittenLayer w = write_layer(in, out, what, chunk_size);
        ConvertedLayer c;
        c.descriptor.media_type = kMediaType;
        c.descriptor.digest = w.digest;
        c.descriptor.size = static_cast<std::int64_t>(w.size);
        c.descriptor.annotations = annotations_of(w.layout);
        c.diff_id = w.diff_id;
        return c;
    });
}

} // namespace gantry::lazy::zstd_chunked
