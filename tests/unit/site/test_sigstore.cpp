// site/sigstore: the attachment manifest, the payload's strict checks, and signatures verified
// with GnuTLS against keys and signatures made by an independent implementation (Python's
// cryptography 38, ECDSA P-256/SHA-256 and Ed25519 over the payload below, as cosign signs).
#include "site/signature.hpp"
#include "site/sigstore.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace sigstore_test {

using namespace gantry;
using namespace gantry::site;

const char* const kPayload =
    R"({"critical":{"identity":{"docker-reference":"registry.example/ns/app"},"image":{"docker-manifest-digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},"type":"cosign container image signature"},"optional":null})";
const char* const kEcdsaKey = "-----BEGIN PUBLIC KEY-----\n"
                              "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEyaq+fGLSJS5jQAT9qpaqi35TMCBm\n"
                              "NFNZzjyGvBji+FPK5B/2dEZ+S/O7LxBVqyabXUSm6PHm30Q/ud6gd2z6Vw==\n"
                              "-----END PUBLIC KEY-----\n";
const char* const kEcdsaSig = "MEQCIG5I+w2Cc6Qw/kf9PW/4AzD8DijjHD0kMuaLobbLoOI/"
                              "AiBCaIjYsRt0thmPjfHSUFYV1pBmtlVXHVvN4ZLyBlE4GQ==";
const char* const kEdKey = "-----BEGIN PUBLIC KEY-----\n"
                           "MCowBQYDK2VwAyEAN7bX5KcBGL0fejN3LKW308B2AsKkk1sIoE8I6QjKj84=\n"
                           "-----END PUBLIC KEY-----\n";
const char* const kEdSig =
    "Vv5alqkLlKDdsMczyY6S8DcrwaDnBLrZPnRpRgIFS/3Zigax+WuJ0KMImbrwMOTR8XD9dekuuFJc8MxhQlpXAg==";

oci::Digest digest() {
    return oci::Digest::parse(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

std::string what_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.message();
    }
    return "(no error)";
}

TEST(Sigstore, AttachmentTag) {
    EXPECT_EQ(sigstore_attachment_tag(digest()),
              "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig");
}

TEST(Sigstore, VerifiesEcdsaAndEd25519AndRefusesTampering) {
    EXPECT_NO_THROW(sigstore_verify(kPayload, kEcdsaSig, {kEcdsaKey}));
    EXPECT_NO_THROW(sigstore_verify(kPayload, kEdSig, {kEcdsaKey, kEdKey}));
    std::string other = kPayload;
    other[other.find("ns/app")] = 'm';
    EXPECT_NE(what_of([&] {
                  sigstore_verify(other, kEcdsaSig, {kEcdsaKey});
              }).find("verification failed"),
              std::string::npos);
    EXPECT_NE(what_of([&] {
                  sigstore_verify(kPayload, kEcdsaSig, {kEdKey});
              }).find("verification failed"),
              std::string::npos);
    std::string truncated(kEcdsaSig, 40);
    EXPECT_NE(what_of([&] { sigstore_verify(kPayload, truncated, {kEcdsaKey}); }), "(no error)");
    EXPECT_NE(what_of([&] { sigstore_verify(kPayload, "!!", {kEcdsaKey}); }).find("base64"),
              std::string::npos);
    EXPECT_NE(what_of([&] { sigstore_verify(kPayload, "", {kEcdsaKey}); }).find("annotation"),
              std::string::npos);
    EXPECT_NE(what_of([] {
                  check_sigstore_key("-----BEGIN PUBLIC KEY-----\nAAAA\n", "k.pub");
              }).find("k.pub is not a PEM public key"),
              std::string::npos);
}

TEST(Sigstore, PayloadAsTheSpecWritesIt) {
    SignedIdentity repo;
    repo.kind = SignedIdentity::Kind::match_repository;
    auto logical = oci::Reference::parse("registry.example/ns/app:1");
    EXPECT_NO_THROW(check_sigstore_payload(kPayload, digest(), repo, logical));
    // cosign signs the repository: the default matchRepoDigestOrExact refuses it for a tag
    EXPECT_NE(what_of([&] {
                  check_sigstore_payload(kPayload, digest(), {}, logical);
              }).find("not accepted"),
              std::string::npos);
    auto other = oci::Digest::of("x");
    EXPECT_NE(what_of([&] {
                  check_sigstore_payload(kPayload, other, repo, logical);
              }).find("does not match the manifest"),
              std::string::npos);
    std::string p = kPayload;
    std::string unknown = p;
    unknown.replace(unknown.find("\"type\""), 6, "\"extra\":1,\"type\"");
    EXPECT_NE(what_of([&] {
                  check_sigstore_payload(unknown, digest(), repo, logical);
              }).find("unknown field \"extra\""),
              std::string::npos);
    std::string simple = p;
    simple.replace(simple.find("cosign container image signature"), 32,
                   "atomic container signature");
    EXPECT_NE(what_of([&] {
                  check_sigstore_payload(simple, digest(), repo, logical);
              }).find("critical.type"),
              std::string::npos);
    std::string no_optional = p.substr(0, p.find(",\"optional\"")) + "}";
    EXPECT_NE(what_of([&] {
                  check_sigstore_payload(no_optional, digest(), repo, logical);
              }).find("lacks \"optional\""),
              std::string::npos);
    // containers/image writes the tagged reference, which the default identity accepts
    EXPECT_NO_THROW(
        check_sigstore_payload(sigstore_payload(digest(), logical.str()), digest(), {}, logical));
}

TEST(Sigstore, AttachmentManifest) {
    auto layers = parse_sigstore_attachment(
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,
        "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":10,
        "digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "annotations":{"dev.cosignproject.cosign/signature":"c2ln"}}]})");
    ASSERT_EQ(layers.size(), 1u);
    EXPECT_EQ(layers[0].signature, "c2ln");
    EXPECT_EQ(layers[0].size, 10u);
    EXPECT_EQ(layers[0].media_type, kSigstorePayloadType);
    std::string many = R"({"layers":[)";
    for (unsigned i = 0; i <= kMaxSigstoreLayers; ++i)
        many +=
            std::string(i ? "," : "") +
            R"({"mediaType":"x","size":1,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})";
    many += "]}";
    EXPECT_NE(what_of([&] { parse_sigstore_attachment(many); }).find("more than"),
              std::string::npos);
    EXPECT_NE(what_of([] { parse_sigstore_attachment(R"({"layers":[{"size":1}]})"); }),
              "(no error)");
    EXPECT_NE(what_of([] { parse_sigstore_attachment("{"); }), "(no error)");
}

// go-securesystemslib's own vector (encrypted/encrypted_test.go TestDecrypt): the envelope
// cosign wraps its private keys in, "reallyimportant" under "supersecret"
TEST(Sigstore, CosignKeyEnvelope) {
    const char* env =
        R"({"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"N9a7x5JFGbrtB2uBR81jPwp0eiLR4A7FV3mjVAQrg1g="},"cipher":{"name":"nacl/secretbox","nonce":"2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik"},"ciphertext":"SEW6sUh0jf2wfdjJGPNS9+bkk2uB+Cxamf32zR8XkQ=="})";
    EXPECT_EQ(decrypt_cosign_envelope(env, "supersecret", "k"), "reallyimportant");
    EXPECT_NE(what_of([&] {
                  decrypt_cosign_envelope(env, "Supersecret", "k.key");
              }).find("k.key: wrong passphrase"),
              std::string::npos);
    // its TestUnsupportedKDFParameters: refused before any work
    const char* odd =
        R"({"kdf":{"name":"scrypt","params":{"N":99,"r":99,"p":99},"salt":"cZFcQJdwPhPyhU1R4qkl0qVOIjZd4V/7LYYAavq166k="},"cipher":{"name":"nacl/secretbox","nonce":"7vhRS7j0hEPBWV05skAdgLj81AkGeE7U"},"ciphertext":"6WYU/YSXVbYzl/NzaeAzmjLyfFhOOjLc0d8/GFV0aBFdJvyCcXc="})";
    EXPECT_NE(what_of([&] {
                  decrypt_cosign_envelope(odd, "supersecret", "k");
              }).find("unsupported scrypt parameters"),
              std::string::npos);
    EXPECT_NE(what_of([] {
                  sigstore_sign("not a key", "", "x", "k.key");
              }).find("not an encrypted cosign private key"),
              std::string::npos);
}

TEST(Sigstore, PolicyFields) {
    auto p = Policy::parse(R"({"default":[{"type":"sigstoreSigned","keyPath":"/k.pub",
        "signedIdentity":{"type":"matchRepository"}}]})",
                           "p.json");
    EXPECT_EQ(p.defaults[0].key_paths, std::vector<std::string>{"/k.pub"});
    auto f = Policy::parse(R"({"default":[{"type":"sigstoreSigned","fulcio":{"caPath":"/c"},
        "rekorPublicKeyPath":"/r"}]})",
                           "p.json");
    EXPECT_EQ(f.defaults[0].unsupported, "fulcio");
    EXPECT_NE(what_of([] {
                  Policy::parse(R"({"default":[{"type":"sigstoreSigned"}]})", "p.json");
              }).find("exactly one of keyPath"),
              std::string::npos);
    // an image meeting a Fulcio requirement is refused, naming the field
    SignatureSources none;
    auto logical = oci::Reference::parse("registry.example/ns/app:1");
    EXPECT_NE(what_of([&] { evaluate(f, logical, digest(), none); }).find("\"fulcio\""),
              std::string::npos);
    auto k = Policy::parse(std::string(R"({"default":[{"type":"sigstoreSigned","keyData":")") +
                               "bm90IGEga2V5" + R"("}]})",
                           "p.json");
    EXPECT_NE(what_of([&] { evaluate(k, logical, digest(), none); }).find("not a PEM public key"),
              std::string::npos);
}

// .sqsh files: policy.json's "sif" path scopes, most specific first (file_signature.hpp)
TEST(Sigstore, FileScopes) {
    auto p = Policy::parse(R"({"default":[{"type":"reject"}],"transports":{"sif":{
        "/shared/images":[{"type":"insecureAcceptAnything"}],
        "/shared/images/app.sqsh":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}],
        "":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/any"}]}}})",
                           "p.json");
    std::string scope;
    EXPECT_EQ(p.for_file("/shared/images/app.sqsh", scope)[0].key_paths[0], "/k");
    EXPECT_EQ(scope, "transports.sif[\"/shared/images/app.sqsh\"]");
    EXPECT_EQ(p.for_file("/shared/images/sub/x.sqsh", scope)[0].name(), "insecureAcceptAnything");
    EXPECT_EQ(scope, "transports.sif[\"/shared/images\"]");
    EXPECT_EQ(p.for_file("/shared/imagesX/x.sqsh", scope)[0].key_paths[0], "/any");
    EXPECT_EQ(scope, "transports.sif[\"\"]");
    auto none = Policy::parse(R"({"default":[{"type":"reject"}]})", "p.json");
    EXPECT_EQ(none.for_file("/a.sqsh", scope)[0].name(), "reject");
    EXPECT_EQ(scope, "default");
    for (const char* bad : {"relative/dir", "/", "/a/", "/a/../b", "/a//b"})
        EXPECT_NE(what_of([&] {
                      Policy::parse(
                          std::string(R"({"default":[{"type":"reject"}],"transports":{"sif":{")") +
                              bad + R"(":[{"type":"reject"}]}}})",
                          "p.json");
                  }).find("invalid sif scope"),
                  std::string::npos)
            << bad;
}

} // namespace sigstore_test
