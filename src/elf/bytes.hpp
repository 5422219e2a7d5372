// elf/bytes: bounded reads over a byte range held in memory, in either byte order. Every accessor
// fails (has/rd return false, get returns 0, sub returns an empty range) instead of reading outside
// [0, n): the bytes are untrusted (image files, driver libraries, fat binaries). What every ELF
// reader of elf/ is built on, and what the vendors' fat-binary readers use for their own formats.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace gantry::elf {

struct Bytes {
    const unsigned char* p = nullptr;
    std::uint64_t n = 0;
    bool little = true; // the byte order of get/rd (ELF's EI_DATA; the formats inside are LE)

    static Bytes of(std::string_view s, bool little_endian = true) {
        return {reinterpret_cast<const unsigned char*>(s.data()), s.size(), little_endian};
    }
    std::string_view view() const { return {reinterpret_cast<const char*>(p), n}; }

    bool has(std::uint64_t off, std::uint64_t len) const { return off <= n && len <= n - off; }
    template <typename T>
    bool rd(std::uint64_t off, T& out) const {
        if (!has(off, sizeof(T))) return false;
        std::memcpy(&out, p + off, sizeof(T));
        if (sizeof(T) > 1 && little != (std::endian::native == std::endian::little)) {
            unsigned char b[sizeof(T)];
            std::memcpy(b, &out, sizeof(T));
            for (std::size_t i = 0; i < sizeof(T) / 2; ++i) {
                unsigned char t = b[i];
                b[i] = b[sizeof(T) - 1 - i];
                b[sizeof(T) - 1 - i] = t;
            }
            std::memcpy(&out, b, sizeof(T));
        }
        return true;
    }
    template <typename T>
    T get(std::uint64_t off) const { // 0 when out of range (for callers that checked has())
        T v{};
        rd(off, v);
        return v;
    }
    // [off, off + len), or an empty range when it does not lie inside.
    Bytes sub(std::uint64_t off, std::uint64_t len) const {
        if (!has(off, len)) return {nullptr, 0, little};
        return {p + off, len, little};
    }
    // [off, off + len) clipped to the end (empty past it): reads beyond the clip return 0, as
    // reads at the same offsets of the whole range would.
    Bytes clip(std::uint64_t off, std::uint64_t len) const {
        if (off >= n) return {nullptr, 0, little};
        return {p + off, len < n - off ? len : n - off, little};
    }
};

} // namespace gantry::elf
