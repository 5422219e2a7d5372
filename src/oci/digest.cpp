#include "oci/digest.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"

namespace gantry::oci {

namespace {
bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}
} // namespace

bool Digest::valid(std::string_view text) noexcept {
    return text.size() == 71 && text.starts_with("sha256:") && is_hex64(text.substr(7));
}

Digest Digest::parse(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0)
        throw Error(Errc::invalid, "invalid digest \"" + std::string(text) +
                                       "\": expected <algorithm>:<hex>, e.g. sha256:<64 hex>");
    auto algo = text.substr(0, colon);
    if (algo != "sha256")
        throw Error(Errc::unsupported,
                    "unsupported digest algorithm \"" + std::string(algo) + "\" in \"" +
                        std::string(text) + "\"",
                    "gantry verifies content with sha256 only");
    if (!is_hex64(text.substr(colon + 1)))
        throw Error(Errc::invalid, "invalid digest \"" + std::string(text) +
                                       "\": sha256 needs exactly 64 lower-case hex digits");
    Digest d;
    d.hex_ = std::string(text.substr(colon + 1));
    return d;
}

Digest Digest::from_hex(std::string hex) {
    if (!is_hex64(hex)) throw Error(Errc::invalid, "invalid sha256 hex \"" + hex + "\"");
    Digest d;
    d.hex_ = std::move(hex);
    return d;
}

Digest Digest::of(std::string_view data) {
    return from_hex(Sha256::hex_of(data));
}

} // namespace gantry::oci
