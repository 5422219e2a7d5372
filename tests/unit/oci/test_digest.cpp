// Content digests: parsing, validation, construction from hex and from data.
#include "oci/digest.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

namespace oci_digest_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::Digest;

namespace {

const std::string kEmptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbcHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// The code of the Error that parse() throws for text (fails the test when it parses).
Errc parse_error(const std::string& text, std::string* message = nullptr,
                 std::string* hint = nullptr) {
    try {
        (void)Digest::parse(text);
    } catch (const Error& e) {
        if (message) *message = e.message();
        if (hint) *hint = e.hint();
        return e.code();
    }
    ADD_FAILURE() << "Digest::parse(\"" << text << "\") did not throw";
    return Errc::internal;
}

Errc from_hex_error(const std::string& hex) {
    try {
        (void)Digest::from_hex(hex);
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "Digest::from_hex(\"" << hex << "\") did not throw";
    return Errc::internal;
}

} // namespace

TEST(Digest, KnownSha256Vectors) {
    EXPECT_EQ(Digest::of("").hex(), kEmptyHex);
    EXPECT_EQ(Digest::of("abc").hex(), kAbcHex);
    EXPECT_EQ(Digest::of("abc").str(), "sha256:" + kAbcHex);
    // A longer vector (FIPS 180-2, two blocks).
    EXPECT_EQ(Digest::of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex(),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Digest, ParseValid) {
    Digest d = Digest::parse("sha256:" + kAbcHex);
    EXPECT_EQ(d.hex(), kAbcHex);
    EXPECT_EQ(d.str(), "sha256:" + kAbcHex);
    EXPECT_EQ(d.short_id(), "ba7816bf8f01");
    EXPECT_FALSE(d.empty());
    EXPECT_EQ(d, Digest::of("abc"));
    EXPECT_EQ(d, Digest::from_hex(kAbcHex));
}

TEST(Digest, DefaultIsEmpty) {
    Digest d;
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.hex(), "");
    EXPECT_NE(d, Digest::of(""));
}

TEST(Digest, Ordering) {
    Digest a = Digest::from_hex(std::string(64, '0'));
    Digest b = Digest::from_hex(std::string(64, 'f'));
    EXPECT_LT(a, b);
    EXPECT_GT(b, a);
    std::set<Digest> s{b, a, a};
    EXPECT_EQ(s.size(), 2u);
    EXPECT_EQ(*s.begin(), a);
}

TEST(Digest, OtherAlgorithmsAreUnsupported) {
    std::string msg, hint;
    EXPECT_EQ(parse_error("sha512:" + std::string(128, 'a'), &msg, &hint), Errc::unsupported);
    EXPECT_NE(msg.find("sha512"), std::string::npos) << msg;
    EXPECT_NE(hint.find("sha256"), std::string::npos) << hint;
    EXPECT_EQ(parse_error("sha384:" + std::string(96, 'a')), Errc::unsupported);
    EXPECT_EQ(parse_error("md5:d41d8cd98f00b204e9800998ecf8427e"), Errc::unsupported);
    // The algorithm is case-sensitive: "SHA256" is not "sha256".
    EXPECT_EQ(parse_error("SHA256:" + kAbcHex), Errc::unsupported);
}

TEST(Digest, MalformedIsInvalid) {
    const std::string cases[] = {
        "",
        "sha256",
        ":" + kAbcHex,
        kAbcHex,                                                      // no algorithm
        "sha256:",                                                    // no hex
        "sha256:" + kAbcHex.substr(0, 63),                            // too short
        "sha256:" + kAbcHex + "0",                                    // too long
        "sha256:" + std::string(64, 'A'),                             // upper case
        "sha256:" + std::string(63, 'a') + "g",                       // not hex
        "sha256:" + std::string(63, 'a') + " ",                       // trailing space
        "sha256: " + std::string(63, 'a'),                            // leading space
        "sha256:" + kAbcHex.substr(0, 32) + ":" + kAbcHex.substr(33), // second colon
    };
    for (const auto& c : cases) {
        std::string msg;
        EXPECT_EQ(parse_error(c, &msg), Errc::invalid) << "\"" << c << "\"";
        EXPECT_NE(msg.find("invalid"), std::string::npos) << msg;
    }
}

TEST(Digest, Valid) {
    EXPECT_TRUE(Digest::valid("sha256:" + kAbcHex));
    EXPECT_TRUE(Digest::valid("sha256:" + kEmptyHex));
    EXPECT_FALSE(Digest::valid(""));
    EXPECT_FALSE(Digest::valid(kAbcHex));
    EXPECT_FALSE(Digest::valid("sha256:" + kAbcHex.substr(1)));
    EXPECT_FALSE(Digest::valid("sha256:" + kAbcHex + "a"));
    EXPECT_FALSE(Digest::valid("sha256:" + std::string(64, 'F')));
    EXPECT_FALSE(Digest::valid("sha512:" + std::string(64, 'a')));
    EXPECT_FALSE(Digest::valid("sha256-" + kAbcHex));
    EXPECT_FALSE(Digest::valid("sha256:" + std::string(63, 'a') + "z"));
}

TEST(Digest, FromHex) {
    EXPECT_EQ(Digest::from_hex(kEmptyHex).str(), "sha256:" + kEmptyHex);
    EXPECT_EQ(from_hex_error(""), Errc::invalid);
    EXPECT_EQ(from_hex_error(kAbcHex.substr(2)), Errc::invalid);
    EXPECT_EQ(from_hex_error(kAbcHex + "00"), Errc::invalid);
    EXPECT_EQ(from_hex_error("sha256:" + kAbcHex), Errc::invalid);
    EXPECT_EQ(from_hex_error(std::string(64, 'B')), Errc::invalid);
    EXPECT_EQ(from_hex_error(std::string(63, '0') + "x"), Errc::invalid);
}

TEST(Digest, ParseRoundTripsStr) {
    for (const std::string& data :
         std::vector<std::string>{"", "abc", "hello world\n", std::string(1000, 'x')}) {
        Digest d = Digest::of(data);
        EXPECT_TRUE(Digest::valid(d.str()));
        EXPECT_EQ(Digest::parse(d.str()), d);
    }
}

} // namespace oci_digest_test
