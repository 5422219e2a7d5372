#include "sif/container.hpp"
#include "sif/dsse.hpp"
#include "sif/sign.hpp"
#include "sif/signature.hpp"
#include "sif/write.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace sif_sign_test {

using namespace gantry;

namespace {

const std::string kSignFpr = "0123456789ABCDEF0123456789ABCDEF01234567";

std::string sign_test_hex(const std::string& b) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) s += d[c >> 4], s += d[c & 15];
    return s;
}

std::string raw_fpr() {
    std::string r;
    for (std::size_t i = 0; i < 20; ++i)
        r += static_cast<char>(std::stoi(kSignFpr.substr(2 * i, 2), nullptr, 16));
    return r;
}

// A SIF as gantry save writes one (one partition, group 1) in a temporary directory.
struct TempSif {
    std::string dir, path;
    TempSif() {
        std::string t = (std::filesystem::temp_directory_path() / "sif-sign-XXXXXX").string();
        dir = ::mkdtemp(t.data());
        path = dir + "/t.sif";
        std::string part(4096, 'p');
        fs::write_atomic(path, sif::layout(part.size(), "amd64", std::string(16, 'i'), 1) + part);
    }
    ~TempSif() { std::filesystem::remove_all(dir); }
    std::string bytes() const { return fs::read_file(path); }
};

std::string clearsigned(const std::string& text) {
    return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + text +
           "\n-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----\n";
}

sif::Checks fake_checks(bool legacy) {
    sif::Checks c;
    c.openpgp = [](const std::string& m) {
        auto at = m.find("\n\n"), end = m.find("\n-----BEGIN PGP SIGNATURE-----");
        if (at == std::string::npos || end == std::string::npos || end < at)
            throw Error(Errc::policy, "not a valid OpenPGP signature (fake)");
        return sif::SignedText{m.substr(at + 2, end - at - 2), kSignFpr, ""};
    };
    c.dsse = [](const std::string& pae, const std::vector<sif::DsseSignature>& sigs) {
        if (sigs.size() != 1 || sigs[0].sig != "good:" + pae)
            throw Error(Errc::policy, "bad DSSE signature (fake)");
        return sigs[0].key_id;
    };
    c.legacy = legacy;
    return c;
}

sif::Report verify_bytes(const std::string& b, bool legacy = false) {
    auto c = sif::parse(b, "t.sif");
    return sif::verify(
        c, [&b](std::uint64_t at, char* buf, std::size_t n) { std::memcpy(buf, b.data() + at, n); },
        fake_checks(legacy), "t.sif");
}

} // namespace

TEST(SifSign, AppendsAnOpenPgpSignatureThatVerifies) {
    TempSif t;
    {
        sif::Editor ed(t.path);
        ASSERT_EQ(sif::object_groups(ed.container()), std::vector<std::uint32_t>{1});
        std::string md = sif::group_metadata(ed.container(), ed.reader(), 1);
        EXPECT_EQ(md.rfind("{\"version\":1,\"header\":{\"digest\":\"sha256:", 0), 0u) << md;
        EXPECT_NE(md.find("\"relativeId\":0,\"descriptorDigest\":\"sha256:"), std::string::npos);
        EXPECT_EQ(ed.add_signature(1, clearsigned(md), sif::kHashSha256, raw_fpr(), 7), 2u);
        ed.commit();
    }
    auto b = t.bytes();
    auto c = sif::parse(b, "t.sif");
    ASSERT_EQ(c.objects.size(), 2u);
    EXPECT_EQ(c.objects[1].linked, 0xf0000001u);
    EXPECT_EQ(c.descriptors_free, sif::kWriteCapacity - 2);
    auto rep = verify_bytes(b);
    ASSERT_TRUE(rep.ok()) << rep.signatures[0].error;
    EXPECT_EQ(rep.signatures[0].form, "OpenPGP");
    EXPECT_TRUE(sif::group_verified(rep, 1));
    // a modified partition byte fails, naming the object
    b[sif::kPartitionOffset + 9] ^= 1;
    rep = verify_bytes(b);
    EXPECT_FALSE(rep.ok());
    EXPECT_NE(rep.signatures[0].error.find("the data of object 1 (FS)"), std::string::npos);
    // nothing left beside the file
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(t.dir), {}), 1);
}

TEST(SifSign, AnUncommittedEditLeavesTheFileAsItWas) {
    TempSif t;
    auto before = t.bytes();
    {
        sif::Editor ed(t.path);
        ed.add_signature(1, "x", sif::kHashSha256, raw_fpr(), 7);
    }
    EXPECT_EQ(t.bytes(), before);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(t.dir), {}), 1);
}

TEST(SifSign, DsseEnvelopes) {
    TempSif t;
    {
        sif::Editor ed(t.path);
        std::string md = sif::group_metadata(ed.container(), ed.reader(), 1);
        std::string sig = "good:" + sif::pae(sif::kDssePayloadType, md);
        ed.add_signature(1, sif::encode_envelope(md, {{"SHA256:k", sig}}), sif::kHashSha256, "", 7);
        ed.commit();
    }
    auto b = t.bytes();
    auto rep = verify_bytes(b);
    ASSERT_TRUE(rep.ok()) << rep.signatures[0].error;
    EXPECT_EQ(rep.signatures[0].form, "DSSE");
    EXPECT_EQ(rep.signatures[0].signer.fingerprint, "SHA256:k");
    b[60] ^= 1; // the header's ID
    EXPECT_NE(verify_bytes(b).signatures[0].error.find("the SIF header"), std::string::npos);
}

TEST(SifSign, DssePaeAndStrictEnvelopes) {
    EXPECT_EQ(sif::pae("http://example.com/HelloWorld", "hello world"),
              "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
    auto e = sif::parse_envelope(sif::encode_envelope("{}", {{"id", "\x01\x02"}}), "e");
    EXPECT_EQ(e.payload_type, sif::kDssePayloadType);
    EXPECT_EQ(e.payload, "{}");
    ASSERT_EQ(e.signatures.size(), 1u);
    EXPECT_EQ(e.signatures[0].sig, "\x01\x02");
    // the URL alphabet, no padding
    e = sif::parse_envelope(R"({"payloadType":"t","payload":"-_8","signatures":[{"sig":"AQ"}]})",
                            "e");
    EXPECT_EQ(e.payload, "\xfb\xff");
    auto refusal = [](const std::string& text) {
        try {
            sif::parse_envelope(text, "e");
        } catch (const Error& err) {
            EXPECT_EQ(err.code(), Errc::policy);
            return err.message();
        }
        return std::string("accepted");
    };
    EXPECT_NE(refusal(R"({"payloadType":"t","payload":"","signatures":[]})").find("non-empty"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"payloadType":"t","payload":"","signatures":[{"sig":"A"}],"x":1})")
                  .find("unknown field \"x\""),
              std::string::npos);
    EXPECT_NE(refusal(R"({"payloadType":"t","payload":"%%","signatures":[{"sig":"AA"}]})")
                  .find("payload is not base64"),
              std::string::npos);
    EXPECT_NE(refusal("[1]"), "accepted");
}

TEST(SifSign, LegacySignaturesAreCheckedOnlyWhenAsked) {
    TempSif t;
    {
        sif::Editor ed(t.path);
        const auto& part = ed.container().objects[0];
        std::string text =
            "SIFHASH:\n" + sign_test_hex(sif::digest_object(ed.reader(), part, "sha256")) + "\n";
        ed.add_signature(1, clearsigned(text), sif::kHashSha256, raw_fpr(), 7);
        ed.commit();
    }
    auto b = t.bytes();
    auto rep = verify_bytes(b);
    EXPECT_FALSE(rep.ok());
    EXPECT_NE(rep.signatures[0].error.find("legacy signature"), std::string::npos);
    EXPECT_NE(rep.signatures[0].error.find("--legacy-insecure"), std::string::npos);
    rep = verify_bytes(b, true);
    ASSERT_TRUE(rep.ok()) << rep.signatures[0].error;
    EXPECT_EQ(rep.signatures[0].form, "legacy OpenPGP");
    EXPECT_FALSE(sif::group_verified(rep, 1)); // not what a policy accepts
    b[sif::kPartitionOffset + 1] ^= 1;
    rep = verify_bytes(b, true);
    EXPECT_NE(rep.signatures[0].error.find("the data of object 1 (FS) does not match"),
              std::string::npos)
        << rep.signatures[0].error;
}

} // namespace sif_sign_test
