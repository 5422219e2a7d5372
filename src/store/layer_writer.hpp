// store/layer_writer: writes a gzip-compressed tar layer into a store blob in one pass: tar
// (libarchive, pax) -> sha256 (the diffID) -> igzip deflate -> sha256 (the blob digest) -> the
// pending blob. Used by slim, gantry build's layer commits and COPY/ADD, and sqsh/load.
#pragma once

#include "layer/tar_reader.hpp"
#include "store/store.hpp"
#include "util/hash.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cstdint>
#include <isa-l/igzip_lib.h>
#include <string>
#include <vector>

namespace gantry::store {

// The tar's block size (libarchive's default, kept explicitly): the layer's compressed bytes
// depend on it, and recompress_layer (store/layer_tar.hpp) feeds igzip the same blocks.
inline constexpr std::size_t kLayerWriterBlock = 10240;

class LayerWriter {
  public:
    explicit LayerWriter(store::Store& store);
    ~LayerWriter();
    LayerWriter(const LayerWriter&) = delete;
    LayerWriter& operator=(const LayerWriter&) = delete;

    void header(archive_entry* e);
    void data(const void* p, std::size_t n);
    // Every entry IN has left, headers and data (a sparse file's holes as zeros), written as
    // they are; returns how many entries there were.
    std::uint64_t copy_entries(layer::TarReader& in);
    // Closes the tar, commits the blob; returns {blob digest, diff id}.
    std::pair<oci::Digest, oci::Digest> finish();
    std::uint64_t blob_size() const { return blob_size_; }
    std::uint64_t tar_size() const { return tar_size_; }

  private:
    [[noreturn]] void fail();
    void deflate(const void* p, std::size_t n, bool end);
    static la_ssize_t write_cb(struct archive*, void* self, const void* buf, std::size_t n);
    store::PendingBlob blob_;
    struct archive* a_ = nullptr;
    Sha256 tar_hash_, blob_hash_;
    std::uint64_t tar_size_ = 0, blob_size_ = 0;
    isal_zstream zs_{};
    std::vector<std::uint8_t> level_buf_, out_;
};

} // namespace gantry::store
