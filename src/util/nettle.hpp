// Nettle (SHA-2, MD5, base64), loaded with dlopen("libnettle.so.8") on first use. Debian's build
// is "fat": a constructor probes the CPU (3 CPUID instructions, ~7 us each in a VM, where CPUID
// traps to the hypervisor) to pick SHA-NI code. Linked in, that ran at every start of the
// binary, `gantry run` included, which hashes nothing; loaded, it runs only in the commands
// that hash (load, pull, push, save, verify, slim...) or decode credentials.
#pragma once

#include <nettle/base64.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>
#include <optional>
#include <string>

namespace gantry::nettle {

struct Api {
    decltype(&::nettle_sha256_init) sha256_init = nullptr;
    decltype(&::nettle_sha256_update) sha256_update = nullptr;
    decltype(&::nettle_sha256_digest) sha256_digest = nullptr;
    // the rest of SHA-2: only where a format names its digest (a SIF signature's metadata)
    decltype(&::nettle_sha224_init) sha224_init = nullptr;
    decltype(&::nettle_sha224_digest) sha224_digest = nullptr;
    decltype(&::nettle_sha512_init) sha512_init = nullptr;
    decltype(&::nettle_sha512_update) sha512_update = nullptr;
    decltype(&::nettle_sha512_digest) sha512_digest = nullptr;
    decltype(&::nettle_sha384_init) sha384_init = nullptr;
    decltype(&::nettle_sha384_digest) sha384_digest = nullptr;
    decltype(&::nettle_sha512_224_init) sha512_224_init = nullptr;
    decltype(&::nettle_sha512_224_digest) sha512_224_digest = nullptr;
    decltype(&::nettle_sha512_256_init) sha512_256_init = nullptr;
    decltype(&::nettle_sha512_256_digest) sha512_256_digest = nullptr;
    // MD5: only where a format defines its checksum with it (clang's compressed offload bundles)
    decltype(&::nettle_md5_init) md5_init = nullptr;
    decltype(&::nettle_md5_update) md5_update = nullptr;
    decltype(&::nettle_md5_digest) md5_digest = nullptr;
    decltype(&::nettle_base64_encode_raw) base64_encode_raw = nullptr;
    decltype(&::nettle_base64_decode_init) base64_decode_init = nullptr;
    decltype(&::nettle_base64_decode_update) base64_decode_update = nullptr;
    decltype(&::nettle_base64_decode_final) base64_decode_final = nullptr;
};

// The loaded library (thread-safe, loaded once). Throws Error(unsupported) naming the package
// when libnettle.so.8 or one of its symbols is missing.
const Api& api();

// Base64 (RFC 4648, with padding) through Nettle: the decoded bytes, nullopt for text that is
// not base64.
std::string base64_encode(const std::string& s);
std::optional<std::string> base64_decode(const std::string& s);

} // namespace gantry::nettle
