#include "lazy/squashfs_block_digests.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"

#include <cstring>

namespace gantry::lazy {

namespace {

constexpr std::string_view kTableMagic = "GSQBDG01";
constexpr std::size_t kTableHeader = 24;

std::uint64_t table_get_le(std::string_view s, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
}

void table_put_le(std::string& s, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

int table_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    return c - 'a' + 10; // Sha256 writes lower-case hex
}

std::string table_sha256(std::string_view data) {
    std::string hex = Sha256::hex_of(data), raw(32, '\0');
    for (std::size_t i = 0; i < 32; ++i)
        raw[i] =
            static_cast<char>(table_hex_value(hex[2 * i]) * 16 + table_hex_value(hex[2 * i + 1]));
    return raw;
}

} // namespace

BlockDigests BlockDigests::parse(std::string_view text, std::uint64_t blob_size,
                                 const std::string& what) {
    auto bad = [&](const std::string& why) {
        return Error(Errc::invalid, what + ": the block-digest table is refused: " + why,
                     "push the image again with gantry push --format squashfs");
    };
    if (text.size() > kMaxBlockDigestsBytes)
        throw bad("it is " + std::to_string(text.size()) + " bytes, more than the " +
                  std::to_string(kMaxBlockDigestsBytes) + " gantry reads");
    if (text.size() < kTableHeader || text.substr(0, kTableMagic.size()) != kTableMagic)
        throw bad("it does not start with the " + std::string(kTableMagic) + " header");
    BlockDigests t;
    std::uint64_t range = table_get_le(text, 8, 4);
    if (range < (64u << 10) || range > (16u << 20) || (range & (range - 1)) != 0)
        throw bad("its range size " + std::to_string(range) +
                  " is not a power of two from 64 KiB to 16 MiB");
    if (table_get_le(text, 12, 4) != 0) throw bad("its reserved field is not 0");
    t.range_ = static_cast<std::uint32_t>(range);
    t.blob_size_ = table_get_le(text, 16, 8);
    if (t.blob_size_ != blob_size)
        throw bad("it describes a blob of " + std::to_string(t.blob_size_) +
                  " bytes, the manifest's is " + std::to_string(blob_size));
    std::uint64_t count = blob_size / range + (blob_size % range != 0);
    if ((text.size() - kTableHeader) % 32 != 0 || (text.size() - kTableHeader) / 32 != count)
        throw bad("it holds " + std::to_string(text.size() - kTableHeader) +
                  " bytes of digests, the blob's " + std::to_string(count) + " ranges need " +
                  std::to_string(count * 32));
    t.digests_ = std::string(text.substr(kTableHeader));
    return t;
}

bool BlockDigests::matches(std::uint64_t i, std::string_view data) const {
    if (i >= count()) return false;
    return table_sha256(data) == std::string_view(digests_).substr(i * 32, 32);
}

std::string BlockDigests::digest_of(std::uint64_t i) const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256:";
    for (std::size_t k = 0; k < 32 && i < count(); ++k) {
        auto b = static_cast<unsigned char>(digests_[i * 32 + k]);
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

void BlockDigests::Writer::update(const char* data, std::size_t n) {
    size_ += n;
    while (n > 0) {
        std::size_t take = std::min<std::size_t>(n, range_ - pending_.size());
        pending_.append(data, take);
        data += take;
        n -= take;
        if (pending_.size() == range_) {
            digests_ += table_sha256(pending_);
            pending_.clear();
        }
    }
}

std::string BlockDigests::Writer::finish() {
    if (!pending_.empty()) digests_ += table_sha256(pending_);
    pending_.clear();
    std::string out(kTableMagic);
    table_put_le(out, range_, 4);
    table_put_le(out, 0, 4);
    table_put_le(out, size_, 8);
    return out + digests_;
}

} // namespace gantry::lazy
