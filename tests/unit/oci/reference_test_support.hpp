// What the image reference tests share: digests to append, and expecting a parse or an error.
#pragma once

#include "oci/reference.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>

// Named, not anonymous: the unit tests may be built as one translation unit (a unity build).
namespace oci_reference_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::Reference;

inline const std::string kHex64 =
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
inline const std::string kDigest = "sha256:" + kHex64;

struct Failure {
    Errc code;
    std::string message;
    std::string hint;
};

// The error parse() throws for s, or nullopt if it parses.
inline std::optional<Failure> failure(const std::string& s) {
    try {
        (void)Reference::parse(s);
    } catch (const Error& e) {
        return Failure{e.code(), e.message(), e.hint()};
    }
    return std::nullopt;
}

// Expects s to be rejected as invalid, with a message containing reason.
inline void expect_invalid(const std::string& s, const std::string& reason,
                           Errc code = Errc::invalid) {
    SCOPED_TRACE("input: " + s);
    auto f = failure(s);
    ASSERT_TRUE(f.has_value()) << "parsed, expected an error mentioning: " << reason;
    EXPECT_EQ(f->code, code) << f->message;
    EXPECT_NE(f->message.find(reason), std::string::npos)
        << "message: " << f->message << "\nexpected to contain: " << reason;
    EXPECT_EQ(f->message.rfind("invalid image reference \"", 0), 0u) << f->message;
    EXPECT_FALSE(f->hint.empty()) << f->message;
}

inline void expect_ref(const std::string& s, const std::string& domain, const std::string& path,
                       const std::string& tag, const std::string& digest = "") {
    SCOPED_TRACE("input: " + s);
    Reference r;
    ASSERT_NO_THROW(r = Reference::parse(s));
    EXPECT_EQ(r.domain, domain);
    EXPECT_EQ(r.path, path);
    EXPECT_EQ(r.tag, tag);
    EXPECT_EQ(r.digest, digest);
}

inline std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

} // namespace oci_reference_test
