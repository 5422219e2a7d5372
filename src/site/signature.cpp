#include "site/signature.hpp"

#include "site/gpgme.hpp"
#include "site/registries_conf.hpp"
#include "site/sigstore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/library.hpp"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <unistd.h>

namespace gantry::site {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

namespace {

[[noreturn]] void refused(const std::string& why) {
    throw Error(Errc::policy, why);
}

bool name_only_text(std::string_view s) {
    auto slash = s.rfind('/');
    return s.find('@') == std::string_view::npos &&
           s.find(':', slash == std::string_view::npos ? 0 : slash) == std::string_view::npos;
}

// "repo:tag" or "repo@digest" (a digest wins over a tag, as containers/image has one or the other)
std::string exact(const oci::Reference& r) {
    return r.digest.empty() ? r.repository() + ":" + r.tag_or_latest()
                            : r.repository() + "@" + r.digest;
}

bool repo_digest_or_exact(const oci::Reference& intended, const oci::Reference& sig,
                          bool sig_name_only) {
    if (!intended.digest.empty()) return sig.repository() == intended.repository();
    return !sig_name_only && exact(sig) == exact(intended);
}

const json& member(const json& obj, const char* key, const char* where) {
    auto it = obj.find(key);
    if (it == obj.end())
        refused(std::string("the signature's ") + where + " lacks \"" + key + "\"");
    return *it;
}

void exactly(const json& obj, std::initializer_list<const char*> keys, const char* where) {
    if (!obj.is_object()) refused(std::string("the signature's ") + where + " is not an object");
    for (auto& [k, v] : obj.items()) {
        bool ok = false;
        for (const char* key : keys) ok = ok || k == key;
        if (!ok)
            refused(std::string("the signature's ") + where + " has an unknown field \"" + k +
                    "\"");
    }
    for (const char* key : keys) (void)member(obj, key, where);
}

[[noreturn]] void refuse_image(const Policy& policy, const std::string& scope,
                               const oci::Reference& logical, const Requirement& req,
                               const std::string& why, const std::string& hint) {
    throw Error(Errc::policy,
                "image " + logical.str() + " refused by " + policy.file + " (" + scope +
                    ", requirement " + req.name() + "): " + why,
                hint);
}

} // namespace

GpgSigned gpg_verify_message(const std::string& sig, const std::vector<std::string>& keyrings,
                             const std::string& keys_what, const std::string& untrusted,
                             bool modern_hash) {
    TempGpg gpg;
    const Gpgme& g = gpg.g;
    std::vector<std::string> trusted;
    for (auto& k : keyrings) {
        GpgData d(g);
        if (auto e = g.data_new_from_mem(&d.d, k.data(), k.size(), 0); e)
            gpg.fail("reading a key", e);
        if (auto e = g.op_import(gpg.ctx, d.d); e) gpg.fail("importing a key", e);
        auto* res = g.op_import_result(gpg.ctx);
        for (auto* s = res ? res->imports : nullptr; s; s = s->next)
            if (s->result == 0 && s->fpr) trusted.emplace_back(s->fpr);
    }
    if (trusted.empty())
        throw Error(Errc::invalid, keys_what + " hold no usable OpenPGP public key",
                    "export the key with gpg --export --armor KEYID > FILE and name FILE");
    GpgData in(g), out(g);
    if (auto e = g.data_new_from_mem(&in.d, sig.data(), sig.size(), 0); e)
        gpg.fail("reading a signature", e);
    if (auto e = g.data_new(&out.d); e) gpg.fail("gpgme_data_new", e);
    if (auto e = g.op_verify(gpg.ctx, in.d, nullptr, out.d); e)
        refused(std::string("not a valid OpenPGP signature (") + g.strerror(e) + ")");
    auto* vr = g.op_verify_result(gpg.ctx);
    int count = 0;
    for (auto* s = vr ? vr->signatures : nullptr; s; s = s->next) ++count;
    if (count != 1) refused("unexpected OpenPGP signature count " + std::to_string(count));
    gpgme_signature_t s = vr->signatures;
    if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY)
        refused("signed by key " + std::string(s->fpr ? s->fpr : "?") + ", " + untrusted);
    if (s->status != 0 || s->validity == GPGME_VALIDITY_NEVER || s->validity_reason != 0 ||
        s->wrong_key_usage)
        refused(std::string("invalid OpenPGP signature (") +
                (s->status ? g.strerror(s->status) : "key not valid") + ")");
    if (modern_hash && s->hash_algo != GPGME_MD_SHA256 && s->hash_algo != GPGME_MD_SHA384 &&
        s->hash_algo != GPGME_MD_SHA512 && s->hash_algo != GPGME_MD_SHA224)
        refused("the OpenPGP signature uses hash algorithm " + std::to_string(s->hash_algo) +
                " (accepted: SHA-224, SHA-256, SHA-384, SHA-512)");
    GpgSigned r;
    r.fingerprint = s->fpr ? s->fpr : "";
    gpgme_key_t key = nullptr;
    if (!r.fingerprint.empty() && g.get_key(gpg.ctx, r.fingerprint.c_str(), &key, 0) == 0 && key) {
        if (key->fpr) r.fingerprint = key->fpr; // the primary key's, as the keyring lists it
        if (key->uids && key->uids->uid) r.user_id = key->uids->uid;
        g.key_unref(key);
    }
    bool known = false;
    for (auto& t : trusted) known = known || t == r.fingerprint;
    if (!known) refused("signed by key " + r.fingerprint + ", " + untrusted);
    r.text = out.take();
    return r;
}

std::string gpg_verify(const std::string& sig, const std::vector<std::string>& keyrings) {
    try {
        return gpg_verify_message(sig, keyrings, "the policy's signedBy keys",
                                  "which the policy does not trust", false)
            .text;
    } catch (const Error& e) {
        if (e.code() == Errc::invalid)
            throw Error(Errc::invalid, e.message(),
                        "export the key with gpg --export KEYID > FILE and name FILE in keyPath");
        throw;
    }
}

namespace {

void check_sigstore(const Policy& policy, const std::string& scope, const oci::Reference& logical,
                    const oci::Digest& digest, const Requirement& req,
                    const SignatureSources& sources,
                    std::optional<std::vector<SigstoreSignature>>& attachments) {
    if (!req.unsupported.empty())
        refuse_image(policy, scope, logical, req,
                     "its field \"" + req.unsupported +
                         "\" (Fulcio certificates, PKI roots, Rekor bundles) is not verified by "
                         "this gantry, so the image cannot meet the requirement",
                     "use sigstoreSigned with keyPath or keyData (a cosign public key) for this "
                     "scope");
    std::vector<std::string> keys = req.key_texts;
    for (auto& p : req.key_paths) {
        try {
            keys.push_back(fs::read_file(p, 1u << 20));
        } catch (const Error& e) {
            refuse_image(policy, scope, logical, req, "its key file cannot be read: " + e.message(),
                         "fix keyPath in " + policy.file);
        }
    }
    // a bad key fails the requirement even if another key would verify (as containers/image:
    // fallback keys get fixed before they are needed)
    for (std::size_t i = 0; i < keys.size(); ++i) {
        try {
            check_sigstore_key(keys[i], i < req.key_texts.size()
                                            ? "keyData " + std::to_string(i + 1)
                                            : req.key_paths[i - req.key_texts.size()]);
        } catch (const Error& e) {
            refuse_image(policy, scope, logical, req, e.message(), "fix the key in " + policy.file);
        }
    }
    if (!attachments)
        attachments = sources.sigstore ? sources.sigstore() : std::vector<SigstoreSignature>{};
    if (attachments->empty())
        refuse_image(policy, scope, logical, req,
                     "a signature was required, but no signature exists",
                     "sign the image (gantry push --sign-by-sigstore-private-key, cosign sign) "
                     "and set use-sigstore-attachments: true for its registry (and each mirror) "
                     "in registries.d");
    std::string reasons;
    for (std::size_t i = 0; i < attachments->size(); ++i) {
        const SigstoreSignature& s = (*attachments)[i];
        try {
            if (s.media_type != kSigstorePayloadType)
                refused("unsupported media type \"" + s.media_type + "\"");
            if (s.payload.size() > kMaxSignatureBytes || s.signature.size() > kMaxSignatureBytes)
                refused("larger than 4 MiB");
            sigstore_verify(s.payload, s.signature, keys);
            check_sigstore_payload(s.payload, digest, req.identity, logical);
            return;
        } catch (const Error& e) {
            if (e.code() != Errc::policy) throw;
            reasons += (reasons.empty() ? "" : "; ") + std::string("signature ") +
                       std::to_string(i + 1) + ": " + e.message();
        }
    }
    refuse_image(policy, scope, logical, req, "no signature was accepted: " + reasons,
                 "check the image's sigstore signatures and the policy's keys and "
                 "signedIdentity (cosign signs the repository: use matchRepository)");
}

} // namespace

std::string simple_signing_payload(const oci::Digest& digest, const std::string& identity,
                                   std::int64_t timestamp) {
    json doc = {{"critical",
                 {{"identity", {{"docker-reference", identity}}},
                  {"image", {{"docker-manifest-digest", digest.str()}}},
                  {"type", "atomic container signature"}}},
                {"optional", {{"creator", "gantry"}, {"timestamp", timestamp}}}};
    return doc.dump();
}

void check_signing_key(const std::string& key_id) {
    const Gpgme& g = gpgme();
    gpgme_ctx_t ctx = nullptr;
    gpgme_key_t key = nullptr;
    gpgme_error_t e = g.new_ctx(&ctx);
    if (!e) e = g.get_key(ctx, key_id.c_str(), &key, 1);
    bool ok = !e && key && key->can_sign;
    if (key) g.key_unref(key);
    if (ctx) g.release(ctx);
    if (!ok)
        throw Error(Errc::invalid,
                    "--sign-by " + key_id + ": no secret key that can sign" +
                        (e ? std::string(" (") + g.strerror(e) + ")" : std::string()),
                    "list the secret keys with gpg --list-secret-keys (GNUPGHOME selects the "
                    "keyring) and give its fingerprint to --sign-by");
}

bool identity_matches(const SignedIdentity& id, const oci::Reference& logical,
                      const std::string& signed_ref) {
    oci::Reference sig;
    try {
        sig = oci::Reference::parse(signed_ref);
    } catch (const Error&) {
        return false;
    }
    bool sig_name = name_only_text(signed_ref);
    using K = SignedIdentity::Kind;
    switch (id.kind) {
    case K::match_exact:
        return !sig_name && exact(sig) == exact(logical);
    case K::match_repo_digest_or_exact:
        return repo_digest_or_exact(logical, sig, sig_name);
    case K::match_repository:
        return sig.repository() == logical.repository();
    case K::exact_reference:
        return !sig_name && exact(sig) == id.value;
    case K::exact_repository:
        return sig.repository() == id.value;
    case K::remap_identity: {
        oci::Reference intended = logical;
        std::string full = exact(logical);
        long n = prefix_match(logical.repository(), id.prefix);
        if (n >= 0) {
            try {
                intended = oci::Reference::parse(id.signed_prefix +
                                                 full.substr(static_cast<std::size_t>(n)));
            } catch (const Error&) {
                return false;
            }
        }
        return repo_digest_or_exact(intended, sig, sig_name);
    }
    }
    return false;
}

void check_payload(const std::string& payload, const oci::Digest& digest, const SignedIdentity& id,
                   const oci::Reference& logical) {
    check_signed_payload(payload, PayloadKind::simple_signing, digest, id, logical);
}

void check_signed_payload(const std::string& payload, PayloadKind kind, const oci::Digest& digest,
                          const SignedIdentity& id, const oci::Reference& logical) {
    const bool sigstore = kind == PayloadKind::sigstore;
    const char* want_type =
        sigstore ? "cosign container image signature" : "atomic container signature";
    json doc;
    try {
        doc = safe_json::parse(payload, "the signature's payload");
    } catch (const Error& e) {
        refused(e.message());
    }
    if (!doc.is_object()) refused("the signature's payload is not a JSON object");
    for (auto& [k, v] : doc.items())
        if (k != "critical" && k != "optional")
            refused("the signature's payload has an unknown field \"" + k + "\"");
    if (sigstore && !doc.contains("optional")) // cosign writes "optional": null at least
        refused("the signature's payload lacks \"optional\"");
    if (doc.contains("optional") && !doc["optional"].is_object() &&
        !(sigstore && doc["optional"].is_null()))
        refused("the signature's \"optional\" is not an object");
    const json& critical = member(doc, "critical", "payload");
    exactly(critical, {"type", "image", "identity"}, "critical");
    const json& type = critical["type"];
    if (!type.is_string() || type.get<std::string>() != want_type)
        refused(std::string("the signature's critical.type is not \"") + want_type + "\"");
    exactly(critical["image"], {"docker-manifest-digest"}, "critical.image");
    exactly(critical["identity"], {"docker-reference"}, "critical.identity");
    const json& d = critical["image"]["docker-manifest-digest"];
    const json& r = critical["identity"]["docker-reference"];
    if (!d.is_string() || !r.is_string())
        refused("the signature's digest and reference must be strings");
    if (d.get<std::string>() != digest.str())
        refused("signature for docker digest \"" + d.get<std::string>() +
                "\" does not match the manifest " + digest.str());
    if (kind != PayloadKind::file && !identity_matches(id, logical, r.get<std::string>()))
        refused("signature for identity \"" + r.get<std::string>() + "\" is not accepted for " +
                logical.str());
}

Verdict evaluate(const Policy& policy, const oci::Reference& logical, const oci::Digest& digest,
                 const SignatureSources& sources) {
    Verdict verdict;
    verdict.policy_file = policy.file;
    verdict.policy_digest = policy.digest;
    const Requirements& reqs = policy.for_image(logical, verdict.scope);
    const std::string& scope = verdict.scope;
    for (auto& r : reqs) verdict.requirements.push_back(r.name());
    std::optional<std::vector<std::string>> sigs;
    std::optional<std::vector<SigstoreSignature>> attachments;
    auto fail = [&](const Requirement& req, const std::string& why, const std::string& hint) {
        refuse_image(policy, scope, logical, req, why, hint);
    };
    auto read_keys = [&](const Requirement& req, std::vector<std::string>& keys) {
        for (auto& p : req.key_paths) {
            try {
                keys.push_back(fs::read_file(p, 16u << 20));
            } catch (const Error& e) {
                fail(req, "its key file cannot be read: " + e.message(),
                     "fix keyPath in " + policy.file);
            }
        }
    };
    for (const Requirement& req : reqs) {
        switch (req.type) {
        case Requirement::Type::insecure_accept_anything:
            continue;
        case Requirement::Type::reject:
            refuse_image(policy, scope, logical, req, "the policy rejects this image",
                         "the site does not allow it; use an image the policy accepts");
        case Requirement::Type::sigstore_signed:
            check_sigstore(policy, scope, logical, digest, req, sources, attachments);
            continue;
        case Requirement::Type::signed_by:
            break;
        }
        std::vector<std::string> keys;
        if (!req.key_data.empty()) keys.push_back(req.key_data);
        read_keys(req, keys);
        if (!sigs) sigs = sources.simple ? sources.simple() : std::vector<std::string>{};
        if (sigs->empty())
            fail(req, "a signature was required, but no signature exists",
                 "sign the image (skopeo copy --sign-by, podman push --sign-by) and publish the "
                 "signature where registries.d's lookaside says");
        std::string reasons;
        bool accepted = false;
        for (std::size_t i = 0; i < sigs->size() && !accepted; ++i) {
            const std::string& s = (*sigs)[i];
            try {
                if (s.size() > kMaxSignatureBytes) refused("larger than 4 MiB");
                check_payload(gpg_verify(s, keys), digest, req.identity, logical);
                accepted = true;
            } catch (const Error& e) {
                if (e.code() != Errc::policy) throw;
                reasons += (reasons.empty() ? "" : "; ") + std::string("signature ") +
                           std::to_string(i + 1) + ": " + e.message();
            }
        }
        if (!accepted)
            fail(req, "no signature was accepted: " + reasons,
                 "check the image's signatures and the policy's keys and signedIdentity");
    }
    return verdict;
}

} // namespace gantry::site
