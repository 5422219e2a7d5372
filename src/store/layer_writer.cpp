#include "store/layer_writer.hpp"

#include "layer/file_holes.hpp"
#include "layer/igzip.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>

namespace gantry::store {

LayerWriter::LayerWriter(store::Store& store)
    : blob_(store.begin_blob()), a_(archive_write_new()), level_buf_(ISAL_DEF_LVL3_DEFAULT),
      out_(1 << 20) {
    if (!a_) throw Error(Errc::internal, "cannot create a tar writer");
    layer::igzip::api().deflate_init(&zs_);
    zs_.level = 3;
    zs_.level_buf = level_buf_.data();
    zs_.level_buf_size = static_cast<std::uint32_t>(level_buf_.size());
    zs_.gzip_flag = IGZIP_GZIP_NO_HDR;
    // a fixed gzip header (mtime 0, no name): the same content always gives the same blob
    static const std::uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    blob_hash_.update(hdr, sizeof hdr);
    fs::write_all(blob_.fd(), hdr, sizeof hdr, "new layer blob");
    blob_size_ = sizeof hdr;
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_per_block(a_, static_cast<int>(kLayerWriterBlock));
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open(a_, this, nullptr, write_cb, nullptr) != ARCHIVE_OK) fail();
}

LayerWriter::~LayerWriter() {
    archive_write_free(a_);
}

std::uint64_t LayerWriter::copy_entries(layer::TarReader& in) {
    auto write = [&](const void* p, std::size_t n) { data(p, n); };
    std::uint64_t entries = 0;
    while (archive_entry* e = in.next()) {
        ++entries;
        // the holes are walked (data() of zeros, which the pax writer skips): bounded
        layer::refuse_vast_sparse(e, in.what(), "a layer gantry writes", layer::kMaxKeptSparse);
        header(e);
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) {
            in.skip();
            continue;
        }
        const void* p;
        std::size_t n;
        std::int64_t off, pos = 0;
        while (in.block(p, n, off)) {
            layer::zero_fill(pos, off, write); // a hole
            data(p, n);
            pos += static_cast<std::int64_t>(n);
        }
        layer::zero_fill(pos, archive_entry_size(e), write);
    }
    return entries;
}

void LayerWriter::fail() {
    const char* m = archive_error_string(a_);
    throw Error(Errc::io, std::string("cannot write the new layer: ") + (m ? m : "unknown error"));
}

la_ssize_t LayerWriter::write_cb(struct archive*, void* p, const void* buf, std::size_t n) {
    auto* self = static_cast<LayerWriter*>(p);
    try {
        self->tar_hash_.update(buf, n);
        self->tar_size_ += n;
        self->deflate(buf, n, false);
        return static_cast<la_ssize_t>(n);
    } catch (...) {
        return -1;
    }
}

void LayerWriter::deflate(const void* p, std::size_t n, bool end) {
    zs_.next_in = static_cast<std::uint8_t*>(const_cast<void*>(p));
    zs_.avail_in = static_cast<std::uint32_t>(n);
    zs_.end_of_stream = end ? 1 : 0;
    zs_.flush = NO_FLUSH;
    do {
        zs_.next_out = out_.data();
        zs_.avail_out = static_cast<std::uint32_t>(out_.size());
        if (layer::igzip::api().deflate(&zs_) != COMP_OK)
            throw Error(Errc::internal, "igzip could not compress the new layer");
        std::size_t got = out_.size() - zs_.avail_out;
        if (got) {
            blob_hash_.update(out_.data(), got);
            fs::write_all(blob_.fd(), out_.data(), got, "new layer blob");
            blob_size_ += got;
        }
    } while (zs_.avail_in > 0 || zs_.avail_out == 0 ||
             (end && zs_.internal_state.state != ZSTATE_END));
}

void LayerWriter::header(archive_entry* e) {
    // ARCHIVE_WARN: a name (path, link target, user or group) that is not valid in the locale's
    // charset (a Latin-1 file name under C.UTF-8). The pax writer then records it as bytes
    // (hdrcharset=BINARY), as Linux file names are, and the entry is written whole: keep it.
    if (archive_write_header(a_, e) < ARCHIVE_WARN) fail();
}

void LayerWriter::data(const void* p, std::size_t n) {
    while (n > 0) {
        la_ssize_t w = archive_write_data(a_, p, n);
        if (w < 0) fail();
        if (w == 0) break;
        p = static_cast<const char*>(p) + w;
        n -= static_cast<std::size_t>(w);
    }
}

std::pair<oci::Digest, oci::Digest> LayerWriter::finish() {
    if (archive_write_close(a_) != ARCHIVE_OK) fail();
    deflate(nullptr, 0, true);
    auto blob = oci::Digest::from_hex(blob_hash_.hex_final());
    auto diff = oci::Digest::from_hex(tar_hash_.hex_final());
    blob_.commit(blob);
    return {blob, diff};
}

} // namespace gantry::store
