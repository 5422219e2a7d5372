#include "site/signature.hpp"

#include "site/registries_conf.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/library.hpp"

#include <cstdlib>
#include <filesystem>
#include <gpgme.h>
#include <mutex>

namespace gantry::site {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Gpgme {
    decltype(&::gpgme_check_version) check_version = nullptr;
    decltype(&::gpgme_new) new_ctx = nullptr;
    decltype(&::gpgme_release) release = nullptr;
    decltype(&::gpgme_set_protocol) set_protocol = nullptr;
    decltype(&::gpgme_ctx_set_engine_info) set_engine_info = nullptr;
    decltype(&::gpgme_data_new) data_new = nullptr;
    decltype(&::gpgme_data_new_from_mem) data_new_from_mem = nullptr;
    decltype(&::gpgme_data_release) data_release = nullptr;
    decltype(&::gpgme_data_release_and_get_mem) data_release_and_get_mem = nullptr;
    decltype(&::gpgme_free) free = nullptr;
    decltype(&::gpgme_op_import) op_import = nullptr;
    decltype(&::gpgme_op_import_result) op_import_result = nullptr;
    decltype(&::gpgme_op_verify) op_verify = nullptr;
    decltype(&::gpgme_op_verify_result) op_verify_result = nullptr;
    decltype(&::gpgme_strerror) strerror = nullptr;
};

const Gpgme& gpgme() {
    static Gpgme api;
    static std::once_flag once;
    std::call_once(once, [] {
        static Library lib("libgpgme.so.11", "policy.json's signedBy (GPG signatures) needs GPGME",
                           "apt-get install libgpgme11 gnupg");
        lib.bind(api.check_version, "gpgme_check_version");
        lib.bind(api.new_ctx, "gpgme_new");
        lib.bind(api.release, "gpgme_release");
        lib.bind(api.set_protocol, "gpgme_set_protocol");
        lib.bind(api.set_engine_info, "gpgme_ctx_set_engine_info");
        lib.bind(api.data_new, "gpgme_data_new");
        lib.bind(api.data_new_from_mem, "gpgme_data_new_from_mem");
        lib.bind(api.data_release, "gpgme_data_release");
        lib.bind(api.data_release_and_get_mem, "gpgme_data_release_and_get_mem");
        lib.bind(api.free, "gpgme_free");
        lib.bind(api.op_import, "gpgme_op_import");
        lib.bind(api.op_import_result, "gpgme_op_import_result");
        lib.bind(api.op_verify, "gpgme_op_verify");
        lib.bind(api.op_verify_result, "gpgme_op_verify_result");
        lib.bind(api.strerror, "gpgme_strerror");
        api.check_version(nullptr); // initialises the library
    });
    return api;
}

[[noreturn]] void refused(const std::string& why) {
    throw Error(Errc::policy, why);
}

// A GnuPG home of its own, removed with its contents, and a context bound to it
struct TempGpg {
    const Gpgme& g = gpgme();
    std::string home;
    gpgme_ctx_t ctx = nullptr;
    TempGpg() {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/gantry-gpg-XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw_errno("creating a GnuPG home in " + tmpl);
        home = tmpl;
        // verifying needs no secret key: gpg must not start a gpg-agent that outlives the home
        fs::write_atomic(stdfs::path(home) / "gpg.conf", "no-autostart\n", 0600);
        if (auto e = g.new_ctx(&ctx); e) fail("gpgme_new", e);
        g.set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
        if (auto e = g.set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()); e)
            fail("setting the GnuPG home", e);
    }
    ~TempGpg() {
        if (ctx) g.release(ctx);
        std::error_code ec;
        stdfs::remove_all(home, ec);
    }
    TempGpg(const TempGpg&) = delete;
    TempGpg& operator=(const TempGpg&) = delete;
    [[noreturn]] void fail(const std::string& what, gpgme_error_t e) const {
        throw Error(Errc::internal, "GPGME: " + what + ": " + g.strerror(e),
                    "check that gnupg (gpg) is installed: apt-get install gnupg");
    }
};

struct Data {
    const Gpgme& g;
    gpgme_data_t d = nullptr;
    explicit Data(const Gpgme& api) : g(api) {}
    ~Data() {
        if (d) g.data_release(d);
    }
    Data(const Data&) = delete;
    Data& operator=(const Data&) = delete;
};

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

std::string gpg_verify(const std::string& sig, const std::vector<std::string>& keyrings) {
    TempGpg gpg;
    const Gpgme& g = gpg.g;
    std::vector<std::string> trusted;
    for (auto& k : keyrings) {
        Data d(g);
        if (auto e = g.data_new_from_mem(&d.d, k.data(), k.size(), 0); e)
            gpg.fail("reading a key", e);
        if (auto e = g.op_import(gpg.ctx, d.d); e) gpg.fail("importing a key", e);
        auto* res = g.op_import_result(gpg.ctx);
        for (auto* s = res ? res->imports : nullptr; s; s = s->next)
            if (s->result == 0 && s->fpr) trusted.emplace_back(s->fpr);
    }
    if (trusted.empty())
        throw Error(Errc::invalid, "the policy's signedBy keys hold no usable OpenPGP public key",
                    "export the key with gpg --export KEYID > FILE and name FILE in keyPath");
    Data in(g), out(g);
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
    if (s->status != 0 || s->validity == GPGME_VALIDITY_NEVER || s->validity_reason != 0 ||
        s->wrong_key_usage)
        refused(std::string("invalid OpenPGP signature (") +
                (s->status ? g.strerror(s->status) : "key not valid") + ")");
    std::string fpr = s->fpr ? s->fpr : "";
    bool known = false;
    for (auto& t : trusted) known = known || t == fpr;
    if (!known) refused("signed by key " + fpr + ", which the policy does not trust");
    std::size_t n = 0;
    char* mem = g.data_release_and_get_mem(out.d, &n);
    out.d = nullptr;
    std::string payload(mem ? mem : "", mem ? n : 0);
    if (mem) g.free(mem);
    return payload;
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
    if (doc.contains("optional") && !doc["optional"].is_object())
        refused("the signature's \"optional\" is not an object");
    const json& critical = member(doc, "critical", "payload");
    exactly(critical, {"type", "image", "identity"}, "critical");
    const json& type = critical["type"];
    if (!type.is_string() || type.get<std::string>() != "atomic container signature")
        refused("the signature's critical.type is not \"atomic container signature\"");
    exactly(critical["image"], {"docker-manifest-digest"}, "critical.image");
    exactly(critical["identity"], {"docker-reference"}, "critical.identity");
    const json& d = critical["image"]["docker-manifest-digest"];
    const json& r = critical["identity"]["docker-reference"];
    if (!d.is_string() || !r.is_string())
        refused("the signature's digest and reference must be strings");
    if (d.get<std::string>() != digest.str())
        refused("signature for docker digest \"" + d.get<std::string>() +
                "\" does not match the manifest " + digest.str());
    if (!identity_matches(id, logical, r.get<std::string>()))
        refused("signature for identity \"" + r.get<std::string>() + "\" is not accepted for " +
                logical.str());
}

std::string evaluate(const Policy& policy, const oci::Reference& logical, const oci::Digest& digest,
                     const std::function<std::vector<std::string>()>& signatures) {
    std::string scope;
    const Requirements& reqs = policy.for_image(logical, scope);
    std::optional<std::vector<std::string>> sigs;
    auto fail = [&](const Requirement& req, const std::string& why, const std::string& hint) {
        refuse_image(policy, scope, logical, req, why, hint);
    };
    for (const Requirement& req : reqs) {
        switch (req.type) {
        case Requirement::Type::insecure_accept_anything:
            continue;
        case Requirement::Type::reject:
            refuse_image(policy, scope, logical, req, "the policy rejects this image",
                         "the site does not allow it; use an image the policy accepts");
        case Requirement::Type::sigstore_signed:
            refuse_image(policy, scope, logical, req,
                         "sigstore signatures are not verified by this gantry, so the image "
                         "cannot meet the requirement",
                         "use a signedBy (GPG) requirement for this scope");
        case Requirement::Type::signed_by:
            break;
        }
        std::vector<std::string> keys;
        if (!req.key_data.empty()) keys.push_back(req.key_data);
        for (auto& p : req.key_paths) {
            try {
                keys.push_back(fs::read_file(p, 16u << 20));
            } catch (const Error& e) {
                fail(req, "its key file cannot be read: " + e.message(),
                     "fix keyPath in " + policy.file);
            }
        }
        if (!sigs) sigs = signatures();
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
    return scope;
}

} // namespace gantry::site
