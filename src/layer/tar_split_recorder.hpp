// layer/tar_split_recorder: the tar-split of a layer recorded while it is extracted, from the same
// stream (no second read): a Reader that passes the uncompressed tar through unchanged and keeps
// every byte that is not a regular file's content (headers, PAX and GNU long-name records,
// padding, the end blocks) as segments, and each regular file's content by reference to the name
// the extractor wrote it under (layer/tar_split.hpp's lines, without crc64: the store checks the
// whole tar against its diff_id when it is rebuilt, store/layer_tar.hpp).
//
// A file's content is only referenced where the unpacked tree holds exactly those bytes under
// that name: a whiteout's content (the tree holds the whiteout), a PAX sparse file's map, an
// entry whose name is unusable, and anything after the end of the archive are kept verbatim in
// the segments instead (always exact, only larger). An entry that replaces a referenced file
// (the same name again, a whiteout of it, a non-directory over one of its parent directories),
// and an entry whose name passes through a symbolic or hard link an earlier entry of the layer
// made (the extractor follows it, so the entry lands under another name), make the record unusable:
// reproducible() is false and why() says which entry; the store then keeps the layer's compressed
// blob. Input the recorder cannot parse is passed through and kept verbatim from there on.
#pragma once

#include "layer/stream.hpp"
#include "layer/tar_split.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace gantry::layer {

class TarSplitRecorder final : public Reader {
  public:
    explicit TarSplitRecorder(Reader& src) : src_(src) {}
    std::size_t read(void* buf, std::size_t n) override;

    // After the stream's end: the JSON lines (layer/tar_split.hpp), positions from 0.
    std::string finish();
    bool reproducible() const { return why_.empty(); }
    const std::string& why() const { return why_; }
    std::uint64_t files() const { return files_; } // regular files referenced
    // After finish(): the lines of the files referenced, as tar_split::parse would give them
    // back (the importer checks the tree against them without parsing the lines it just wrote)
    std::vector<tar_split::Entry> take_file_lines() { return std::move(file_lines_); }
    // After finish(): the stream ended inside a file's content (not reproducible()).
    bool cut_in_file() const { return cut_in_file_; }

  private:
    enum class Mode : std::uint8_t { header, meta, payload, raw_data, padding, tail };
    void feed(const unsigned char* p, std::size_t n);
    void header_block();
    void meta_done();
    void start_entry(char type, std::uint64_t size, const std::string& name, bool sparse);
    void check_conflicts(const std::string& path, bool directory, bool referenced);
    void flush_segment();
    void unusable(const std::string& why) {
        if (why_.empty()) why_ = why;
    }

    Reader& src_;
    Mode mode_ = Mode::header;
    std::string block_;   // the header block being gathered
    std::string segment_; // raw bytes not yet written as a line
    std::string meta_;    // a PAX or GNU long-name record's data
    char meta_type_ = 0;
    std::uint64_t left_ = 0; // bytes left of the current data
    std::uint64_t pad_ = 0;  // padding after the data
    std::string pax_path_, gnu_path_;
    bool pax_size_set_ = false, pax_sparse_ = false;
    bool raw_rest_ = false; // every byte from here on kept verbatim
    std::uint64_t pax_size_ = 0;
    std::string lines_;
    std::uint64_t position_ = 0;
    std::uint64_t files_ = 0;
    std::vector<tar_split::Entry> file_lines_;
    std::set<std::string> referenced_; // paths whose content the tree must keep
    std::set<std::string> links_;      // paths of this layer's symbolic and hard links
    std::string why_;
    bool cut_in_file_ = false;
};

} // namespace gantry::layer
