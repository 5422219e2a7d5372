#include "registry/oras.hpp"

#include "oci/reference.hpp"
#include "registry/artifacts.hpp"
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

constexpr std::uint64_t kMaxOrasManifest = 4u << 20;

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
    auto client = client_for(ref, opt);
    upload_blob(*client, ref.path, layer, fd.get(), size, {});
    upload_blob(*client, ref.path, config_digest, -1, 0, config);
    std::string name = fs::stdfs::path(file).filename().string();
    nlohmann::ordered_json manifest = {
        {"schemaVersion", 2},
        {"mediaType", kOciManifestType},
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
    put.headers = {"Content-Type: " + std::string(kOciManifestType)};
    auto r = client->call(put, "/v2/" + ref.path + "/manifests/" + ref.tag_or_latest(),
                          {"repository:" + ref.path + ":pull,push"});
    if (r.status != 201 && r.status != 200) client->fail(r, "manifest " + ref.familiar(), ref.path);
    return {ref.str(), oci::Digest::of(text), size};
}

OrasResult oras_pull(const std::string& ref_text, const std::string& out, const ClientOptions& opt,
                     const std::string& policy_file) {
    auto ref = oci::Reference::parse(ref_text);
    auto client = client_for(ref, opt);
    const std::string what = "oras://" + ref.familiar();
    const std::vector<std::string> scopes{"repository:" + ref.path + ":pull"};
    HttpRequest get;
    get.headers = {std::string("Accept: ") + kOciManifestType};
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
        download_blob(*client, ref.path, digest, size, fd.get(), what + "'s SIF");
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
