#include "registry/verify.hpp"

#include "registry/http.hpp"
#include "site/lookaside.hpp"
#include "site/signature.hpp"
#include "site/sigstore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <ctime>
#include <sys/stat.h>

namespace gantry::registry {

namespace {

constexpr unsigned kMaxSignatures = 64; // signature-1 ... signature-64, then stop

// Signature N from a file:// lookaside: its bytes, or nullopt when there is none. One over the
// size limit comes back as that many bytes' worth of marker, so the evaluation names it.
std::optional<std::string> lookaside_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    if (static_cast<std::uint64_t>(st.st_size) > site::kMaxSignatureBytes)
        return std::string(site::kMaxSignatureBytes + 1, '\0');
    return fs::read_file(path, site::kMaxSignatureBytes);
}

std::optional<std::string> lookaside_http(const std::string& url) {
    Session s;
    HttpRequest req;
    req.url = url;
    req.max_body = site::kMaxSignatureBytes;
    Transport t;
    // a signature is a few KiB: a server that accepts and then sends less than the rate floor
    // (1 KiB/s: registry/transfer_bounds.hpp) for 10 s is down; it is a document, bounded
    // overall too (redirects: followed up to 10, http and https only; registry/http.cpp)
    t.connect_timeout = 10;
    t.stall_timeout = 10;
    Response r;
    try {
        r = s.perform(req, t);
    } catch (const TransportError& e) {
        throw Error(Errc::network, "signature lookaside " + url + ": " + e.message(), e.hint());
    } catch (const Error& e) {
        if (e.code() != Errc::invalid) throw;
        return std::string(site::kMaxSignatureBytes + 1, '\0'); // over the body limit
    }
    if (r.status == 404) return std::nullopt;
    if (r.status != 200)
        throw Error(Errc::network,
                    "signature lookaside " + url + " answered HTTP " + std::to_string(r.status),
                    "check the lookaside URL in registries.d, or the server");
    return std::move(r.body);
}

std::vector<std::string> fetch_signatures(const oci::Reference& physical,
                                          const oci::Digest& digest) {
    auto la = site::lookaside_for(physical);
    std::vector<std::string> out;
    if (la.base.empty()) return out;
    log::debug("signatures of " + physical.str() + " from " + la.base + " (" + la.origin + ")");
    for (unsigned n = 1; n <= kMaxSignatures; ++n) {
        std::string url = site::signature_url(la.base, physical, digest, n);
        auto sig = url.starts_with("file://") ? lookaside_file(url.substr(7)) : lookaside_http(url);
        if (!sig) break;
        out.push_back(std::move(*sig));
    }
    return out;
}

// The sigstore attachment of DIGEST in PHYSICAL's repository (tag sha256-<hex>.sig), when
// registries.d says use-sigstore-attachments for that location; no attachment is no signature.
std::vector<site::SigstoreSignature>
fetch_attachments(Client& client, const oci::Reference& physical, const oci::Digest& digest) {
    std::vector<site::SigstoreSignature> out;
    auto la = site::lookaside_for(physical);
    if (!la.sigstore_attachments) {
        log::debug("no sigstore attachments for " + physical.str() +
                   " (registries.d does not set use-sigstore-attachments)");
        return out;
    }
    const std::string& repo = physical.path;
    const std::string tag = site::sigstore_attachment_tag(digest);
    const std::vector<std::string> scopes = {"repository:" + repo + ":pull"};
    HttpRequest req;
    req.headers.push_back("Accept: application/vnd.oci.image.manifest.v1+json");
    req.max_body = 4u << 20;
    auto r = client.call(req, "/v2/" + repo + "/manifests/" + tag, scopes);
    if (r.status == 404) return out;
    if (r.status != 200) client.fail(r, "sigstore attachment " + tag, repo);
    for (auto& layer : site::parse_sigstore_attachment(r.body)) {
        site::SigstoreSignature sig{layer.media_type, {}, layer.signature};
        if (layer.size > site::kMaxSignatureBytes) {
            sig.payload.assign(site::kMaxSignatureBytes + 1, '\0'); // refused by its size
            out.push_back(std::move(sig));
            continue;
        }
        HttpRequest b;
        b.max_body = site::kMaxSignatureBytes;
        auto br = client.call(b, "/v2/" + repo + "/blobs/" + layer.digest.str(), scopes);
        if (br.status != 200)
            client.fail(br, "sigstore signature " + layer.digest.str() + " of " + tag, repo);
        if (oci::Digest::of(br.body) != layer.digest || br.body.size() != layer.size)
            throw Error(Errc::policy,
                        "sigstore signature " + layer.digest.str() + " of " + tag +
                            ": the registry sent other bytes than the attachment names",
                        "the registry or a proxy altered the signature; report it");
        sig.payload = std::move(br.body);
        out.push_back(std::move(sig));
    }
    return out;
}

} // namespace

site::Verdict verify_policy(Client& client, const oci::Reference& logical,
                            const oci::Reference& physical, const oci::Digest& digest,
                            const std::string& policy_file) {
    auto policy = site::Policy::load(policy_file);
    site::SignatureSources sources;
    sources.simple = [&] { return fetch_signatures(physical, digest); };
    sources.sigstore = [&] { return fetch_attachments(client, physical, digest); };
    auto verdict = site::evaluate(policy, logical, digest, sources);
    log::debug("image " + logical.str() + " accepted by " + policy.file + " (" + verdict.scope +
               ")");
    return verdict;
}

namespace {

std::filesystem::path verdict_file(const store::Store& store, const oci::Digest& manifest) {
    std::string d = manifest.str();
    return store.verdicts_dir() / (d.substr(d.find(':') + 1) + ".json");
}

} // namespace

void record_verdict(store::Store& store, const std::string& ref, const oci::Digest& manifest,
                    const site::Verdict& verdict) {
    auto file = verdict_file(store, manifest);
    nlohmann::json doc = nlohmann::json::object();
    try {
        doc = safe_json::parse(fs::read_file(file, 1u << 20), file.string());
    } catch (const Error&) {
        doc = nlohmann::json::object(); // none yet, or unreadable: written anew
    }
    if (!doc.is_object()) doc = nlohmann::json::object();
    bool signature = false;
    for (auto& r : verdict.requirements)
        signature = signature || r == "signedBy" || r == "sigstoreSigned";
    std::string when = text::rfc3339(std::time(nullptr));
    doc[ref] = {{"policy", verdict.policy_file},   {"policy_digest", verdict.policy_digest},
                {"scope", verdict.scope},          {"requirements", verdict.requirements},
                {"signature_verified", signature}, {"verified_at", when}};
    fs::make_dirs(file.parent_path());
    fs::write_atomic(file, doc.dump(2) + "\n", 0644);
}

nlohmann::json recorded_verdict(const store::Store& store, const std::string& ref,
                                const oci::Digest& manifest) {
    try {
        auto doc =
            safe_json::parse(fs::read_file(verdict_file(store, manifest), 1u << 20), "verdicts");
        if (doc.is_object() && doc.contains(ref)) return doc[ref];
    } catch (const Error&) {
    }
    return nullptr;
}

} // namespace gantry::registry
