#include "registry/oras.hpp"

#include "oci/reference.hpp"
#include "registry/pull.hpp"
#include "registry/verify.hpp"
#include "sif/container.hpp"
#include "site/registries_conf.hpp"
#include "site/resolve.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"
#include "util/log.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::registry {

namespace {

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::uint64_t kMaxOrasManifest = 4u << 20;

std::string oras_absolute(Client& c, const std::string& loc) {
    if (loc.starts_with("http://") || loc.starts_with("https://")) return loc;
    return c.base() + (loc.starts_with('/') ? "" : "/") + loc;
}

// A client for REF under registries.conf (blocked: refused; insecure: plain http allowed)
std::unique_ptr<Client> oras_client(const oci::Reference& ref, const ClientOptions& opt) {
    const auto& conf = site::RegistriesConf::system();
    site::check_not_blocked(conf, ref);
    ClientOptions co = opt;
    co.insecure = co.insecure || site::insecure(conf, ref.repository());
    return std::make_unique<Client>(ref.domain, co);
}

// Uploads bytes (FD's whole file of SIZE, or TEXT when FD < 0) as blob DIGEST of REPO, unless the
// registry has it
void oras_upload(Client& c, const std::string& repo, const oci::Digest& digest, int fd,
                 std::uint64_t size, const std::string& text) {
    const std::vector<std::string> scopes{"repository:" + repo + ":pull,push"};
    HttpRequest head;
    head.method = "HEAD";
    auto h = c.call(head, "/v2/" + repo + "/blobs/" + digest.str(), scopes);
    if (h.status == 200) return;
    HttpRequest post;
    post.method = "POST";
    auto p = c.call(post, "/v2/" + repo + "/blobs/uploads/", scopes);
    if (p.status != 202) c.fail(p, "upload of blob " + digest.str(), repo);
    std::string url = oras_absolute(c, p.header("location"));
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

} // namespace

OrasResult oras_push(const std::string& file, const std::string& ref_text,
                     const ClientOptions& opt) {
    auto ref = oci::Reference::parse(ref_text);
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + file, "give the SIF file to push");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(Errc::invalid, file + " is not a regular file", "give a SIF file");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    // the SIF's digest, and its magic checked on the way
    Sha256 sha;
    std::string head;
    std::vector<char> buf(1u << 20);
    for (std::uint64_t off = 0; off < size;) {
        ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("cannot read " + file);
        if (head.size() < 128) head.append(buf.data(), std::min<std::size_t>(n, 128));
        sha.update(buf.data(), static_cast<std::size_t>(n));
        off += static_cast<std::uint64_t>(n);
    }
    if (!sif::looks_like_sif(head))
        throw Error(Errc::invalid, file + " is not a SIF file (no SIF magic)",
                    "push SIF files (`gantry save IMAGE --format sif -o FILE.sif`); `gantry "
                    "push IMAGE` pushes a store image");
    auto layer = oci::Digest::from_hex(sha.hex_final());
    const std::string config = "{}";
    auto config_digest = oci::Digest::of(config);
    auto client = oras_client(ref, opt);
    oras_upload(*client, ref.path, layer, fd.get(), size, {});
    oras_upload(*client, ref.path, config_digest, -1, 0, config);
    std::string name = fs::stdfs::path(file).filename().string();
    nlohmann::ordered_json manifest = {
        {"schemaVersion", 2},
        {"mediaType", kOciManifest},
        {"config",
         {{"mediaType", kSifConfigMediaType},
          {"digest", config_digest.str()},
          {"size", config.size()}}},
        {"layers",
         {{{"mediaType", kSifLayerMediaType},
           {"digest", layer.str()},
           {"size", size},
           {"annotations", {{"org.opencontainers.image.title", name}}}}}}};
    std::string text = manifest.dump();
    HttpRequest put;
    put.method = "PUT";
    put.body = text;
    put.headers = {"Content-Type: " + std::string(kOciManifest)};
    auto r = client->call(put, "/v2/" + ref.path + "/manifests/" + ref.tag_or_latest(),
                          {"repository:" + ref.path + ":pull,push"});
    if (r.status != 201 && r.status != 200) client->fail(r, "manifest " + ref.familiar(), ref.path);
    return {ref.str(), oci::Digest::of(text), size};
}

OrasResult oras_pull(const std::string& ref_text, const std::string& out, const ClientOptions& opt,
                     const std::string& policy_file) {
    auto ref = oci::Reference::parse(ref_text);
    auto client = oras_client(ref, opt);
    const std::string what = "oras://" + ref.familiar();
    const std::vector<std::string> scopes{"repository:" + ref.path + ":pull"};
    HttpRequest get;
    get.headers = {std::string("Accept: ") + kOciManifest};
    get.max_body = kMaxOrasManifest;
    std::string target = ref.digest.empty() ? ref.tag_or_latest() : ref.digest;
    auto r = client->call(get, "/v2/" + ref.path + "/manifests/" + target, scopes);
    if (r.status != 200) client->fail(r, what, ref.path);
    auto manifest_digest = oci::Digest::of(r.body);
    if (!ref.digest.empty() && manifest_digest.str() != ref.digest)
        throw Error(Errc::invalid,
                    what + ": the registry sent a manifest whose digest is " +
                        manifest_digest.str(),
                    "the pin is wrong or the registry is compromised");
    auto doc = safe_json::parse(r.body, what + "'s manifest");
    if (!doc.is_object() || !doc.contains("layers") || !doc["layers"].is_array() ||
        doc["layers"].size() != 1 || !doc["layers"][0].is_object())
        throw Error(Errc::invalid,
                    what + " is not a SIF artifact: ORAS SIF images have a single layer",
                    "pull a registry image with docker://REF");
    const auto& layer = doc["layers"][0];
    std::string mt = layer.value("mediaType", "");
    if (mt != kSifLayerMediaType && mt != kSifLayerMediaTypeProto)
        throw Error(Errc::invalid,
                    what + ": invalid layer media type \"" + mt + "\" (a SIF artifact's is " +
                        kSifLayerMediaType + ")",
                    "pull a registry image with docker://REF");
    if (!layer.contains("digest") || !layer["digest"].is_string() || !layer.contains("size") ||
        !layer["size"].is_number_unsigned())
        throw Error(Errc::invalid, what + "'s layer has no digest or size",
                    "the artifact is damaged");
    auto digest = oci::Digest::parse(layer["digest"].get<std::string>());
    auto size = layer["size"].get<std::uint64_t>();
    // the site's policy, on the manifest as for an image (its signatures included)
    verify_policy(*client, ref, ref, manifest_digest, policy_file);
    auto dir = fs::stdfs::absolute(out).parent_path();
    std::string tmpl =
        (dir / ("." + fs::stdfs::path(out).filename().string() + ".gantry-pull-XXXXXX")).string();
    Fd fd(::mkstemp(tmpl.data()));
    if (!fd) throw_errno("cannot write in " + dir.string(), "pull into a writable directory");
    std::string tmp = tmpl;
    try {
        Sha256 sha;
        std::uint64_t got = 0;
        HttpRequest blob;
        blob.expected_bytes = size;
        blob.sink = [&](const char* data, std::size_t n) {
            sha.update(data, n);
            got += n;
            fs::write_all(fd.get(), data, n, tmp);
            return got <= size;
        };
        auto b = client->call(blob, "/v2/" + ref.path + "/blobs/" + digest.str(), scopes);
        if (b.status != 200) client->fail(b, what + "'s SIF " + digest.str(), ref.path);
        if (got != size || oci::Digest::from_hex(sha.hex_final()) != digest)
            throw Error(Errc::invalid,
                        what + ": the registry sent other bytes than the manifest names (" +
                            std::to_string(got) + " bytes)",
                        "retry; if it stays, the registry or a proxy alters the SIF");
        ::fchmod(
            fd.get(), 0644 & ~[] {
                mode_t m = ::umask(0);
                ::umask(m);
                return m;
            }());
        if (::fsync(fd.get()) != 0) throw_errno("cannot write " + tmp);
        fs::stdfs::rename(tmp, out);
        Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (d) ::fsync(d.get());
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    log::debug(what + ": " + std::to_string(size) + " bytes to " + out);
    return {ref.str(), manifest_digest, size};
}

} // namespace gantry::registry
