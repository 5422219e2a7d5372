#include "site/sigstore.hpp"

#include "site/signature.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/library.hpp"
#include "util/nettle.hpp"

#include <gnutls/abstract.h>
#include <memory>
#include <mutex>
#include <sodium.h>

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
    // signing (push --sign-by-sigstore-private-key)
    decltype(&::gnutls_privkey_init) privkey_init = nullptr;
    decltype(&::gnutls_privkey_deinit) privkey_deinit = nullptr;
    decltype(&::gnutls_privkey_import_x509_raw) privkey_import_x509_raw = nullptr;
    decltype(&::gnutls_privkey_sign_data) privkey_sign_data = nullptr;
    decltype(&::gnutls_free) free_fn = nullptr; // the library's variable: *free_fn frees
    // DSSE in SIF files (sif/dsse.hpp): PEM private keys, key IDs
    decltype(&::gnutls_privkey_sign_data2) privkey_sign_data2 = nullptr;
    decltype(&::gnutls_privkey_get_pk_algorithm) privkey_get_pk_algorithm = nullptr;
    decltype(&::gnutls_pubkey_import_privkey) pubkey_import_privkey = nullptr;
    decltype(&::gnutls_pubkey_export_ecc_raw2) pubkey_export_ecc_raw2 = nullptr;
    decltype(&::gnutls_pubkey_export_rsa_raw2) pubkey_export_rsa_raw2 = nullptr;
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
        lib.bind(api.privkey_init, "gnutls_privkey_init");
        lib.bind(api.privkey_deinit, "gnutls_privkey_deinit");
        lib.bind(api.privkey_import_x509_raw, "gnutls_privkey_import_x509_raw");
        lib.bind(api.privkey_sign_data, "gnutls_privkey_sign_data");
        lib.bind(api.free_fn, "gnutls_free");
        lib.bind(api.privkey_sign_data2, "gnutls_privkey_sign_data2");
        lib.bind(api.privkey_get_pk_algorithm, "gnutls_privkey_get_pk_algorithm");
        lib.bind(api.pubkey_import_privkey, "gnutls_pubkey_import_privkey");
        lib.bind(api.pubkey_export_ecc_raw2, "gnutls_pubkey_export_ecc_raw2");
        lib.bind(api.pubkey_export_rsa_raw2, "gnutls_pubkey_export_rsa_raw2");
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
    PubKey() {
        if ((error = g.pubkey_init(&key)) < 0) key = nullptr;
    }
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
        return sign_algorithm(g.pubkey_get_pk_algorithm(key, nullptr));
    }
    static gnutls_sign_algorithm_t sign_algorithm(int pk) {
        switch (pk) {
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

// libsodium, for cosign's encrypted private keys: scrypt and NaCl secretbox (XSalsa20-Poly1305)
struct Sodium {
    decltype(&::sodium_init) init = nullptr;
    decltype(&::crypto_pwhash_scryptsalsa208sha256_ll) scrypt = nullptr;
    decltype(&::crypto_secretbox_open_easy) secretbox_open = nullptr;
};

const Sodium& sodium() {
    static Sodium api;
    static std::once_flag once;
    std::call_once(once, [] {
        static Library lib("libsodium.so.23",
                           "--sign-by-sigstore-private-key (cosign's encrypted keys) needs "
                           "libsodium",
                           "apt-get install libsodium23");
        lib.bind(api.init, "sodium_init");
        lib.bind(api.scrypt, "crypto_pwhash_scryptsalsa208sha256_ll");
        lib.bind(api.secretbox_open, "crypto_secretbox_open_easy");
        if (api.init() < 0)
            throw Error(Errc::internal, "libsodium failed to initialise", "report it");
    });
    return api;
}

[[noreturn]] void bad_key(const std::string& origin, const std::string& why) {
    throw Error(Errc::invalid, origin + ": " + why,
                "give the encrypted private key cosign generate-key-pair (or skopeo "
                "generate-sigstore-key) wrote, and its passphrase");
}

std::string b64_member(const json& obj, const char* key, const std::string& origin) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string())
        bad_key(origin, std::string("the key's envelope lacks \"") + key + "\"");
    auto out = nettle::base64_decode(it->get<std::string>());
    if (!out) bad_key(origin, std::string("the key's \"") + key + "\" is not base64");
    return *out;
}

} // namespace

std::string decrypt_cosign_envelope(std::string_view envelope, const std::string& password,
                                    const std::string& origin) {
    json doc;
    try {
        doc = safe_json::parse(envelope, origin);
    } catch (const Error& e) {
        bad_key(origin, e.message());
    }
    if (!doc.is_object() || !doc.contains("kdf") || !doc["kdf"].is_object() ||
        !doc.contains("cipher") || !doc["cipher"].is_object())
        bad_key(origin, "not a cosign key envelope (kdf, cipher, ciphertext)");
    const json& kdf = doc["kdf"];
    const json& cipher = doc["cipher"];
    if (kdf.value("name", "") != "scrypt" || cipher.value("name", "") != "nacl/secretbox")
        bad_key(origin, "only scrypt with nacl/secretbox is supported");
    const json* params = kdf.contains("params") ? &kdf["params"] : nullptr;
    auto param = [&](const char* k) -> std::uint64_t {
        if (!params || !params->is_object() || !params->contains(k) ||
            !(*params)[k].is_number_unsigned())
            bad_key(origin, std::string("the key's scrypt parameter ") + k + " is missing");
        return (*params)[k].get<std::uint64_t>();
    };
    std::uint64_t n = param("N"), r = param("r"), p = param("p");
    // the parameter sets go-securesystemslib writes (legacy, standard, OWASP); others refused
    // as it refuses them, which also bounds the work a hostile key file can ask for
    if ((n != 32768 && n != 65536 && n != 131072) || r != 8 || p != 1)
        bad_key(origin, "unsupported scrypt parameters");
    std::string salt = b64_member(kdf, "salt", origin);
    std::string nonce = b64_member(cipher, "nonce", origin);
    std::string box = b64_member(doc, "ciphertext", origin);
    if (nonce.size() != 24) bad_key(origin, "the secretbox nonce is not 24 bytes");
    if (box.size() < 16) bad_key(origin, "the ciphertext is truncated");
    const Sodium& na = sodium();
    unsigned char key[32];
    if (na.scrypt(reinterpret_cast<const std::uint8_t*>(password.data()), password.size(),
                  reinterpret_cast<const std::uint8_t*>(salt.data()), salt.size(), n,
                  static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(p), key,
                  sizeof key) != 0)
        throw Error(Errc::internal, "scrypt failed (out of memory?)", "retry");
    std::string plain(box.size() - 16, '\0');
    int rc = na.secretbox_open(reinterpret_cast<unsigned char*>(plain.data()),
                               reinterpret_cast<const unsigned char*>(box.data()), box.size(),
                               reinterpret_cast<const unsigned char*>(nonce.data()), key);
    if (rc != 0)
        throw Error(Errc::invalid, origin + ": wrong passphrase, or the key file was altered",
                    "give the key's passphrase with --sign-passphrase-file FILE");
    return plain;
}

std::string sigstore_sign(const std::string& key_file_text, const std::string& password,
                          const std::string& payload, const std::string& origin) {
    std::string body;
    for (const char* type : {"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"}) {
        std::string begin = std::string("-----BEGIN ") + type + "-----";
        std::string end = std::string("-----END ") + type + "-----";
        auto b = key_file_text.find(begin);
        auto e = key_file_text.find(end);
        if (b == std::string::npos || e == std::string::npos || e < b) continue;
        for (char c : key_file_text.substr(b + begin.size(), e - b - begin.size()))
            if (c != '\n' && c != '\r' && c != ' ' && c != '\t') body += c;
        break;
    }
    if (body.empty())
        bad_key(origin, "not an encrypted cosign private key (PEM \"ENCRYPTED "
                        "SIGSTORE PRIVATE KEY\" or \"ENCRYPTED COSIGN PRIVATE KEY\")");
    auto envelope = nettle::base64_decode(body);
    if (!envelope) bad_key(origin, "the PEM body is not base64");
    std::string der = decrypt_cosign_envelope(*envelope, password, origin);
    const GnuTls& g = gnutls();
    struct Priv {
        const GnuTls& g;
        gnutls_privkey_t k = nullptr;
        ~Priv() {
            if (k) g.privkey_deinit(k);
        }
    } priv{g};
    if (g.privkey_init(&priv.k) < 0) throw Error(Errc::internal, "gnutls_privkey_init failed");
    gnutls_datum_t d{reinterpret_cast<unsigned char*>(der.data()),
                     static_cast<unsigned>(der.size())};
    if (int rc = g.privkey_import_x509_raw(priv.k, &d, GNUTLS_X509_FMT_DER, nullptr, 0); rc < 0)
        bad_key(origin, std::string("the decrypted key is not a PKCS#8 private key (") +
                            g.strerror(rc) + ")");
    gnutls_datum_t data{reinterpret_cast<unsigned char*>(const_cast<char*>(payload.data())),
                        static_cast<unsigned>(payload.size())};
    gnutls_datum_t sig{nullptr, 0};
    if (int rc = g.privkey_sign_data(priv.k, GNUTLS_DIG_SHA256, 0, &data, &sig); rc < 0)
        bad_key(origin, std::string("signing failed (") + g.strerror(rc) + ")");
    std::string raw(reinterpret_cast<const char*>(sig.data), sig.size);
    (*g.free_fn)(sig.data);
    return nettle::base64_encode(raw);
}

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

namespace {

// OpenSSH's wire form of a public key (RFC 4251 strings and mpints), for its SHA256 fingerprint
void ssh_put(std::string& out, std::string_view b) {
    for (int i = 3; i >= 0; --i) out += static_cast<char>((b.size() >> (8 * i)) & 0xff);
    out += b;
}

std::string ssh_datum(const GnuTls& g, gnutls_datum_t& d) {
    std::string s(reinterpret_cast<const char*>(d.data), d.size);
    (*g.free_fn)(d.data);
    d.data = nullptr;
    return s;
}

std::string ssh_key_id(const PubKey& k) {
    const GnuTls& g = k.g;
    std::string wire;
    int pk = g.pubkey_get_pk_algorithm(k.key, nullptr);
    if (pk == GNUTLS_PK_RSA) {
        gnutls_datum_t m{nullptr, 0}, e{nullptr, 0};
        if (g.pubkey_export_rsa_raw2(k.key, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ) < 0) return {};
        std::string n = ssh_datum(g, m), x = ssh_datum(g, e);
        if (!n.empty() && (n[0] & 0x80)) n.insert(0, 1, '\0');
        if (!x.empty() && (x[0] & 0x80)) x.insert(0, 1, '\0');
        ssh_put(wire, "ssh-rsa");
        ssh_put(wire, x);
        ssh_put(wire, n);
    } else if (pk == GNUTLS_PK_ECDSA || pk == GNUTLS_PK_EDDSA_ED25519) {
        gnutls_ecc_curve_t curve{};
        gnutls_datum_t x{nullptr, 0}, y{nullptr, 0};
        if (g.pubkey_export_ecc_raw2(k.key, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
            return {};
        std::string xs = ssh_datum(g, x), ys = y.data ? ssh_datum(g, y) : std::string();
        if (pk == GNUTLS_PK_EDDSA_ED25519) {
            ssh_put(wire, "ssh-ed25519");
            ssh_put(wire, xs);
        } else {
            std::size_t n = curve == GNUTLS_ECC_CURVE_SECP256R1   ? 32
                            : curve == GNUTLS_ECC_CURVE_SECP384R1 ? 48
                            : curve == GNUTLS_ECC_CURVE_SECP521R1 ? 66
                                                                  : 0;
            if (!n || xs.size() > n || ys.size() > n) return {};
            std::string name = n == 32 ? "nistp256" : n == 48 ? "nistp384" : "nistp521";
            std::string point = "\x04" + std::string(n - xs.size(), '\0') + xs +
                                std::string(n - ys.size(), '\0') + ys;
            ssh_put(wire, "ecdsa-sha2-" + name);
            ssh_put(wire, name);
            ssh_put(wire, point);
        }
    } else {
        return {};
    }
    std::string digest(32, '\0');
    const auto& n = nettle::api();
    sha256_ctx c{};
    n.sha256_init(&c);
    n.sha256_update(&c, wire.size(), reinterpret_cast<const std::uint8_t*>(wire.data()));
    n.sha256_digest(&c, digest.size(), reinterpret_cast<std::uint8_t*>(digest.data()));
    std::string b64 = nettle::base64_encode(digest);
    while (!b64.empty() && b64.back() == '=') b64.pop_back();
    return "SHA256:" + b64;
}

} // namespace

std::string pem_key_id(const std::string& pem) {
    PubKey k(pem);
    return k.error < 0 ? std::string() : ssh_key_id(k);
}

std::string pem_verify(const std::string& data, const std::vector<PemSignature>& sigs,
                       const std::vector<std::string>& keys) {
    std::string reasons;
    for (const std::string& pem : keys) {
        PubKey k(pem);
        if (k.error < 0) continue;
        std::string id = ssh_key_id(k);
        for (const auto& s : sigs) {
            // as go-securesystemslib's verifier: a signature naming another key is not tried
            if (!s.key_id.empty() && !id.empty() && s.key_id != id) continue;
            gnutls_datum_t d{reinterpret_cast<unsigned char*>(const_cast<char*>(data.data())),
                             static_cast<unsigned>(data.size())};
            gnutls_datum_t sd{reinterpret_cast<unsigned char*>(const_cast<char*>(s.sig.data())),
                              static_cast<unsigned>(s.sig.size())};
            int rc = k.g.pubkey_verify_data2(k.key, k.algorithm(), 0, &d, &sd);
            if (rc >= 0) return id.empty() ? "(a PEM key)" : id;
            reasons += (reasons.empty() ? "" : ", ") + std::string(k.g.strerror(rc));
        }
    }
    if (reasons.empty()) {
        std::string ids;
        for (auto& s : sigs)
            ids += (ids.empty() ? "" : ", ") + (s.key_id.empty() ? "none" : s.key_id.substr(0, 64));
        sigstore_refused("none of its signatures is by a key given (their key IDs: " + ids + ")");
    }
    sigstore_refused("cryptographic signature verification failed: " + reasons);
}

PemSignature pem_sign(const std::string& pem, const std::string& data, const std::string& origin) {
    const GnuTls& g = gnutls();
    struct Priv {
        const GnuTls& g;
        gnutls_privkey_t k = nullptr;
        ~Priv() {
            if (k) g.privkey_deinit(k);
        }
    } priv{g};
    if (g.privkey_init(&priv.k) < 0) throw Error(Errc::internal, "gnutls_privkey_init failed");
    gnutls_datum_t d{reinterpret_cast<unsigned char*>(const_cast<char*>(pem.data())),
                     static_cast<unsigned>(pem.size())};
    if (int rc =
            g.privkey_import_x509_raw(priv.k, &d, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN);
        rc < 0)
        bad_key(origin, std::string("not an unencrypted PEM private key (PKCS #8 \"PRIVATE "
                                    "KEY\", \"EC PRIVATE KEY\" or \"RSA PRIVATE KEY\": ") +
                            g.strerror(rc) + ")");
    int pk = g.privkey_get_pk_algorithm(priv.k, nullptr);
    gnutls_sign_algorithm_t alg = PubKey::sign_algorithm(pk);
    if (alg == GNUTLS_SIGN_UNKNOWN) bad_key(origin, "neither an ECDSA, RSA nor Ed25519 key");
    PubKey pub;
    if (pub.error < 0 || g.pubkey_import_privkey(pub.key, priv.k, 0, 0) < 0)
        throw Error(Errc::internal, "gnutls_pubkey_import_privkey failed");
    gnutls_datum_t in{reinterpret_cast<unsigned char*>(const_cast<char*>(data.data())),
                      static_cast<unsigned>(data.size())};
    gnutls_datum_t sig{nullptr, 0};
    if (int rc = g.privkey_sign_data2(priv.k, alg, 0, &in, &sig); rc < 0)
        bad_key(origin, std::string("signing failed (") + g.strerror(rc) + ")");
    PemSignature out;
    out.sig = ssh_datum(g, sig);
    out.key_id = ssh_key_id(pub);
    return out;
}

} // namespace gantry::site
