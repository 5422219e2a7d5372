// Content digests ("sha256:<64 hex>"). Only sha256 is accepted; anything else is refused by name.
#pragma once

#include <compare>
#include <string>
#include <string_view>

namespace gantry::oci {

class Digest {
  public:
    Digest() = default;
    // Throws Error(invalid) for malformed text, Error(unsupported) for other algorithms.
    static Digest parse(std::string_view text);
    static Digest from_hex(std::string hex); // hex must be 64 lower-case hex digits
    static Digest of(std::string_view data); // sha256 of data
    static bool valid(std::string_view text) noexcept;

    const std::string& hex() const { return hex_; }
    std::string str() const { return "sha256:" + hex_; }
    std::string short_id() const { return hex_.substr(0, 12); }
    bool empty() const { return hex_.empty(); }
    auto operator<=>(const Digest&) const = default;

  private:
    std::string hex_;
};

} // namespace gantry::oci
