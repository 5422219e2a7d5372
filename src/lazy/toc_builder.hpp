// lazy/toc_builder: the tree a table of contents' entries make, each entry checked as it comes
// (lazy/toc_parser.hpp reads the JSON and hands it the entries). It owns the checks of
// lazy/toc.hpp's header on entries: the fields' types, names (absolute, `..`, NUL, empty
// components or ones over 255 bytes), duplicates, unknown types, hard links to nothing before
// them, chunk order, overlap, gaps and offsets past the TOC, two chunks at one blob offset (and
// inner offset) with different digests, zstd:chunked's chunkType/endOffset/digest, the entry
// limit, and at the end every chunk's size and sha256 digest.
#pragma once

#include "lazy/toc.hpp"
#include "lazy/toc_budget.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::lazy {

// A value as the JSON had it: a scalar, or only the kind of an array or object.
struct TocValue {
    enum class Kind : std::uint8_t {
        absent,
        null,
        boolean,
        whole,    // a JSON integer >= 0 (nlohmann: number_unsigned)
        negative, // a JSON integer < 0, or -0 (number_integer)
        real,     // anything else JSON calls a number, integers past uint64 too
        string,
        array,
        object
    };
    Kind kind = Kind::absent;
    bool flag = false;
    std::uint64_t whole = 0;
    std::int64_t negative = 0;
    double real = 0;
    std::string text; // its capacity is kept for the next entry's

    const char* type_name() const; // as nlohmann names it
    std::string dump() const;      // as nlohmann writes it; an array or object as [...] or {...}
};

// The entry fields the checks read; any other is skipped.
enum TocField : std::uint8_t {
    kType,
    kName,
    kOffset,
    kLinkName,
    kInnerOffset,
    kChunkOffset,
    kChunkSize,
    kChunkDigest,
    kChunkType,
    kMode,
    kUid,
    kGid,
    kModtime,
    kDevMajor,
    kDevMinor,
    kSize,
    kDigest,
    kEndOffset,
    kFieldCount,
    kXattrs = kFieldCount,
    kUnknownField
};
TocField toc_field(std::string_view key);

// One entry's fields, each the last the JSON gave for its key.
struct TocEntry {
    std::array<TocValue, kFieldCount> fields;
    // `xattrs`: absent or null is none; an object's items by sorted key (the last of a key
    // given twice), an array's by index ("0", "1", ...), a scalar as one item named ""
    TocValue::Kind xattrs = TocValue::Kind::absent;
    std::map<std::string, TocValue, std::less<>> xattr_object;
    std::vector<TocValue> xattr_array;
    TocValue xattr_scalar;

    void clear();
    void clear_xattrs();
};

// NODE's path in T (a hard link's first name), for messages: a walk of the whole tree.
std::string path_of(const Toc& t, std::uint32_t node);

class TocBuilder {
  public:
    // Starts T (any previous tree dropped) as the tree of a TOC at TOC_OFFSET.
    // BUDGET (may be null) is charged for what the tree holds, as it is added.
    TocBuilder(Toc& t, std::uint64_t toc_offset, const std::string& what, TocFormat format,
               TocBudget* budget = nullptr);

    void add(const TocEntry& e); // Error(invalid) when E may not come here
    void finish();               // after the last entry: the chunks' ends and checks
    std::uint64_t charged() const { return charged_; } // to the budget, by this tree

    [[noreturn]] void refuse(const std::string& why) const;
    // V (KEY's) as a whole number in 0..MAX, FALLBACK when absent; refused otherwise
    std::uint64_t whole(const TocValue& v, const char* key, std::uint64_t fallback,
                        std::uint64_t max) const;

  private:
    const std::string& string_at(const TocEntry& e, TocField f) const;
    const std::string& string_of(const TocValue& v, const char* key) const;
    std::string_view string_or_empty(const TocEntry& e, TocField f) const;
    std::uint64_t u64(const TocEntry& e, TocField f) const;
    std::uint32_t u32(const TocEntry& e, TocField f, std::uint32_t fallback) const;
    Codec chunk_codec(const TocEntry& e) const;
    void split_name(std::string_view name, std::vector<std::string_view>& parts) const;
    std::uint32_t parent_of(const std::vector<std::string_view>& parts);
    std::uint32_t add_node(std::uint32_t dir, std::string_view name, mode_t mode);
    void add_xattrs(const TocEntry& e, Node& n, const std::string& name) const;
    void check_covered() const;
    Chunk& add_chunk(const TocEntry& e, std::vector<Chunk>& chunks, std::uint64_t offset);
    // the budget's charges: an entry named NAME, a chunk, a link or whiteout named NAME, bytes
    void charge_entry(std::string_view name);
    void charge_chunk();
    void charge_link(std::string_view name);
    void charge_bytes(std::uint64_t n);
    // NODE's last chunk, just added by the entry NAME
    void check_shared_offset(std::uint32_t node, const std::string& name);

    Toc& t_;
    const std::string& what_;
    TocFormat format_;
    bool zstd_;
    std::uint64_t toc_offset_;
    TocBudget* budget_;
    std::uint64_t charged_ = 0;
    std::uint32_t last_reg_ = 0;    // the regular file "chunk" entries continue
    std::uint64_t last_offset_ = 0; // offsets never go back
    // chunks whose end is not known yet (node, chunk): the end is where the next larger offset
    // starts (or the TOC), as stargz and containers/storage derive it
    std::vector<std::pair<std::uint32_t, std::size_t>> open_chunks_;
    // the first chunk at last_offset_ of each inner offset (node, chunk): the chunks at one
    // place must name one digest
    std::map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> at_offset_;
    // zstd:chunked: a regular file's compressed bytes end at its `endOffset`
    std::vector<std::pair<std::uint32_t, std::uint64_t>> end_offsets_;
    std::vector<std::string_view> parts_, target_; // reused
};

} // namespace gantry::lazy
