#include "registry/artifacts.hpp"

#include "site/registries_conf.hpp"
#include "site/resolve.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

namespace gantry::registry {

namespace {

constexpr std::uint64_t kMaxManifest = 4u << 20; // as pull's
// a referrers index past this many entries is refused, not walked
constexpr std::size_t kMaxReferrers = 10000;

std::string absolute(Client& c, const std::string& loc) {
    if (loc.starts_with("http://") || loc.starts_with("https://")) return loc;
    return c.base() + (loc.starts_with('/') ? "" : "/") + loc;
}

std::vector<std::string> push_scopes(const std::string& repo) {
    return {"repository:" + repo + ":pull,push"};
}

std::vector<std::string> pull_scopes(const std::string& repo) {
    return {"repository:" + repo + ":pull"};
}

} // namespace

std::unique_ptr<Client> client_for(const oci::Reference& ref, const ClientOptions& opt) {
    const auto& conf = site::RegistriesConf::system();
    site::check_not_blocked(conf, ref);
    ClientOptions co = opt;
    co.insecure = co.insecure || site::insecure(conf, ref.repository());
    return std::make_unique<Client>(ref.domain, co);
}

std::vector<nlohmann::json> referrers_in_index(const std::string& body, const std::string& type,
                                               const std::string& what) {
    auto doc = safe_json::parse(body, what);
    if (!doc.is_object() || !doc.contains("manifests") || !doc["manifests"].is_array())
        throw Error(Errc::invalid, what + " is not an image index (no manifests list)",
                    "the registry sent something else: check it, or push the artifact again");
    if (doc["manifests"].size() > kMaxReferrers)
        throw Error(Errc::invalid,
                    what + " lists " + std::to_string(doc["manifests"].size()) +
                        " referrers, more than gantry reads (" + std::to_string(kMaxReferrers) +
                        ")",
                    "remove old artifacts from the repository");
    std::vector<nlohmann::json> out;
    for (auto& m : doc["manifests"]) {
        if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string() ||
            !oci::Digest::valid(m["digest"].get<std::string>()) || !m.contains("size") ||
            !m["size"].is_number_unsigned())
            throw Error(Errc::invalid, what + " holds a descriptor without a valid digest or size",
                        "the registry's index is damaged");
        auto t = m.find("artifactType");
        if (t != m.end() && t->is_string() && t->get<std::string>() == type) out.push_back(m);
    }
    return out;
}

std::string referrers_tag(const oci::Digest& subject) {
    return "sha256-" + subject.hex(); // 71 characters: within a tag's 128
}

void upload_blob(Client& c, const std::string& repo, const oci::Digest& digest, int fd,
                 std::uint64_t size, const std::string& text) {
    const auto scopes = push_scopes(repo);
    HttpRequest head;
    head.method = "HEAD";
    auto h = c.call(head, "/v2/" + repo + "/blobs/" + digest.str(), scopes);
    if (h.status == 200) return;
    HttpRequest post;
    post.method = "POST";
    auto p = c.call(post, "/v2/" + repo + "/blobs/uploads/", scopes);
    if (p.status != 202) c.fail(p, "upload of blob " + digest.str(), repo);
    std::string url = absolute(c, p.header("location"));
    url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + digest.str();
    HttpRequest put;
    put.method = "PUT";
    put.headers = {"Content-Type: application/octet-stream"};
    if (fd >= 0) {
        put.body_fd = fd;
        put.body_length = size;
    } else {
        put.body = text;
    }
    auto r = c.call(put, url, scopes, Retry::status_only);
    if (r.status != 201 && r.status != 204) c.fail(r, "upload of blob " + digest.str(), repo);
}

void download_blob(Client& c, const std::string& repo, const oci::Digest& digest,
                   std::uint64_t size, int fd, const std::string& what) {
    Sha256 sha;
    std::uint64_t got = 0;
    HttpRequest get;
    get.expected_bytes = size;
    get.sink = [&](const char* data, std::size_t n) {
        sha.update(data, n);
        got += n;
        if (got > size) return false;
        fs::write_all(fd, data, n, what);
        return true;
    };
    auto r = c.call(get, "/v2/" + repo + "/blobs/" + digest.str(), pull_scopes(repo));
    if (r.status != 200) c.fail(r, what + " " + digest.str(), repo);
    if (got != size || oci::Digest::from_hex(sha.hex_final()) != digest)
        throw Error(Errc::invalid,
                    what + ": the registry sent other bytes than the manifest names (" +
                        std::to_string(got) + " bytes, " + std::to_string(size) + " expected)",
                    "retry; if it stays, the registry or a proxy alters the artifact");
}

ManifestRef get_manifest(Client& c, const std::string& repo, const std::string& target,
                         const std::string& what) {
    HttpRequest get;
    get.headers = {std::string("Accept: ") + kOciManifestType + ", " + kOciIndexType +
                   ", application/vnd.docker.distribution.manifest.v2+json, "
                   "application/vnd.docker.distribution.manifest.list.v2+json"};
    get.max_body = kMaxManifest;
    auto r = c.call(get, "/v2/" + repo + "/manifests/" + target, pull_scopes(repo));
    if (r.status == 404)
        throw Error(Errc::not_found, what + " is not in " + c.domain() + "/" + repo,
                    "push the image there first (gantry push), or name the repository it is in");
    if (r.status != 200) c.fail(r, what, repo);
    ManifestRef m;
    m.digest = oci::Digest::of(r.body);
    m.size = r.body.size();
    m.media_type = r.header("content-type");
    if (auto semi = m.media_type.find(';'); semi != std::string::npos) m.media_type.resize(semi);
    m.body = std::move(r.body);
    return m;
}

ReferrerPush push_referrer(Client& c, const std::string& repo, const std::string& manifest,
                           const oci::Digest& subject) {
    ReferrerPush out;
    out.manifest = oci::Digest::of(manifest);
    HttpRequest put;
    put.method = "PUT";
    put.body = manifest;
    put.headers = {std::string("Content-Type: ") + kOciManifestType};
    auto r = c.call(put, "/v2/" + repo + "/manifests/" + out.manifest.str(), push_scopes(repo));
    if (r.status != 201 && r.status != 200) c.fail(r, "artifact " + out.manifest.str(), repo);
    if (r.header("oci-subject") == subject.str()) {
        out.indexed_by_registry = true;
        return out;
    }
    // the tag fallback: SUBJECT's index of referrers, read, extended and put back
    auto doc = safe_json::parse(manifest, "the artifact's manifest");
    nlohmann::json entry = {
        {"mediaType", kOciManifestType}, {"digest", out.manifest.str()}, {"size", manifest.size()}};
    if (doc.contains("artifactType")) entry["artifactType"] = doc["artifactType"];
    if (doc.contains("annotations")) entry["annotations"] = doc["annotations"];
    const std::string tag = referrers_tag(subject);
    nlohmann::json index = {
        {"schemaVersion", 2}, {"mediaType", kOciIndexType}, {"manifests", nlohmann::json::array()}};
    HttpRequest get;
    get.headers = {std::string("Accept: ") + kOciIndexType};
    get.max_body = kMaxManifest;
    auto old = c.call(get, "/v2/" + repo + "/manifests/" + tag, push_scopes(repo));
    if (old.status == 200) {
        index = safe_json::parse(old.body, "the referrers index " + tag);
        if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
            throw Error(Errc::invalid,
                        "the tag " + tag + " of " + repo +
                            " is not an image index, so it cannot list the referrers",
                        "remove that tag: the referrers tag schema keeps an index there");
        for (auto& m : index["manifests"])
            if (safe_json::string_field(m, "digest") == out.manifest.str()) return out;
    } else if (old.status != 404) {
        c.fail(old, "the referrers index " + tag, repo);
    }
    index["manifests"].push_back(entry);
    HttpRequest put_index;
    put_index.method = "PUT";
    put_index.body = index.dump();
    put_index.headers = {std::string("Content-Type: ") + kOciIndexType};
    auto pi = c.call(put_index, "/v2/" + repo + "/manifests/" + tag, push_scopes(repo));
    if (pi.status != 201 && pi.status != 200) c.fail(pi, "the referrers index " + tag, repo);
    log::debug("referrers of " + subject.str() + " in " + repo + ": tag " + tag);
    return out;
}

std::vector<nlohmann::json> list_referrers(Client& c, const std::string& repo,
                                           const oci::Digest& subject,
                                           const std::string& artifact_type) {
    const auto scopes = pull_scopes(repo);
    HttpRequest api;
    api.headers = {std::string("Accept: ") + kOciIndexType};
    api.max_body = kMaxManifest;
    auto r = c.call(api,
                    "/v2/" + repo + "/referrers/" + subject.str() +
                        "?artifactType=" + url_escape(artifact_type),
                    scopes);
    const std::string where = c.domain() + "/" + repo;
    if (r.status == 200)
        return referrers_in_index(r.body, artifact_type,
                                  "the referrers of " + subject.str() + " in " + where +
                                      " (the referrers API)");
    if (r.status != 404) c.fail(r, "the referrers of " + subject.str(), repo);
    // no referrers API: the tag schema
    const std::string tag = referrers_tag(subject);
    HttpRequest get;
    get.headers = {std::string("Accept: ") + kOciIndexType};
    get.max_body = kMaxManifest;
    auto t = c.call(get, "/v2/" + repo + "/manifests/" + tag, scopes);
    if (t.status == 404) return {};
    if (t.status != 200) c.fail(t, "the referrers index " + tag, repo);
    return referrers_in_index(t.body, artifact_type, "the referrers index " + tag + " in " + where);
}

} // namespace gantry::registry
