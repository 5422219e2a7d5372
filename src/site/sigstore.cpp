#include "site/sigstore.hpp"

#include "site/signature.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/library.hpp"
#include "util/nettle.hpp"

#include <gnutls/abstract.h>
#include <memory>
#include <mutex>

namespace gantry::site {

using json = nlohmann::json;

namespace {

struct GnuTls {
    decltype(&::gnutls_pubkey_init) pubkey_init = nullptr;
    decltype(&::gnutls_pubkey_deinit) pubkey_deinit = nullptr;
    decltype(&::gnutls_pubkey_import) pubkey_import = nullptr;
    decltype(&::gnutls_pubkey_get_pk_algorithm) pubkey_get_pk_algorithm = nullptr;
    decltype(&::gnutls_pubkey_verify_data2) pubkey_verify_data2 = nullptr;
    decltype(&::gnutls_strerror) strerror = nullptr;
};

const GnuTls& gnutls() {
    static GnuTls api;
    static std::once_flag once;
    std::call_once(once, [] {
        static Library lib("libgnutls.so.30",
                           "policy.json's sigstoreSigned (sigstore signatures) needs GnuTLS",
                           "apt-get install libgnutls30");
        lib.bind(api.pubkey_init, "gnutls_pubkey_init");
        lib.bind(api.pubkey_deinit, "gnutls_pubkey_deinit");
        lib.bind(api.pubkey_import, "gnutls_pubkey_import");
        lib.bind(api.pubkey_get_pk_algorithm, "gnutls_pubkey_get_pk_algorithm");
        lib.bind(api.pubkey_verify_data2, "gnutls_pubkey_verify_data2");
        lib.bind(api.strerror, "gnutls_strerror");
    });
    return api;
}

[[noreturn]] void sigstore_refused(const std::string& why) {
    throw Error(Errc::policy, why);
}

struct PubKey {
    const GnuTls& g = gnutls();
    gnutls_pubkey_t key = nullptr;
    int error = 0; // of the import, 0 when it worked
    explicit PubKey(const std::string& pem) {
        if ((error = g.pubkey_init(&key)) < 0) {
            key = nullptr;
            return;
        }
        gnutls_datum_t d{reinterpret_cast<unsigned char*>(const_cast<char*>(pem.data())),
                         static_cast<unsigned>(pem.size())};
        error = g.pubkey_import(key, &d, GNUTLS_X509_FMT_PEM);
    }
    ~PubKey() {
        if (key) g.pubkey_deinit(key);
    }
    PubKey(const PubKey&) = delete;
    PubKey& operator=(const PubKey&) = delete;
    // The algorithm cosign's verifier uses for this key: SHA-256 with ECDSA and RSA PKCS#1 v1.5
    // (sigstore's LoadVerifier with containers/image's hard-coded SHA-256), pure Ed25519.
    gnutls_sign_algorithm_t algorithm() const {
        switch (g.pubkey_get_pk_algorithm(key, nullptr)) {
        case GNUTLS_PK_ECDSA:
            return GNUTLS_SIGN_ECDSA_SHA256;
        case GNUTLS_PK_RSA:
            return GNUTLS_SIGN_RSA_SHA256;
        case GNUTLS_PK_EDDSA_ED25519:
            return GNUTLS_SIGN_EDDSA_ED25519;
        default:
            return GNUTLS_SIGN_UNKNOWN;
        }
    }
};

} // namespace

std::string sigstore_attachment_tag(const oci::Digest& digest) {
    std::string s = digest.str();
    auto colon = s.find(':');
    return s.substr(0, colon) + "-" + s.substr(colon + 1) + ".sig";
}

std::vector<SigstoreLayer> parse_sigstore_attachment(std::string_view manifest) {
    json doc;
    try {
        doc = safe_json::parse(manifest, "the sigstore attachment's manifest");
    } catch (const Error& e) {
        sigstore_refused(e.message());
    }
    if (!doc.is_object() || !doc.contains("layers") || !doc["layers"].is_array())
        sigstore_refused("the sigstore attachment is not an OCI image manifest with layers");
    const json& layers = doc["layers"];
    if (layers.size() > kMaxSigstoreLayers)
        sigstore_refused("the sigstore attachment lists " + std::to_string(layers.size()) +
                         " signatures, more than the " + std::to_string(kMaxSigstoreLayers) +
                         " gantry reads");
    std::vector<SigstoreLayer> out;
    for (const json& l : layers) {
        if (!l.is_object()) sigstore_refused("a layer of the sigstore attachment is not an object");
        SigstoreLayer s;
        auto mt = l.find("mediaType");
        auto dg = l.find("digest");
        auto sz = l.find("size");
        if (mt == l.end() || !mt->is_string() || dg == l.end() || !dg->is_string() ||
            sz == l.end() || !sz->is_number_unsigned())
            sigstore_refused("a layer of the sigstore attachment lacks mediaType, digest or size");
        s.media_type = mt->get<std::string>();
        if (!oci::Digest::valid(dg->get<std::string>()))
            sigstore_refused("a layer of the sigstore attachment has an invalid digest");
        s.digest = oci::Digest::parse(dg->get<std::string>());
        s.size = sz->get<std::uint64_t>();
        if (auto an = l.find("annotations"); an != l.end()) {
            if (!an->is_object())
                sigstore_refused("a layer's annotations in the sigstore attachment are not an "
                                 "object");
            if (auto sig = an->find(kSigstoreSignatureAnnotation);
                sig != an->end() && sig->is_string())
                s.signature = sig->get<std::string>();
        }
        out.push_back(std::move(s));
    }
    return out;
}

void check_sigstore_key(const std::string& pem, const std::string& origin) {
    PubKey k(pem);
    if (k.error < 0)
        throw Error(Errc::invalid,
                    origin + " is not a PEM public key (" + k.g.strerror(k.error) + ")",
                    "give the cosign public key (cosign.pub, \"-----BEGIN PUBLIC KEY-----\")");
    if (k.algorithm() == GNUTLS_SIGN_UNKNOWN)
        throw Error(Errc::invalid, origin + " is neither an ECDSA, RSA nor Ed25519 key",
                    "give the cosign public key (cosign.pub)");
}

void sigstore_verify(const std::string& payload, const std::string& sig,
                     const std::vector<std::string>& keys) {
    if (sig.empty())
        sigstore_refused("the layer has no " + std::string(kSigstoreSignatureAnnotation) +
                         " annotation");
    auto raw = nettle::base64_decode(sig);
    if (!raw || raw->empty()) sigstore_refused("the signature is not valid base64");
    std::string reasons;
    for (const std::string& pem : keys) {
        PubKey k(pem);
        if (k.error < 0) sigstore_refused("a policy key is not a PEM public key");
        gnutls_datum_t data{reinterpret_cast<unsigned char*>(const_cast<char*>(payload.data())),
                            static_cast<unsigned>(payload.size())};
        gnutls_datum_t s{reinterpret_cast<unsigned char*>(raw->data()),
                         static_cast<unsigned>(raw->size())};
        int rc = k.g.pubkey_verify_data2(k.key, k.algorithm(), 0, &data, &s);
        if (rc >= 0) return;
        reasons += (reasons.empty() ? "" : ", ") + std::string(k.g.strerror(rc));
    }
    sigstore_refused("cryptographic signature verification failed: " + reasons);
}

void check_sigstore_payload(const std::string& payload, const oci::Digest& digest,
                            const SignedIdentity& id, const oci::Reference& logical) {
    check_signed_payload(payload, PayloadKind::sigstore, digest, id, logical);
}

std::string sigstore_payload(const oci::Digest& digest, const std::string& identity) {
    json doc = {{"critical",
                 {{"identity", {{"docker-reference", identity}}},
                  {"image", {{"docker-manifest-digest", digest.str()}}},
                  {"type", "cosign container image signature"}}},
                {"optional", nullptr}};
    return doc.dump();
}

} // namespace gantry::site
