#include "analyze/scan.hpp"

#include "elf/dynamic.hpp"
#include "elf/headers.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "layer/tar_reader.hpp"
#include "util/error.hpp"
#include "util/spelling.hpp"
#include "util/zeros.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <elf.h>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <sys/mman.h>
#include <thread>
#include <utility>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 // Linux 5.14
#endif

namespace gantry::analyze {

const char* to_string(Kind k) {
    static constexpr text::Spelling<Kind> kinds[] = {
        {Kind::file, "file"},         {Kind::dir, "dir"},           {Kind::symlink, "symlink"},
        {Kind::hardlink, "hardlink"}, {Kind::whiteout, "whiteout"}, {Kind::opaque, "opaque"}};
    return text::word_for(kinds, k, "other");
}

namespace {

// Counts bytes, and hashes them only when asked to.
class Counter final : public layer::Reader {
  public:
    Counter(layer::Reader& src, bool hash) : src_(src), hash_(hash) {}
    std::size_t read(void* buf, std::size_t n) override {
        std::size_t got = src_.read(buf, n);
        count_ += got;
        if (hash_ && got) sha_.update(buf, got);
        return got;
    }
    std::uint64_t count() const { return count_; }
    std::string hex() { return hash_ ? sha_.hex_final() : std::string(); }

  private:
    layer::Reader& src_;
    bool hash_;
    Sha256 sha_;
    std::uint64_t count_ = 0;
};

// Decompression on a second thread: a producer reads the stream ahead into a ring of fixed
// slots (8 MiB, allocated once), read() hands them out in order. Each slot is one read of kChunk
// bytes, the size layer::TarReader asks for, so the consumer sees the very same sequence of chunks
// (and of errors: a producer exception is rethrown by read() once the chunks before it were
// consumed) as when reading src directly.
class ReadAhead final : public layer::Reader {
  public:
    static constexpr std::size_t kChunk = 1 << 18;
    static constexpr std::size_t kSlots = 32; // 8 MiB ahead: covers the inspection of a big ELF

    // idle: work for the producer while the slots are full (returns false when it has none).
    ReadAhead(layer::Reader& src, std::function<bool()> idle) : src_(src), idle_(std::move(idle)) {
        void* p = ::mmap(nullptr, kSlots * kChunk, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        ring_ = static_cast<char*>(p);
        try {
            len_.resize(kSlots);
            thread_ = std::thread([this] { produce(); });
        } catch (...) {
            ::munmap(ring_, kSlots * kChunk);
            throw;
        }
    }
    ~ReadAhead() override {
        {
            std::lock_guard lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
        ::munmap(ring_, kSlots * kChunk);
    }
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    std::size_t read(void* buf, std::size_t n) override {
        if (n == 0) return 0;
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return filled_ > 0 || done_; });
        if (filled_ == 0) {
            if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
            return 0;
        }
        std::size_t len = len_[head_];
        lk.unlock(); // the producer does not touch a filled slot
        std::size_t k = std::min(n, len - pos_);
        std::memcpy(buf, ring_ + head_ * kChunk + pos_, k);
        pos_ += k;
        if (pos_ == len) {
            pos_ = 0;
            head_ = (head_ + 1) % kSlots;
            lk.lock();
            --filled_;
            lk.unlock();
            cv_.notify_all();
        }
        return k;
    }

  private:
    void produce() {
        std::size_t tail = 0;
        try {
            for (;;) {
                {
                    std::unique_lock lk(m_);
                    while (filled_ == kSlots && !stop_) {
                        lk.unlock();
                        bool worked = idle_ && idle_();
                        lk.lock();
                        if (!worked) cv_.wait(lk, [&] { return filled_ < kSlots || stop_; });
                    }
                    if (stop_) return;
                }
                std::size_t& len = len_[tail];
                len = src_.read(ring_ + tail * kChunk, kChunk);
                if (len == 0) break;
                tail = (tail + 1) % kSlots;
                {
                    std::lock_guard lk(m_);
                    ++filled_;
                }
                cv_.notify_all();
            }
        } catch (...) {
            std::lock_guard lk(m_);
            error_ = std::current_exception();
        }
        {
            std::lock_guard lk(m_);
            done_ = true;
        }
        cv_.notify_all();
    }

    layer::Reader& src_;
    std::function<bool()> idle_;
    char* ring_ = nullptr;           // kSlots chunks
    std::vector<std::size_t> len_;   // bytes in each
    std::size_t head_ = 0, pos_ = 0; // consumer side
    std::mutex m_;
    std::condition_variable cv_;
    std::size_t filled_ = 0; // slots ready for the consumer (under m_)
    bool done_ = false, stop_ = false;
    std::exception_ptr error_;
    std::thread thread_; // last: started once everything above exists
};

// The ELF copy buffer: anonymous memory that grows with mremap (pages already touched stay, no
// new fault or zeroing for them). Fresh pages are this pass's largest cost after decompression
// (the kernel zeroes each one on its first touch), so the read-ahead thread populates them
// ahead of the copy when it has nothing else to do (populate_some). No MADV_HUGEPAGE: on a VM
// with free page reporting, 2 MiB pages are the ones handed back to the host, and a cold run
// took 1.6 s instead of 1.0 s (warm runs gained 0.15 s).
class ElfBuffer {
  public:
    ElfBuffer() = default;
    ElfBuffer(const ElfBuffer&) = delete;
    ElfBuffer& operator=(const ElfBuffer&) = delete;
    ~ElfBuffer() {
        if (p_) ::munmap(p_, cap_);
    }
    char* get() const { return static_cast<char*>(p_); }
    // Makes room for n bytes; get() changes. Only the scanning thread calls this.
    void reserve(std::size_t n) {
        std::lock_guard lk(m_);
        if (n > cap_) {
            std::size_t want = std::max(n, cap_ * 2);
            want = (want + kStep - 1) / kStep * kStep;
            void* q = p_ ? ::mremap(p_, cap_, want, MREMAP_MAYMOVE)
                         : ::mmap(nullptr, want, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (q == MAP_FAILED) throw std::bad_alloc();
            p_ = q;
            cap_ = want;
        }
        want_ = std::max(want_, n);
    }
    // Populates the next step of pages the buffer will need; false when there is none.
    bool populate_some() {
        std::lock_guard lk(m_);
        if (!populate_ || populated_ >= want_) return false;
        std::size_t len = std::min<std::size_t>(kPopulate, cap_ - populated_);
        if (::madvise(get() + populated_, len, MADV_POPULATE_WRITE) != 0) {
            populate_ = false; // kernel < 5.14: the copy faults the pages in
            return false;
        }
        populated_ += len;
        return true;
    }

  private:
    static constexpr std::size_t kStep = 2u << 20;
    static constexpr std::size_t kPopulate = 256u << 10; // short: the producer stays responsive
    std::mutex m_; // reserve (moves the mapping) against populate_some
    void* p_ = nullptr;
    std::size_t cap_ = 0, want_ = 0, populated_ = 0;
    bool populate_ = true;
};

inline std::uint64_t rotl(std::uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}
inline std::uint64_t load64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full;
inline std::uint64_t round(std::uint64_t acc, std::uint64_t in) {
    acc += in * kP2;
    return rotl(acc, 31) * kP1;
}

} // namespace

const std::map<std::string, std::uint64_t>& Entry::code_of(const std::string& format) const {
    static const std::map<std::string, std::uint64_t> none;
    auto it = device_code.find(format);
    return it == device_code.end() ? none : it->second;
}

void FastHash::update(const void* data, std::size_t n) {
    auto* p = static_cast<const unsigned char*>(data);
    total_ += n;
    if (tail_len_) {
        std::size_t k = std::min(n, sizeof tail_ - tail_len_);
        std::memcpy(tail_ + tail_len_, p, k);
        tail_len_ += k;
        p += k;
        n -= k;
        if (tail_len_ < sizeof tail_) return;
        for (int i = 0; i < 4; ++i) lanes_[i] = round(lanes_[i], load64(tail_ + 8 * i));
        tail_len_ = 0;
    }
    while (n >= 32) {
        lanes_[0] = round(lanes_[0], load64(p));
        lanes_[1] = round(lanes_[1], load64(p + 8));
        lanes_[2] = round(lanes_[2], load64(p + 16));
        lanes_[3] = round(lanes_[3], load64(p + 24));
        p += 32;
        n -= 32;
    }
    std::memcpy(tail_, p, n);
    tail_len_ = n;
}

std::uint64_t FastHash::final() const {
    std::uint64_t h = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) +
                      rotl(lanes_[3], 18) + total_;
    for (std::size_t i = 0; i < tail_len_; ++i) h = rotl(h ^ (tail_[i] * kP1), 11) * kP2;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP1;
    h ^= h >> 32;
    return h ? h : 1;
}

std::uint64_t elf_debug_bytes(std::string_view d) {
    // the headers decoded by elf/headers (ELF32 and ELF64); lenient: a section that lies about
    // its extent is not counted, a table that does not fit counts nothing
    elf::Bytes f = elf::Bytes::of(d);
    if (elf::identify(f) != elf::Ident::elf) return 0;
    elf::Header h = elf::header(f);
    if (!h.little) return 0; // big-endian images are not inspected
    if (d.size() < (h.is64 ? 64u : 52u)) return 0;
    const std::uint64_t entry = elf::section_header_size(h.is64);
    const std::uint64_t count = elf::section_count(f, h);
    const std::uint32_t names_at = elf::section_names_index(f, h);
    if (h.shoff == 0 || count == 0 || h.shentsize < entry || names_at >= count) return 0;
    if (h.shoff > d.size() || count > (d.size() - h.shoff) / h.shentsize) return 0;
    elf::SectionHeader names = elf::section_header(f, h, names_at);
    if (!f.has(names.offset, names.size)) return 0;
    std::string_view strtab = d.substr(names.offset, names.size);
    std::uint64_t total = 0;
    for (std::uint64_t i = 1; i < count; ++i) {
        elf::SectionHeader sh = elf::section_header(f, h, i);
        if (sh.name >= strtab.size() || sh.type == elf::sht_nobits) continue;
        std::string_view nm = strtab.substr(sh.name);
        nm = nm.substr(0, nm.find('\0'));
        if ((nm.starts_with(".debug_") || nm.starts_with(".zdebug_")) && f.has(sh.offset, sh.size))
            total += sh.size;
    }
    return total;
}

LayerScan scan_layer(layer::Reader& src, const ScanOptions& opt) {
    LayerScan r;
    Counter blob(src, opt.verify);
    layer::SniffedStream sniffed(blob, opt.what);
    r.compression = sniffed.compression();
    // Two threads when there are two CPUs: reading and decompressing the blob on one, tar
    // parsing, hashing and ELF inspection on this one.
    ElfBuffer buf; // reused: grows, never zero-filled (holes are)
    std::optional<ReadAhead> ahead;
    if (opt.threads == 2 || (opt.threads == 0 && std::thread::hardware_concurrency() > 1))
        ahead.emplace(sniffed.plain(), [&buf] { return buf.populate_some(); });
    Counter tar(ahead ? static_cast<layer::Reader&>(*ahead) : sniffed.plain(), opt.verify);
    {
        layer::TarReader in(tar, opt.what);
        std::string name;
        std::uint64_t kept_bytes = 0;
        while (archive_entry* ae = in.next()) {
            if (!layer::normalize_name(archive_entry_pathname(ae), name))
                throw Error(Errc::invalid,
                            opt.what + ": entry \"" + archive_entry_pathname(ae) +
                                "\" has a \"..\" component",
                            "the image contains a path that would escape its layer; do not use it");
            std::uint64_t size =
                archive_entry_size(ae) > 0 ? static_cast<std::uint64_t>(archive_entry_size(ae)) : 0;
            r.entry_bytes += size;
            if (name.empty()) {
                in.skip();
                continue;
            }
            Entry e;
            e.mode = archive_entry_mode(ae) & 07777;
            std::size_t slash = name.rfind('/');
            std::string_view base = slash == std::string::npos
                                        ? std::string_view(name)
                                        : std::string_view(name).substr(slash + 1);
            std::string dir = slash == std::string::npos ? std::string() : name.substr(0, slash);
            if (base.starts_with(".wh.")) {
                in.skip();
                if (base == ".wh..wh..opq") {
                    e.kind = Kind::opaque;
                    e.path = dir;
                } else if (base.starts_with(".wh..wh.")) {
                    continue; // aufs metadata (plinks): not part of the image's contents
                } else {
                    // ".wh.", ".wh.." and ".wh..." name no entry (they would become "dir/",
                    // "dir/." or "dir/.."): refused, as extraction refuses them (found by
                    // fuzz/fuzz_analyze_layer)
                    std::string_view target = base.substr(4);
                    if (target.empty() || target == "." || target == "..")
                        throw Error(Errc::invalid,
                                    opt.what + ": entry \"" + name +
                                        "\" is a malformed whiteout; refusing the layer",
                                    "the layer is damaged or hostile; do not use the image");
                    e.kind = Kind::whiteout;
                    e.path = dir.empty() ? std::string(target) : dir + "/" + std::string(target);
                }
                r.entries.push_back(std::move(e));
                continue;
            }
            e.path = name;
            e.size = size;
            if (const char* hl = archive_entry_hardlink(ae)) {
                e.kind = Kind::hardlink;
                if (!layer::normalize_name(hl, e.link)) e.link.clear();
                in.skip();
                r.entries.push_back(std::move(e));
                continue;
            }
            switch (archive_entry_filetype(ae)) {
            case AE_IFREG:
                e.kind = Kind::file;
                break;
            case AE_IFDIR:
                e.kind = Kind::dir;
                break;
            case AE_IFLNK:
                e.kind = Kind::symlink;
                if (const char* t = archive_entry_symlink(ae)) e.link = t;
                break;
            default:
                e.kind = Kind::other;
            }
            if (e.kind != Kind::file) {
                in.skip();
                r.entries.push_back(std::move(e));
                continue;
            }
            ++r.files;
            // package metadata and licence texts: kept (bounded) for the GPU vendor inventory
            gpu_components::TextRule tr;
            if (opt.keep_texts) tr = gpu_components::text_rule(name);
            std::optional<KeptText> kept;
            if (tr.kind != gpu_components::TextKind::none) {
                if (kept_bytes + std::min<std::uint64_t>(size, tr.limit) > opt.max_texts) {
                    ++r.texts_skipped;
                } else {
                    kept.emplace();
                    kept->entry = static_cast<std::uint32_t>(r.entries.size());
                    kept->kind = tr.kind;
                    kept->cut = size > tr.limit;
                    kept->text.reserve(std::min<std::uint64_t>(size, tr.limit));
                }
            }
            FastHash h;
            zeros::BlockCounter blocks;
            const void* data;
            std::size_t n;
            std::int64_t off;
            bool first = true, keep = false;
            std::size_t filled = 0;
            while (in.block(data, n, off)) {
                if (n == 0) continue;
                if (first) {
                    first = false;
                    e.elf = off == 0 && n >= 4 && std::memcmp(data, ELFMAG, SELFMAG) == 0;
                    keep = opt.inspect_elf && e.elf;
                    if (keep && size > opt.max_elf) keep = false;
                    if (keep) buf.reserve(size);
                }
                h.update(data, n);
                if (kept && off >= 0) {
                    auto o = static_cast<std::uint64_t>(off);
                    std::size_t limit = std::min<std::uint64_t>(size, tr.limit);
                    if (o > kept->text.size() && o < limit) kept->text.resize(o, '\0'); // a hole
                    if (o == kept->text.size() && o < limit)
                        kept->text.append(static_cast<const char*>(data),
                                          std::min<std::uint64_t>(n, limit - o));
                }
                if (off >= 0)
                    blocks.add(static_cast<const char*>(data), n, static_cast<std::uint64_t>(off));
                if (keep && off >= 0 && static_cast<std::uint64_t>(off) <= size &&
                    n <= size - static_cast<std::uint64_t>(off)) {
                    auto o = static_cast<std::size_t>(off);
                    if (o > filled) std::memset(buf.get() + filled, 0, o - filled); // a hole
                    std::memcpy(buf.get() + o, data, n);
                    filled = std::max(filled, o + n);
                }
            }
            if (keep && filled < size) std::memset(buf.get() + filled, 0, size - filled);
            if (size) e.hash = h.final();
            e.allocated = blocks.bytes();
            if (keep) {
                std::string_view view(buf.get(), size);
                e.debug = elf_debug_bytes(view);
                for (const device_code::Format* f : gpu_vendors::device_code_formats())
                    if (auto bytes = f->target_bytes(view, e.path); !bytes.empty())
                        e.device_code[std::string(f->name())] = std::move(bytes);
                try {
                    e.soname = elf::read(view).soname;
                } catch (const Error&) { // not a shared object gantry can read: no SONAME
                }
                if (opt.keep && !e.device_code.empty())
                    r.tailor.push_back(
                        plan_tailoring(view, *opt.keep, "/" + e.path,
                                       static_cast<std::uint32_t>(r.entries.size())));
            }
            if (kept) {
                kept_bytes += kept->text.size();
                r.texts.push_back(std::move(*kept));
            }
            r.entries.push_back(std::move(e));
        }
    }
    layer::drain(tar);
    ahead.reset(); // joins the producer: blob is this thread's again
    layer::drain(blob);
    r.blob_hex = blob.hex();
    r.blob_size = blob.count();
    r.diff_hex = tar.hex();
    r.tar_size = tar.count();
    return r;
}

} // namespace gantry::analyze
