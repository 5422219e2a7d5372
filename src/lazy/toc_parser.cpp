#include "lazy/toc_parser.hpp"

#include "lazy/toc_budget.hpp"
#include "lazy/toc_builder.hpp"
#include "util/error.hpp"

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

namespace gantry::lazy {

using nlohmann::json;

void refuse_toc(TocFormat format, const std::string& what, const std::string& why) {
    const bool zstd = format == TocFormat::zstd_chunked;
    throw Error(
        Errc::invalid,
        what +
            (zstd ? ": the zstd:chunked table of contents " : ": the eStargz table of contents ") +
            why,
        std::string("the image was damaged or altered; pull it without --lazy, or push it "
                    "again with gantry push --compression ") +
            (zstd ? "zstd:chunked" : "estargz"));
}

namespace {

using Kind = TocValue::Kind;

// nlohmann::json's SAX handler for a TOC: the levels are the document (0), its object (1), the
// `entries` array (2), an entry (3) and an entry's `xattrs` (4); a value nothing reads is skipped
// whole (SKIP_ counts the arrays and objects open inside it).
class Reader {
  public:
    Reader(Toc& t, std::uint64_t toc_offset, const std::string& what, TocFormat format,
           TocBudget* budget)
        : t_(t), toc_offset_(toc_offset), what_(what), format_(format), budget_(budget),
          builder_(std::in_place, t, toc_offset, what, format, budget) {}

    // nlohmann::json_sax
    bool null() { return scalar(Kind::null); }
    bool boolean(bool b) {
        if (TocValue* v = target(Kind::boolean)) v->flag = b;
        return true;
    }
    bool number_integer(json::number_integer_t n) {
        if (TocValue* v = target(Kind::negative)) v->negative = n;
        return true;
    }
    bool number_unsigned(json::number_unsigned_t n) {
        if (TocValue* v = target(Kind::whole)) v->whole = n;
        return true;
    }
    bool number_float(json::number_float_t n, const std::string&) {
        if (TocValue* v = target(Kind::real)) v->real = n;
        return true;
    }
    bool string(std::string& s) {
        if (TocValue* v = target(Kind::string)) v->text.swap(s); // the parser clears S next
        return true;
    }
    bool binary(json::binary_t&) { return true; } // not in JSON text
    bool start_object(std::size_t) { return open(Kind::object); }
    bool start_array(std::size_t) { return open(Kind::array); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(std::string& k);
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        return false;
    }

    void finish(bool parsed);

  private:
    enum class TopKey : std::uint8_t { version, entries, tar_split_digest, other };
    enum class Entries : std::uint8_t { absent, array, not_array };

    bool scalar(Kind k) {
        target(k);
        return true;
    }
    TocValue* target(Kind k); // where a scalar of kind K at this place goes (null: nowhere)
    bool open(Kind k);
    bool close();
    void skip() { skip_ = 1; }
    void not_an_object();
    void end_entry();

    Toc& t_;
    std::uint64_t toc_offset_;
    const std::string& what_;
    TocFormat format_;
    TocBudget* budget_;
    std::optional<TocBuilder> builder_;
    int level_ = 0;
    std::size_t skip_ = 0;
    bool object_ = false; // the document is an object
    TopKey top_key_ = TopKey::other;
    TocValue version_, tar_split_digest_;
    Entries entries_ = Entries::absent;
    std::size_t count_ = 0;          // entries in the (last) `entries` array
    std::exception_ptr refused_;     // the first entry refused: no more are built
    TocEntry entry_;                 // the entry being read, its buffers reused
    TocField field_ = kUnknownField; // the entry's key whose value comes next
    std::string xattr_key_;          // in an `xattrs` object, the key whose value comes next
};

bool Reader::key(std::string& k) {
    if (skip_ > 0) return true;
    if (level_ == 1) {
        top_key_ = k == "version"          ? TopKey::version
                   : k == "entries"        ? TopKey::entries
                   : k == "tarSplitDigest" ? TopKey::tar_split_digest
                                           : TopKey::other;
    } else if (level_ == 3) {
        field_ = toc_field(k);
        if (field_ == kXattrs) entry_.clear_xattrs(); // the last `xattrs` counts
    } else if (level_ == 4) {
        xattr_key_.swap(k);
    }
    return true;
}

TocValue* Reader::target(Kind k) {
    TocValue* v = nullptr;
    if (skip_ > 0) return nullptr;
    switch (level_) {
    case 0:
        object_ = false;
        return nullptr;
    case 1:
        if (top_key_ == TopKey::version) v = &version_;
        if (top_key_ == TopKey::tar_split_digest) v = &tar_split_digest_;
        if (top_key_ == TopKey::entries) entries_ = Entries::not_array;
        break;
    case 2:
        not_an_object();
        return nullptr;
    case 3:
        if (field_ == kXattrs) {
            entry_.xattrs = k;
            v = &entry_.xattr_scalar;
        } else if (field_ != kUnknownField) {
            v = &entry_.fields[field_];
        }
        break;
    default:
        v = entry_.xattrs == Kind::object ? &entry_.xattr_object[xattr_key_]
                                          : &entry_.xattr_array.emplace_back();
    }
    if (v) v->kind = k;
    return v;
}

bool Reader::open(Kind k) {
    if (skip_ > 0) {
        ++skip_;
        return true;
    }
    const bool array = k == Kind::array;
    switch (level_) {
    case 0:
        object_ = !array;
        if (array)
            skip();
        else
            level_ = 1;
        return true;
    case 1:
        if (top_key_ == TopKey::entries && array) { // the last `entries` counts: start again
            entries_ = Entries::array;
            count_ = 0;
            refused_ = nullptr;
            if (budget_) budget_->refund(builder_->charged()); // that tree is dropped
            builder_.reset();
            builder_.emplace(t_, toc_offset_, what_, format_, budget_);
            level_ = 2;
            return true;
        }
        target(k); // the kind only
        skip();
        return true;
    case 2:
        if (array) {
            not_an_object();
            skip();
        } else {
            ++count_;
            entry_.clear();
            field_ = kUnknownField;
            level_ = 3;
        }
        return true;
    case 3:
        if (field_ == kXattrs) {
            entry_.xattrs = k;
            level_ = 4;
            return true;
        }
        target(k);
        skip();
        return true;
    default:
        target(k);
        skip();
        return true;
    }
}

bool Reader::close() {
    if (skip_ > 0) {
        --skip_;
        return true;
    }
    if (level_ == 3) end_entry();
    --level_;
    return true;
}

// an array element that is not an object: refused where it comes, as the DOM reader did
void Reader::not_an_object() {
    ++count_;
    if (refused_ || count_ > kMaxEntries) return;
    try {
        builder_->refuse("has an entry that is not an object");
    } catch (const Error&) {
        refused_ = std::current_exception();
    }
}

void Reader::end_entry() {
    if (refused_ || count_ > kMaxEntries) return; // refused at the end
    try {
        builder_->add(entry_);
    } catch (const Error&) {
        refused_ = std::current_exception();
    }
}

// the refusals in the DOM reader's order: syntax, the document, version, entries, an entry
void Reader::finish(bool parsed) {
    if (!parsed || !object_) refuse_toc(format_, what_, "is not JSON");
    if (builder_->whole(version_, "version", 0, UINT32_MAX) != 1)
        builder_->refuse("is not version 1");
    if (entries_ == Entries::absent)
        builder_->refuse("has a field of the wrong type (key 'entries' not found)");
    if (entries_ == Entries::not_array) builder_->refuse("has no entries array");
    if (count_ > kMaxEntries)
        builder_->refuse("has more than " + std::to_string(kMaxEntries) + " entries");
    if (refused_) std::rethrow_exception(refused_);
    builder_->finish();
    if (tar_split_digest_.kind == Kind::string) t_.tar_split_digest = tar_split_digest_.text;
}

} // namespace

Toc Toc::parse(std::string_view text, std::uint64_t toc_offset, const std::string& what,
               TocFormat format, TocBudget* budget) {
    Toc t;
    Reader r(t, toc_offset, what, format, budget);
    bool parsed = json::sax_parse(text.begin(), text.end(), &r);
    r.finish(parsed);
    return t;
}

} // namespace gantry::lazy
