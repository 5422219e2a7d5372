#include "layer/tar_reader.hpp"

#include "layer/tar_header.hpp"
#include "util/error.hpp"

#include <cerrno>

namespace gantry::layer {

void refuse_vast_sparse(archive_entry* e, const std::string& what, const std::string& into,
                        std::int64_t limit) {
    if (archive_entry_sparse_count(e) == 0 || archive_entry_size(e) <= limit) return;
    la_int64_t offset = 0, length = 0, data = 0;
    archive_entry_sparse_reset(e);
    while (archive_entry_sparse_next(e, &offset, &length) == ARCHIVE_OK) data += length;
    throw Error(Errc::unsupported,
                what + ": " + archive_entry_pathname(e) + " is a sparse file of " +
                    std::to_string(archive_entry_size(e)) + " bytes (" + std::to_string(data) +
                    " of data), more than " + into + " takes: " +
                    (limit >= (std::int64_t(1) << 40)
                         ? std::to_string(limit >> 40) + " TiB"
                         : std::to_string(limit >> 30) + " GiB, its holes written out whole"),
                limit == kMaxExpandedSparse
                    ? "keep the image in the store's own format (gantry pull, load and save keep "
                      "the holes), or remove the file from the image (a lastlog grows so with a "
                      "large uid: useradd --no-log-init)"
                    : "remove the file from the tar (ext4 holds no larger file)");
}

bool normalize_name(const char* name, std::string& out) {
    out.clear();
    if (!name) return true;
    std::string_view s(name);
    std::size_t i = 0;
    while (i <= s.size()) {
        std::size_t j = s.find('/', i);
        if (j == std::string_view::npos) j = s.size();
        std::string_view comp = s.substr(i, j - i);
        if (comp == "..") return false;
        if (!comp.empty() && comp != ".") {
            if (!out.empty()) out += '/';
            out.append(comp);
        }
        i = j + 1;
    }
    return true;
}

la_ssize_t TarReader::read_cb(struct archive* a, void* p, const void** out) {
    auto* self = static_cast<TarReader*>(p);
    try {
        std::size_t n = self->in_.read(self->buf_.data(), self->buf_.size());
        *out = self->buf_.data();
        return static_cast<la_ssize_t>(n);
    } catch (...) {
        self->error_ = std::current_exception();
        archive_set_error(a, EIO, "stream read failed");
        return -1;
    }
}

TarReader::TarReader(layer::Reader& in, std::string what, Input input)
    : in_(in), what_(std::move(what)), buf_(1 << 18), a_(archive_read_new()) {
    if (!a_) throw Error(Errc::internal, "cannot create a tar reader");
    archive_read_support_format_tar(a_);
    archive_read_support_format_gnutar(a_);
    archive_read_support_filter_none(a_);
    if (input == Input::tar_or_compressed) {
        archive_read_support_filter_gzip(a_);
        archive_read_support_filter_bzip2(a_);
        archive_read_support_filter_xz(a_);
        archive_read_support_filter_lzma(a_);
        archive_read_support_filter_zstd(a_);
    }
    if (archive_read_open(a_, this, nullptr, read_cb, nullptr) != ARCHIVE_OK) {
        // a constructor that throws runs no destructor: free the reader here (found by
        // fuzz/fuzz_analyze_layer: an empty blob leaked it on every refusal)
        try {
            fail();
        } catch (...) {
            archive_read_free(a_);
            a_ = nullptr;
            throw;
        }
    }
}

TarReader::~TarReader() {
    archive_read_free(a_);
}

void TarReader::fail() {
    if (error_) std::rethrow_exception(error_);
    const char* msg = archive_error_string(a_);
    throw Error(Errc::invalid,
                what_ + ": corrupt or truncated tar data (" +
                    (msg ? msg : "unknown libarchive error") + ")",
                "the layer is damaged; fetch or export the image again");
}

archive_entry* TarReader::next() {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a_, &e);
    if (rc == ARCHIVE_EOF) return nullptr;
    if (!error_) layer::check_tar_header(a_, rc, what_);
    if (rc < ARCHIVE_WARN) {
        if (!any_ && !error_ && archive_errno(a_) == EILSEQ)
            throw Error(Errc::invalid, what_ + " is not a tar archive",
                        "layers must be tar streams (plain, gzip or zstd)");
        fail();
    }
    any_ = true;
    return e;
}

bool TarReader::block(const void*& data, std::size_t& size, std::int64_t& offset) {
    la_int64_t off = 0;
    int rc = archive_read_data_block(a_, &data, &size, &off);
    if (rc == ARCHIVE_EOF) return false;
    if (rc < ARCHIVE_WARN) fail();
    offset = off;
    return true;
}

void TarReader::skip() {
    if (archive_read_data_skip(a_) < ARCHIVE_WARN) fail();
}

} // namespace gantry::layer
