#include "registry/sign.hpp"

#include "site/lookaside.hpp"
#include "site/resolve.hpp"
#include "site/signature.hpp"
#include "site/sigstore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"

#include <ctime>

namespace gantry::registry {

namespace stdfs = std::filesystem;

SignTarget prepare_signing(const oci::Reference& dest, const std::string& key_id) {
    auto la = site::lookaside_for(dest);
    if (la.write_base.empty())
        throw Error(Errc::unsupported,
                    "--sign-by: registries.d names no place to write signatures of " + dest.str(),
                    "set lookaside-staging: file:///DIR for its registry in "
                    "~/.config/containers/registries.d/*.yaml (containers-registries.d(5))");
    if (!la.write_base.starts_with("file://"))
        throw Error(Errc::unsupported,
                    "--sign-by: signatures of " + dest.str() + " would be written to " +
                        la.write_base + " (" + la.write_origin +
                        "), and only file:// locations can be written",
                    "set lookaside-staging: file:///DIR for that scope and publish DIR at the "
                    "lookaside URL");
    site::check_signing_key(key_id);
    return {la.write_base.substr(7), la.write_origin};
}

stdfs::path sign_pushed(const SignTarget& target, const oci::Reference& dest,
                        const oci::Digest& digest, const std::string& key_id) {
    std::string payload = site::simple_signing_payload(digest, dest.str(), std::time(nullptr));
    std::string sig = site::gpg_sign(payload, key_id);
    std::string first = site::signature_url("file://" + target.dir.string(), dest, digest, 1);
    stdfs::path file = first.substr(7);
    fs::make_dirs(file.parent_path());
    fs::write_atomic(file, sig, 0644);
    std::error_code ec;
    for (unsigned n = 2;; ++n) { // older signatures of this digest go, as containers/image's do
        stdfs::path old =
            site::signature_url("file://" + target.dir.string(), dest, digest, n).substr(7);
        if (!stdfs::remove(old, ec)) break;
    }
    return file;
}

namespace {

oci::Digest upload_small_blob(Client& client, const std::string& repo, const std::string& data) {
    const std::vector<std::string> scopes = {"repository:" + repo + ":pull,push"};
    auto d = oci::Digest::of(data);
    HttpRequest head;
    head.method = "HEAD";
    if (client.call(head, "/v2/" + repo + "/blobs/" + d.str(), scopes).status == 200) return d;
    HttpRequest post;
    post.method = "POST";
    auto p = client.call(post, "/v2/" + repo + "/blobs/uploads/", scopes);
    if (p.status != 202) client.fail(p, "upload of a sigstore signature", repo);
    std::string loc = p.header("location");
    if (loc.empty())
        throw Error(Errc::invalid,
                    "registry " + client.domain() + " started an upload without a Location",
                    "the registry does not follow the distribution API");
    if (!loc.starts_with("http://") && !loc.starts_with("https://"))
        loc = client.base() + (loc.starts_with('/') ? "" : "/") + loc;
    loc += (loc.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + d.str();
    HttpRequest put;
    put.method = "PUT";
    put.body = data;
    put.headers = {"Content-Type: application/octet-stream"};
    auto r = client.call(put, loc, scopes, Retry::status_only);
    if (r.status != 201 && r.status != 204) client.fail(r, "upload of a sigstore signature", repo);
    return d;
}

} // namespace

std::string read_sigstore_key(const std::string& key_file) {
    return fs::read_file(key_file, 1u << 20);
}

std::string sign_pushed_sigstore(const ClientOptions& opt, const oci::Reference& dest,
                                 const oci::Digest& digest, const std::string& key_file,
                                 const std::string& passphrase) {
    ClientOptions co = opt;
    co.insecure = site::insecure(site::RegistriesConf::system(), dest.repository());
    Client client(dest.domain, co);
    const std::string repo = dest.path;
    const std::string tag = site::sigstore_attachment_tag(digest);
    std::string payload = site::sigstore_payload(digest, dest.str());
    std::string sig =
        site::sigstore_sign(read_sigstore_key(key_file), passphrase, payload, key_file);
    // the signatures already attached stay (a second signer adds a layer)
    nlohmann::json layers = nlohmann::json::array();
    HttpRequest get;
    get.headers.push_back("Accept: application/vnd.oci.image.manifest.v1+json");
    get.max_body = 4u << 20;
    auto old = client.call(get, "/v2/" + repo + "/manifests/" + tag,
                           {"repository:" + repo + ":pull,push"});
    if (old.status == 200) {
        site::parse_sigstore_attachment(old.body); // refuses what is not an attachment
        layers = safe_json::parse(old.body, "the sigstore attachment")["layers"];
    } else if (old.status != 404) {
        client.fail(old, "sigstore attachment " + tag, repo);
    }
    auto pd = upload_small_blob(client, repo, payload);
    layers.push_back({{"mediaType", site::kSigstorePayloadType},
                      {"size", payload.size()},
                      {"digest", pd.str()},
                      {"annotations", {{site::kSigstoreSignatureAnnotation, sig}}}});
    nlohmann::json diff_ids = nlohmann::json::array();
    for (auto& l : layers) diff_ids.push_back(l["digest"]);
    std::string config = nlohmann::json{{"architecture", ""},
                                        {"os", ""},
                                        {"config", nlohmann::json::object()},
                                        {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}}
                             .dump();
    auto cd = upload_small_blob(client, repo, config);
    std::string manifest = nlohmann::json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config",
         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
          {"size", config.size()},
          {"digest", cd.str()}}},
        {"layers", layers}}.dump();
    HttpRequest put;
    put.method = "PUT";
    put.body = manifest;
    put.headers = {"Content-Type: application/vnd.oci.image.manifest.v1+json"};
    auto r = client.call(put, "/v2/" + repo + "/manifests/" + tag,
                         {"repository:" + repo + ":pull,push"});
    if (r.status != 201 && r.status != 200) client.fail(r, "sigstore attachment " + tag, repo);
    return dest.repository() + ":" + tag;
}

} // namespace gantry::registry
