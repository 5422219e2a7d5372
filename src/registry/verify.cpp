#include "registry/verify.hpp"

#include "registry/http.hpp"
#include "site/lookaside.hpp"
#include "site/signature.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

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
    Request req;
    req.url = url;
    req.max_body = site::kMaxSignatureBytes;
    Transport t;
    t.connect_timeout = 15;
    t.stall_timeout = 15;
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

} // namespace

void verify_policy(const oci::Reference& logical, const oci::Reference& physical,
                   const oci::Digest& digest, const std::string& policy_file) {
    auto policy = site::Policy::load(policy_file);
    std::string scope =
        site::evaluate(policy, logical, digest, [&] { return fetch_signatures(physical, digest); });
    log::debug("image " + logical.str() + " accepted by " + policy.file + " (" + scope + ")");
}

} // namespace gantry::registry
