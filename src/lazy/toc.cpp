#include "lazy/toc.hpp"

#include "layer/igzip.hpp"
#include "lazy/toc_parser.hpp"
#include "lazy/zstd_chunked_toc.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <charconv>
#include <memory>

namespace gantry::lazy {

namespace {

[[noreturn]] void refuse(const std::string& what, const std::string& why) {
    refuse_toc(TocFormat::estargz, what, why);
}

std::uint64_t parse_hex16(std::string_view s, bool& ok) {
    std::uint64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    ok = r.ec == std::errc() && r.ptr == s.data() + s.size() && s.size() == 16;
    return v;
}

} // namespace

bool parse_footer(std::string_view tail, Footer& out) {
    // eStargz: gzip header with FEXTRA, XLEN 26, subfield 'S','G' of 22 bytes "%016xSTARGZ",
    // then an empty stored deflate block and CRC32/ISIZE (both 0)
    auto gzip_header_ok = [](std::string_view h) {
        return static_cast<unsigned char>(h[0]) == 0x1f &&
               static_cast<unsigned char>(h[1]) == 0x8b && h[2] == 8 && (h[3] & 4) != 0;
    };
    if (tail.size() >= kFooterSize) {
        std::string_view f = tail.substr(tail.size() - kFooterSize);
        if (gzip_header_ok(f) && f[10] == 26 && f[11] == 0 && f[12] == 'S' && f[13] == 'G' &&
            f[14] == 22 && f[15] == 0 && f.substr(32, 6) == "STARGZ") {
            bool ok = false;
            out.toc_offset = parse_hex16(f.substr(16, 16), ok);
            out.size = kFooterSize;
            if (ok) return true;
        }
    }
    if (tail.size() >= kLegacyFooterSize) { // XLEN 22, the 22 bytes without a subfield header
        std::string_view f = tail.substr(tail.size() - kLegacyFooterSize);
        if (gzip_header_ok(f) && f[10] == 22 && f[11] == 0 && f.substr(28, 6) == "STARGZ") {
            bool ok = false;
            out.toc_offset = parse_hex16(f.substr(12, 16), ok);
            out.size = kLegacyFooterSize;
            if (ok) return true;
        }
    }
    return false;
}

std::string footer_bytes(std::uint64_t toc_offset) {
    char sub[23];
    std::snprintf(sub, sizeof sub, "%016llxSTARGZ", static_cast<unsigned long long>(toc_offset));
    std::string f;
    f += "\x1f\x8b\x08\x04";           // magic, deflate, FEXTRA
    f.append(4, '\0');                 // mtime
    f += '\0';                         // XFL
    f += '\xff';                       // OS: unknown (as Go's gzip writes it)
    f += '\x1a', f += '\0';            // XLEN 26
    f += "SG", f += '\x16', f += '\0'; // subfield SG, 22 bytes
    f.append(sub, 22);
    f += std::string("\x01\x00\x00\xff\xff", 5); // final stored block, empty
    f.append(8, '\0');                           // CRC32, ISIZE
    return f;
}

std::string Toc::unpack_toc(std::string_view compressed, const std::string& what) {
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_memory(a.get(), compressed.data(), compressed.size()) != ARCHIVE_OK)
        refuse(what, "is not a gzip tar");
    archive_entry* e = nullptr;
    if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
        refuse(what, std::string("cannot be read: ") + archive_error_string(a.get()));
    const char* name = archive_entry_pathname(e);
    if (!name || std::string_view(name) != kTocName)
        refuse(what, std::string("is missing: the entry at its offset is not ") + kTocName);
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) < 0 ||
        static_cast<std::uint64_t>(archive_entry_size(e)) > kMaxTocBytes)
        refuse(what, "is over " + std::to_string(kMaxTocBytes >> 20) + " MiB");
    std::string out(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    std::size_t got = 0;
    while (got < out.size()) {
        la_ssize_t n = archive_read_data(a.get(), out.data() + got, out.size() - got);
        if (n <= 0) refuse(what, "is truncated");
        got += static_cast<std::size_t>(n);
    }
    return out;
}

Toc Toc::read(const ReadAt& read, std::uint64_t blob_size, const std::string& toc_digest,
              const std::string& what, std::string* json_out, TocBudget* budget) {
    if (blob_size < kLegacyFooterSize) refuse(what, "is missing: the blob is too small");
    std::size_t tail_len =
        static_cast<std::size_t>(std::min<std::uint64_t>(blob_size, kFooterSize));
    std::string tail = read(blob_size - tail_len, tail_len);
    Footer f;
    if (tail.size() != tail_len || !parse_footer(tail, f))
        refuse(what, "is missing: the blob does not end in an eStargz footer");
    if (f.toc_offset >= blob_size - f.size)
        refuse(what, "offset " + std::to_string(f.toc_offset) + " is past the blob");
    std::uint64_t len = blob_size - f.size - f.toc_offset;
    if (len > kMaxTocBytes) refuse(what, "is over " + std::to_string(kMaxTocBytes >> 20) + " MiB");
    std::string compressed = read(f.toc_offset, static_cast<std::size_t>(len));
    if (compressed.size() != len) refuse(what, "is truncated");
    std::string text = unpack_toc(compressed, what);
    std::string got = "sha256:" + Sha256::hex_of(text);
    if (got != toc_digest)
        refuse(what, "has digest " + got + " but the manifest's " + kTocDigestAnnotation +
                         " says " + toc_digest);
    Toc t = parse(text, f.toc_offset, what, TocFormat::estargz, budget);
    t.json_digest = got;
    if (json_out) *json_out = std::move(text);
    return t;
}

void verify_chunk(std::string_view bytes, const Chunk& chunk, const std::string& what) {
    std::string got = "sha256:" + Sha256::hex_of(bytes);
    if (got != chunk.digest)
        throw Error(Errc::invalid,
                    what + ": the chunk at blob offset " + std::to_string(chunk.offset) +
                        " has digest " + got + ", the verified table of contents says " +
                        chunk.digest,
                    "the registry served altered data; nothing of it was used");
}

// gzip through ISA-L's igzip (layer/igzip.hpp), as a pull inflates its layers: zlib's inflate
// took 1.3-3 times its CPU here (160 MB gzip -6 of text: 1.8-3.1x, of CUDA libraries: 1.8-2.1x,
// of near-incompressible data: 1.3x), and a lazy start inflates what it reads. The members are
// read one after the other (an eStargz chunk may sit inside a member whose first bytes are
// other files') until INNER_OFFSET + SIZE bytes are out; a member's trailer (its CRC) is checked
// when it is reached, the chunk's bytes always against the digest.
std::string inflate_chunk(std::string_view compressed, const Chunk& chunk,
                          const std::string& what) {
    if (chunk.codec != Codec::gzip) return decode_zstd_chunk(compressed, chunk, what);
    const auto& igzip = layer::igzip::api();
    // 87 KB, once per thread that inflates, not per chunk; on the heap: a thread_local object
    // of that size is in every thread's static TLS block, zeroed by ld.so at every start of the
    // binary (22 page faults of each `gantry run`) and by every thread that is created
    thread_local std::unique_ptr<inflate_state> state;
    if (!state) state = std::make_unique<inflate_state>();
    inflate_state& st = *state;
    const std::uint64_t want = chunk.inner_offset + chunk.size;
    std::string out(static_cast<std::size_t>(want), '\0');
    auto* in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(compressed.data()));
    std::size_t used = 0, got = 0;
    bool ok = true;
    while (ok && got < want && used < compressed.size()) {
        igzip.inflate_init(&st);
        st.crc_flag = ISAL_GZIP_NO_HDR_VER; // the header read apart, the trailer verified
        isal_gzip_header header{};
        igzip.gzip_header_init(&header);
        st.next_in = in + used;
        st.avail_in = static_cast<std::uint32_t>(compressed.size() - used);
        st.next_out = reinterpret_cast<std::uint8_t*>(out.data()) + got;
        st.avail_out = static_cast<std::uint32_t>(want - got);
        ok = igzip.read_gzip_header(&st, &header) == ISAL_DECOMP_OK &&
             igzip.inflate(&st) == ISAL_DECOMP_OK;
        got = static_cast<std::size_t>(want - st.avail_out);
        // a member that did not end filled the output (done) or ran out of input (short)
        if (st.block_state != ISAL_BLOCK_FINISH) break;
        used = compressed.size() - st.avail_in;
    }
    if (!ok || got != want)
        throw Error(Errc::invalid,
                    what + ": the chunk at blob offset " + std::to_string(chunk.offset) +
                        " does not inflate to the " + std::to_string(chunk.size) +
                        " bytes the verified table of contents gives it (digest " + chunk.digest +
                        ")",
                    "the registry served altered or damaged data; nothing of it was used");
    out.erase(0, static_cast<std::size_t>(chunk.inner_offset));
    verify_chunk(out, chunk, what);
    return out;
}

} // namespace gantry::lazy
