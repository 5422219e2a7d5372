#include "lazy/writer.hpp"

#include "lazy/blob_output.hpp"
#include "lazy/convert.hpp"
#include "lazy/toc.hpp"
#include "lazy/toc_entry.hpp"
#include "oci/image.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/nettle.hpp"
#include "util/text.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <zlib.h>

namespace gantry::lazy {

using nlohmann::json;

namespace {

// The gzip members of the blob: bytes from libarchive go into the open member; members end
// where a chunk must start. Counts and hashes both the compressed and the uncompressed stream.
class Members : public BlobOutput {
  public:
    Members(int fd, std::string what) : BlobOutput(fd, "eStargz", std::move(what)) {}
    ~Members() {
        if (open_) deflateEnd(&z_);
    }

    void open() {
        if (open_) return;
        z_ = z_stream{};
        // level 6 (gzip's default), gzip wrapper (15 + 16): mtime 0, so the blob is reproducible
        if (deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw Error(Errc::internal, "zlib: deflateInit2");
        open_ = true;
    }

    void close() {
        if (!open_) return;
        pump(nullptr, 0, Z_FINISH);
        deflateEnd(&z_);
        open_ = false;
    }

    void add(const void* data, std::size_t n) {
        open();
        count_tar(data, n);
        pump(data, n, Z_NO_FLUSH);
    }

  private:
    void pump(const void* data, std::size_t n, int flush) {
        z_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
        z_.avail_in = static_cast<uInt>(n);
        char buf[1 << 16];
        for (;;) {
            z_.next_out = reinterpret_cast<Bytef*>(buf);
            z_.avail_out = sizeof buf;
            int rc = deflate(&z_, flush);
            if (rc == Z_STREAM_ERROR) throw Error(Errc::internal, "zlib: deflate");
            emit(buf, sizeof buf - z_.avail_out);
            if (flush == Z_FINISH ? rc == Z_STREAM_END : z_.avail_out != 0) break;
        }
    }

    z_stream z_{};
    bool open_ = false;
};

la_ssize_t on_write(archive*, void* self, const void* buf, size_t n) {
    static_cast<Members*>(self)->add(buf, n);
    return static_cast<la_ssize_t>(n);
}

std::string text_or(const char* s, const char* otherwise) {
    return s ? s : otherwise;
}

using ArchiveRead = std::unique_ptr<archive, decltype(&archive_read_free)>;
using ArchiveWrite = std::unique_ptr<archive, decltype(&archive_write_free)>;

void check(archive* a, int rc, const std::string& what) {
    if (rc < ARCHIVE_WARN)
        throw Error(Errc::invalid,
                    what + ": " + text_or(archive_error_string(a), "libarchive error"));
}

} // namespace

EstargzLayer write_estargz(int in_fd, int out_fd, const std::string& what,
                           std::uint64_t chunk_size) {
    ArchiveRead in(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(in.get());
    archive_read_support_format_tar(in.get());
    check(in.get(), archive_read_open_fd(in.get(), in_fd, 1 << 16), "cannot read " + what);

    Members m(out_fd, what);
    ArchiveWrite out(archive_write_new(), archive_write_free);
    archive_write_set_format_pax_restricted(out.get());
    archive_write_set_bytes_per_block(out.get(), 0); // every byte at once: members end exactly
    archive_write_set_bytes_in_last_block(out.get(), 1);
    check(out.get(), archive_write_open(out.get(), &m, nullptr, on_write, nullptr),
          "cannot write " + what);

    json entries = json::array();
    std::string buf(1 << 16, '\0');

    // estargz.Build with no prioritised files: the landmark first
    {
        std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                        archive_entry_free);
        archive_entry_set_pathname(e.get(), ".no.prefetch.landmark");
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0);
        archive_entry_set_size(e.get(), 1);
        m.open();
        check(out.get(), archive_write_header(out.get(), e.get()), "cannot write " + what);
        m.close();
        std::uint64_t off = m.offset();
        m.open();
        const char landmark = 0x0f;
        archive_write_data(out.get(), &landmark, 1);
        json ent = {{"name", ".no.prefetch.landmark"},
                    {"type", "reg"},
                    {"size", 1},
                    {"offset", off},
                    {"digest", "sha256:" + Sha256::hex_of({&landmark, 1})},
                    {"chunkDigest", "sha256:" + Sha256::hex_of({&landmark, 1})}};
        archive_write_finish_entry(out.get()); // the padding, in this member
        entries.push_back(ent);
    }

    archive_entry* e = nullptr;
    for (;;) {
        int rc = archive_read_next_header(in.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        check(in.get(), rc, "cannot read " + what);
        std::string name = text_or(archive_entry_pathname(e), "");
        if (is_estargz_artefact(e)) continue; // this writer writes its own
        as_plain_entry(e, what, "eStargz");
        json ent = toc_entry(e, name, what, {"eStargz", true});
        const char* hl = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);

        m.open();
        check(out.get(), archive_write_header(out.get(), e), "cannot write " + what);
        if (hl || type != AE_IFREG || archive_entry_size(e) <= 0) {
            if (!hl && type == AE_IFREG) {
                ent["size"] = 0;
                ent["digest"] = "sha256:" + Sha256::hex_of("");
            }
            archive_write_finish_entry(out.get());
            entries.push_back(std::move(ent));
            continue;
        }
        auto size = static_cast<std::uint64_t>(archive_entry_size(e));
        ent["size"] = size;
        Sha256 whole;
        std::size_t first = entries.size();
        std::uint64_t done = 0;
        while (done < size) {
            std::uint64_t len = std::min(chunk_size, size - done);
            m.close();
            json c = done == 0 ? ent : json{{"name", name}, {"type", "chunk"}};
            c["offset"] = m.offset();
            c["chunkOffset"] = done;
            if (len == chunk_size && done + len < size) c["chunkSize"] = len;
            m.open();
            Sha256 part;
            std::uint64_t left = len;
            while (left > 0) {
                la_ssize_t n = archive_read_data(in.get(), buf.data(),
                                                 std::min<std::uint64_t>(left, buf.size()));
                if (n <= 0) throw Error(Errc::invalid, what + ": entry " + name + " is truncated");
                part.update(buf.data(), static_cast<std::size_t>(n));
                whole.update(buf.data(), static_cast<std::size_t>(n));
                if (archive_write_data(out.get(), buf.data(), static_cast<std::size_t>(n)) != n)
                    check(out.get(), ARCHIVE_FATAL, "cannot write " + what);
                left -= static_cast<std::uint64_t>(n);
            }
            c["chunkDigest"] = "sha256:" + part.hex_final();
            entries.push_back(std::move(c));
            done += len;
        }
        // the tar padding goes into the last chunk's member (as estargz's tw.Flush()), so the
        // next member starts with the next header
        archive_write_finish_entry(out.get());
        entries[first]["digest"] = "sha256:" + whole.hex_final();
    }

    // the TOC: its own gzip member, holding its tar entry and the tar's end
    json toc = {{"version", 1}, {"entries", std::move(entries)}};
    std::string text = toc.dump(1, '\t');
    m.close();
    std::uint64_t toc_offset = m.offset();
    m.open();
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> te(archive_entry_new(),
                                                                     archive_entry_free);
    archive_entry_set_pathname(te.get(), kTocName);
    archive_entry_set_filetype(te.get(), AE_IFREG);
    archive_entry_set_perm(te.get(), 0444);
    archive_entry_set_size(te.get(), static_cast<la_int64_t>(text.size()));
    check(out.get(), archive_write_header(out.get(), te.get()), "cannot write " + what);
    archive_write_data(out.get(), text.data(), text.size());
    check(out.get(), archive_write_close(out.get()), "cannot write " + what);
    m.close();
    m.raw(footer_bytes(toc_offset));

    EstargzLayer r;
    r.size = m.offset();
    r.tar_size = m.tar_size();
    r.digest = oci::Digest::from_hex(m.blob_hex());
    r.diff_id = oci::Digest::from_hex(m.tar_hex());
    r.toc_digest = "sha256:" + Sha256::hex_of(text);
    return r;
}

oci::Digest convert_image(store::Store& store, const oci::Digest& manifest_digest,
                          std::uint64_t chunk_size) {
    return convert_layers(store, manifest_digest, [&](int in, int out, const std::string& what) {
        EstargzLayer e = write_estargz(in, out, what, chunk_size);
        ConvertedLayer c;
        c.descriptor.media_type = oci::media::oci_layer_gzip;
        c.descriptor.digest = e.digest;
        c.descriptor.size = static_cast<std::int64_t>(e.size);
        c.descriptor.annotations[kTocDigestAnnotation] = e.toc_digest;
        c.descriptor.annotations[kUncompressedSizeAnnotation] = std::to_string(e.tar_size);
        c.diff_id = e.diff_id;
        return c;
    });
}

} // namespace gantry::lazy
