#include "util/nettle.hpp"

#include "util/library.hpp"

namespace gantry::nettle {

namespace {

Api load() {
    Library lib("libnettle.so.8", "hashing needs Nettle",
                "install Nettle 3.6 or newer (Debian/Ubuntu: apt-get install libnettle8; "
                "Fedora: dnf install nettle)");
    Api a;
    lib.bind(a.sha256_init, "nettle_sha256_init");
    lib.bind(a.sha256_update, "nettle_sha256_update");
    lib.bind(a.sha256_digest, "nettle_sha256_digest");
    lib.bind(a.sha224_init, "nettle_sha224_init");
    lib.bind(a.sha224_digest, "nettle_sha224_digest");
    lib.bind(a.sha512_init, "nettle_sha512_init");
    lib.bind(a.sha512_update, "nettle_sha512_update");
    lib.bind(a.sha512_digest, "nettle_sha512_digest");
    lib.bind(a.sha384_init, "nettle_sha384_init");
    lib.bind(a.sha384_digest, "nettle_sha384_digest");
    lib.bind(a.sha512_224_init, "nettle_sha512_224_init");
    lib.bind(a.sha512_224_digest, "nettle_sha512_224_digest");
    lib.bind(a.sha512_256_init, "nettle_sha512_256_init");
    lib.bind(a.sha512_256_digest, "nettle_sha512_256_digest");
    lib.bind(a.md5_init, "nettle_md5_init");
    lib.bind(a.md5_update, "nettle_md5_update");
    lib.bind(a.md5_digest, "nettle_md5_digest");
    lib.bind(a.base64_encode_raw, "nettle_base64_encode_raw");
    lib.bind(a.base64_decode_init, "nettle_base64_decode_init");
    lib.bind(a.base64_decode_update, "nettle_base64_decode_update");
    lib.bind(a.base64_decode_final, "nettle_base64_decode_final");
    return a;
}

} // namespace

const Api& api() {
    static const Api loaded = load(); // a throw leaves it unset: the next call tries again
    return loaded;
}

std::string base64_encode(const std::string& s) {
    std::string out(BASE64_ENCODE_RAW_LENGTH(s.size()), '\0');
    nettle::api().base64_encode_raw(out.data(), s.size(),
                                    reinterpret_cast<const uint8_t*>(s.data()));
    return out;
}

std::optional<std::string> base64_decode(const std::string& s) {
    const auto& lib = nettle::api();
    base64_decode_ctx ctx;
    lib.base64_decode_init(&ctx);
    std::string out(BASE64_DECODE_LENGTH(s.size()), '\0');
    std::size_t n = out.size();
    if (!lib.base64_decode_update(&ctx, &n, reinterpret_cast<uint8_t*>(out.data()), s.size(),
                                  s.data()) ||
        !lib.base64_decode_final(&ctx))
        return std::nullopt;
    out.resize(n);
    return out;
}

} // namespace gantry::nettle
