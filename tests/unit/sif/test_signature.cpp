#include "sif/container.hpp"
#include "sif/signature.hpp"
#include "util/error.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace sif_signature_test {

using namespace gantry;

namespace {

void put(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string hex(const std::string& b) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) s += d[c >> 4], s += d[c & 15];
    return s;
}

constexpr std::size_t kTable = 4096, kPart = 32768, kPartSize = 100, kSig = 40000;
const std::string kFpr = "0123456789ABCDEF0123456789ABCDEF01234567";

// A SIF as the reference signs one: a partition (object 1, group 1) and a signature (object 2,
// linked to group 1) whose clear-signed text is METADATA (the fake OpenPGP check below returns
// the text between the armor headers and the signature).
std::string make_signed(const std::string& metadata_override = {}) {
    std::string b(1 << 16, '\0');
    std::memcpy(b.data(), "#!/usr/bin/env run-singularity\n", 31);
    std::memcpy(b.data() + 32, "SIF_MAGIC", 10);
    std::memcpy(b.data() + 42, "01", 3);
    std::memcpy(b.data() + 45, "02", 3);
    put(b, 64 + 16, 46, 8);
    put(b, 64 + 24, 48, 8);
    put(b, 64 + 32, kTable, 8);
    put(b, 64 + 40, 48 * sif::kDescriptorSize, 8);
    std::size_t d = kTable;
    put(b, d, 0x4004, 4), b[d + 4] = 1, put(b, d + 5, 1, 4), put(b, d + 9, 0xf0000001u, 4);
    put(b, d + 17, kPart, 8), put(b, d + 25, kPartSize, 8);
    std::memcpy(b.data() + d + 73, "rootfs", 6);
    for (std::size_t i = 0; i < kPartSize; ++i) b[kPart + i] = static_cast<char>(i);
    std::string md = metadata_override;
    if (md.empty()) {
        auto desc = sif::descriptor_integrity_bytes(std::string_view(b).substr(d, 585), 0);
        md = R"({"version":1,"header":{"digest":"sha256:)" +
             hex(sif::digest_bytes("sha256", sif::header_integrity_bytes(b.substr(0, 64)))) +
             R"("},"objects":[{"relativeId":0,"descriptorDigest":"sha256:)" +
             hex(sif::digest_bytes("sha256", desc)) + R"(","objectDigest":"sha512:)" +
             hex(sif::digest_bytes("sha512", b.substr(kPart, kPartSize))) + R"("}]})";
    }
    std::string msg = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + md +
                      "\n-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----\n";
    d = kTable + sif::kDescriptorSize;
    put(b, d, 0x4005, 4), b[d + 4] = 1, put(b, d + 5, 2, 4), put(b, d + 13, 0xf0000001u, 4);
    put(b, d + 17, kSig, 8), put(b, d + 25, msg.size(), 8);
    put(b, d + 201, 1, 4);
    for (std::size_t i = 0; i < 20; ++i)
        b[d + 205 + i] = static_cast<char>(std::stoi(kFpr.substr(2 * i, 2), nullptr, 16));
    std::memcpy(b.data() + kSig, msg.data(), msg.size());
    return b;
}

sif::SignedText fake_check(const std::string& m) {
    auto at = m.find("\n\n"), end = m.find("\n-----BEGIN PGP SIGNATURE-----");
    if (at == std::string::npos || end == std::string::npos || end < at)
        throw Error(Errc::policy, "not a valid OpenPGP signature (fake)");
    return {m.substr(at + 2, end - at - 2), kFpr, "Test <t@example.org>"};
}

sif::Report check(const std::string& b) {
    auto c = sif::parse(b, "t.sif");
    return sif::verify(
        c, [&b](std::uint64_t at, char* buf, std::size_t n) { std::memcpy(buf, b.data() + at, n); },
        fake_check, "t.sif");
}

std::string metadata_refusal(const std::string& text) {
    try {
        sif::parse_metadata(text, "m");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::policy);
        return e.message();
    }
    return "accepted";
}

} // namespace

TEST(SifSignature, VerifiesTheReferencesLayout) {
    auto rep = check(make_signed());
    ASSERT_TRUE(rep.ok()) << (rep.signatures.empty() ? "none" : rep.signatures[0].error);
    auto& s = rep.signatures[0];
    EXPECT_EQ(s.id, 2u);
    EXPECT_EQ(s.group, 1u);
    EXPECT_EQ(s.info.hash, "sha256");
    EXPECT_EQ(s.info.fingerprint, kFpr);
    ASSERT_EQ(s.covers.size(), 1u);
    EXPECT_EQ(s.covers[0].id, 1u);
}

TEST(SifSignature, NamesTheModifiedObject) {
    auto b = make_signed();
    b[kPart + 7] ^= 1;
    auto rep = check(b);
    ASSERT_FALSE(rep.ok());
    EXPECT_NE(rep.signatures[0].error.find("the data of object 1 (FS) does not match"),
              std::string::npos)
        << rep.signatures[0].error;
    b = make_signed();
    b[kTable + 80] ^= 1; // the partition's name
    rep = check(b);
    EXPECT_NE(rep.signatures[0].error.find("the descriptor of object 1 (FS)"), std::string::npos);
    b = make_signed();
    b[50] ^= 1; // the header's ID
    EXPECT_NE(check(b).signatures[0].error.find("the SIF header"), std::string::npos);
}

TEST(SifSignature, RefusesSignaturesThatCoverOtherObjects) {
    std::string md = R"({"version":1,"header":{"digest":"sha256:)" + std::string(64, '0') +
                     R"("},"objects":[{"relativeId":5,"descriptorDigest":"sha256:)" +
                     std::string(64, '0') + R"(","objectDigest":"sha256:)" + std::string(64, '0') +
                     R"("}]})";
    auto rep = check(make_signed(md));
    ASSERT_FALSE(rep.ok());
    EXPECT_NE(rep.signatures[0].error.find("does not cover object 1 (FS)"), std::string::npos)
        << rep.signatures[0].error;
}

TEST(SifSignature, RefusesAnotherSignerAndUnsignedGroups) {
    auto b = make_signed();
    b[kTable + sif::kDescriptorSize + 210] ^= 1; // the descriptor's fingerprint
    auto rep = check(b);
    EXPECT_NE(rep.signatures[0].error.find("but its descriptor names key"), std::string::npos);
    b = make_signed();
    put(b, kTable + sif::kDescriptorSize + 13, 0xf0000002u, 4);
    rep = check(b);
    EXPECT_FALSE(rep.ok());
    ASSERT_EQ(rep.problems.size(), 1u);
    EXPECT_EQ(rep.problems[0], "object group 1 (1 objects) has no signature");
}

TEST(SifSignature, RefusesLegacySignatures) {
    auto b = make_signed();
    std::string legacy = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSIFHASH:\nab\n";
    std::memcpy(b.data() + kSig, legacy.data(), legacy.size());
    EXPECT_TRUE(sif::is_legacy_message(legacy));
    EXPECT_NE(check(b).signatures[0].error.find("legacy signature"), std::string::npos);
}

TEST(SifSignature, MetadataIsParsedStrictly) {
    std::string d = "sha256:" + std::string(64, 'a');
    std::string ok = R"({"version":1,"header":{"digest":")" + d +
                     R"("},"objects":[{"relativeId":0,"descriptorDigest":")" + d +
                     R"(","objectDigest":")" + d + R"("}]})";
    EXPECT_EQ(metadata_refusal(ok), "accepted");
    EXPECT_NE(metadata_refusal("{"), "accepted");
    EXPECT_NE(metadata_refusal(R"({"version":2,"header":{},"objects":[]})").find("version"),
              std::string::npos);
    std::string extra = ok;
    extra.insert(1, R"("x":1,)");
    EXPECT_NE(metadata_refusal(extra).find("unknown field \"x\""), std::string::npos);
    std::string md5 = ok;
    md5.replace(md5.find("sha256"), 6, "md5");
    EXPECT_NE(metadata_refusal(md5).find("digest algorithm \"md5\""), std::string::npos);
    std::string shortd = ok;
    shortd.erase(shortd.find("aaaa"), 2);
    EXPECT_NE(metadata_refusal(shortd).find("hex digits"), std::string::npos);
    std::string twice = R"({"version":1,"header":{"digest":")" + d + R"("},"objects":[)";
    for (int i = 0; i < 2; ++i)
        twice += std::string(i ? "," : "") + R"({"relativeId":0,"descriptorDigest":")" + d +
                 R"(","objectDigest":")" + d + R"("})";
    EXPECT_NE(metadata_refusal(twice + "]}").find("twice"), std::string::npos);
    EXPECT_NE(metadata_refusal(std::string(100, '[')), "accepted");
}

TEST(SifSignature, DigestsAndIntegrityFields) {
    EXPECT_EQ(hex(sif::digest_bytes("sha256", "abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(sif::digest_bytes("sha512_256", "abc")),
              "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23");
    EXPECT_EQ(sif::digest_bytes("sha224", "").size(), 28u);
    EXPECT_EQ(sif::digest_bytes("sha384", "").size(), 48u);
    EXPECT_EQ(sif::header_integrity_bytes(std::string(64, 'h')).size(), 61u);
    EXPECT_EQ(sif::descriptor_integrity_bytes(std::string(585, 'd'), 3).size(), 557u);
    auto info = sif::signature_info(std::string(384, '\0'));
    EXPECT_EQ(info.fingerprint, "");
    EXPECT_EQ(info.hash, "unknown (0)");
}

} // namespace sif_signature_test
