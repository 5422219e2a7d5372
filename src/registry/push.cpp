#include "registry/push.hpp"

#include "oci/image.hpp"
#include "oci/reference.hpp"
#include "registry/progress.hpp"
#include "site/resolve.hpp"
#include "store/images.hpp"
#include "store/layer_tar.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/parallel.hpp"

#include <algorithm>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <optional>
#include <sys/stat.h>

namespace gantry::registry {

using oci::Descriptor;
using oci::Digest;

namespace {

enum class Outcome { uploaded, existing, mounted };

class Pusher {
  public:
    Pusher(store::Store& store, Client& client, std::string repo, const PushOptions& opt,
           Progress& progress)
        : store_(store), client_(client), repo_(std::move(repo)), opt_(opt), progress_(progress) {}

    // Repositories of the same registry whose images (in the store) hold each blob: every
    // platform a name holds (store/platforms.hpp), not only its default image.
    void find_mount_sources() {
        auto names = store_.names();
        for (auto& [name, md] : names.refs) {
            oci::Reference r;
            try {
                r = oci::Reference::parse(name);
            } catch (const Error&) {
                continue;
            }
            if (r.domain != client_.domain() || r.path == repo_) continue;
            std::vector<Digest> images{md};
            try {
                if (auto i = names.indexes.find(name); i != names.indexes.end())
                    for (auto& d : oci::Index::parse(store_.read_blob(i->second)).manifests)
                        if (d.digest != md) images.push_back(d.digest);
            } catch (const Error&) { // fsck reports an index it cannot read
            }
            for (auto& image : images) {
                try {
                    auto m = oci::Manifest::parse(store_.read_blob(image));
                    sources_.emplace(m.config.digest, r.path);
                    for (auto& l : m.layers) sources_.emplace(l.digest, r.path);
                } catch (const Error&) {
                }
            }
        }
    }

    // The registry has the blob already (HEAD), or mounted it from another repository of
    // it (then nullopt with LOCATION set when the mount started an upload instead)
    std::optional<Outcome> present(const Descriptor& d, std::string& location) {
        const std::string what = "blob " + d.digest.str();
        if (auto it = settled_.find(d.digest); it != settled_.end()) return it->second;
        HttpRequest head;
        head.method = "HEAD";
        auto r = client_.call(head, "/v2/" + repo_ + "/blobs/" + d.digest.str(), scopes());
        if (r.status == 200) return Outcome::existing;
        if (r.status != 404) client_.fail(r, what + " (HEAD)", repo_);
        auto src = sources_.find(d.digest);
        if (src != sources_.end()) {
            HttpRequest post;
            post.method = "POST";
            auto m = client_.call(
                post,
                "/v2/" + repo_ + "/blobs/uploads/?mount=" + d.digest.str() +
                    "&from=" + url_escape(src->second),
                {"repository:" + repo_ + ":pull,push", "repository:" + src->second + ":pull"});
            if (m.status == 201) return Outcome::mounted;
            if (m.status == 202)
                location = m.header("location");
            else
                log::debug(what + ": mount from " + src->second + " refused (HTTP " +
                           std::to_string(m.status) + ")");
        }
        return std::nullopt;
    }
    // A layer the store keeps only unpacked: present() before it is compressed again
    void settle(const Digest& d, Outcome o) { settled_[d] = o; }
    // Where a blob's bytes are when they are not the store's blob (a layer compressed again)
    void file_for(const Digest& d, stdfs::path p) { files_[d] = std::move(p); }

    Outcome blob(const Descriptor& d, Progress::Bar* bar) {
        const std::string what = "blob " + d.digest.str();
        std::string location;
        if (auto o = present(d, location)) {
            auto src = sources_.find(d.digest);
            progress_.finish(bar, Progress::State::skipped,
                             *o == Outcome::existing ? "already in the registry"
                                                     : "mounted from " + src->second);
            return *o;
        }
        if (location.empty()) {
            HttpRequest post;
            post.method = "POST";
            auto p = client_.call(post, "/v2/" + repo_ + "/blobs/uploads/", scopes());
            if (p.status != 202) client_.fail(p, "upload of " + what, repo_);
            location = p.header("location");
        }
        if (location.empty())
            throw Error(Errc::invalid,
                        "registry " + client_.domain() + " started an upload without a Location",
                        "the registry does not follow the distribution API");

        auto file = files_.count(d.digest) ? files_.at(d.digest) : store_.blob_path(d.digest);
        Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno(what + " is missing from the store", "pull or load the image again");
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + file.string());
        std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
        progress_.start(bar);
        std::uint64_t off = 0;
        if (size > opt_.chunk_size) {
            while (off < size) {
                std::uint64_t len = std::min<std::uint64_t>(opt_.chunk_size, size - off);
                HttpRequest patch;
                patch.method = "PATCH";
                patch.body_fd = fd.get();
                patch.body_offset = off;
                patch.body_length = len;
                patch.headers = {"Content-Type: application/octet-stream",
                                 "Content-Range: " + std::to_string(off) + "-" +
                                     std::to_string(off + len - 1)};
                auto pr = client_.call(patch, absolute(location), scopes(), Retry::status_only);
                if (pr.status != 202)
                    client_.fail(pr, "chunk at " + std::to_string(off) + " of " + what, repo_);
                if (!pr.header("location").empty()) location = pr.header("location");
                off += len;
                bar->bytes += static_cast<std::int64_t>(len);
            }
        }
        HttpRequest put;
        put.method = "PUT";
        put.headers = {"Content-Type: application/octet-stream"};
        if (off < size) {
            put.body_fd = fd.get();
            put.body_offset = 0;
            put.body_length = size;
        }
        std::string url = absolute(location);
        url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") +
               url_escape(d.digest.str());
        auto pr = client_.call(put, url, scopes(), Retry::status_only);
        if (pr.status != 201 && pr.status != 204) client_.fail(pr, "upload of " + what, repo_);
        bar->bytes = static_cast<std::int64_t>(size);
        progress_.finish(bar, Progress::State::done);
        return Outcome::uploaded;
    }

    std::vector<std::string> scopes() const { return {"repository:" + repo_ + ":pull,push"}; }

    std::string absolute(const std::string& loc) {
        if (loc.starts_with("http://") || loc.starts_with("https://")) return loc;
        return client_.base() + (loc.starts_with('/') ? "" : "/") + loc;
    }

  private:
    store::Store& store_;
    Client& client_;
    std::string repo_;
    const PushOptions& opt_;
    Progress& progress_;
    std::map<Digest, std::string> sources_;
    std::map<Digest, Outcome> settled_;
    std::map<Digest, stdfs::path> files_;
};

// Puts TEXT (of DIGEST, media type MT) as REPO's manifest TARGET (a tag or a digest).
void put_manifest(Client& client, const oci::Reference& dest, const std::string& target,
                  const std::string& text, const std::string& mt, const Digest& digest) {
    const std::string repo = dest.path;
    HttpRequest put;
    put.method = "PUT";
    put.body = text;
    put.headers = {"Content-Type: " + mt};
    auto r = client.call(put, "/v2/" + repo + "/manifests/" + target,
                         {"repository:" + repo + ":pull,push"});
    if (r.status != 201 && r.status != 200) client.fail(r, "manifest " + dest.familiar(), repo);
    std::string got = r.header("docker-content-digest");
    if (!got.empty() && got != digest.str())
        throw Error(Errc::invalid,
                    "registry " + dest.domain + " stored the manifest as " + got + ", expected " +
                        digest.str(),
                    "the registry rewrote the manifest; report it to its operator");
}

// The image MD of the store pushed to REPO of CLIENT: its blobs, then its manifest under TARGET
// (a tag or a digest; "" : its own digest, as an index's image). Returns the manifest pushed
// (another than MD when layers the store keeps unpacked were compressed into other bytes).
struct Pushed {
    Digest digest;
    std::string media_type;
    std::int64_t size = 0;
};
Pushed push_image(store::Store& store, Client& client, const oci::Reference& dest, Digest md,
                  const std::string& target, const PushOptions& opt, PushResult& res) {
    const std::string repo = dest.path;
    std::string mtext = store.read_blob(md);
    auto manifest = oci::Manifest::parse(mtext);
    Progress progress("Pushing", opt.quiet, opt.tty, opt.observer);
    Pusher pusher(store, client, repo, opt, progress);
    pusher.find_mount_sources();
    // Layers the store keeps only unpacked (store/layer_tar.hpp): the registry's copy of the
    // original blob (or a mount) serves, and the manifest stays; else the layer is compressed
    // again and the manifest pushed is a new one, said here
    std::vector<store::Recompressed> recompressed;
    std::size_t changed = 0; // of those, the layers whose bytes (so digest) differ
    const Digest original = md;
    std::optional<oci::ImageConfig> config;
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
        auto& l = manifest.layers[i];
        if (store.has_blob(l.digest)) continue;
        if (!config) config = oci::ImageConfig::parse(store.read_blob(manifest.config.digest));
        if (i >= config->diff_ids.size() || !store::has_tar_split(store, config->diff_ids[i]))
            continue; // fails below, naming the missing blob
        std::string location;
        if (auto o = pusher.present(l, location)) {
            pusher.settle(l.digest, *o);
            continue;
        }
        std::string what = "layer " + std::to_string(i + 1) + " (" + l.digest.str() + ")";
        auto rc = store::recompress_layer(store, config->diff_ids[i], what);
        // a layer gantry's layer writer made (build, slim, import) comes back as its very blob
        bool same = rc.digest == l.digest;
        log::note(what + ": the store keeps it unpacked and " + dest.domain +
                  " does not have it: compressed again, " +
                  (same ? std::string("into the same blob") : "it is " + rc.digest.str()));
        pusher.file_for(rc.digest, rc.file);
        if (!same) {
            l.digest = rc.digest;
            l.size = static_cast<std::int64_t>(rc.size);
            l.media_type = manifest.media_type == oci::media::docker_manifest
                               ? oci::media::docker_layer_gzip
                               : oci::media::oci_layer_gzip;
            ++changed;
        }
        recompressed.push_back(std::move(rc));
    }
    if (changed > 0) {
        mtext = manifest.to_json().dump();
        md = Digest::of(mtext);
        log::note("the manifest pushed is new: " + original.str() + " -> " + md.str() + " (" +
                  std::to_string(changed) + " layer(s) compressed into other bytes)");
    }
    std::vector<Descriptor> blobs = manifest.layers;
    blobs.push_back(manifest.config);
    std::vector<Progress::Bar*> bars;
    for (auto& b : blobs) bars.push_back(progress.add(b.digest.str().substr(0, 19), b.size));

    res.blobs += blobs.size();
    std::mutex mu;
    try {
        parallel_for(blobs.size(), std::max(1u, opt.jobs), [&](std::size_t i) {
            try {
                Outcome o = pusher.blob(blobs[i], bars[i]);
                std::lock_guard l(mu);
                (o == Outcome::uploaded   ? res.uploaded
                 : o == Outcome::existing ? res.existing
                                          : res.mounted)++;
            } catch (...) {
                progress.finish(bars[i], Progress::State::failed);
                throw;
            }
        });
    } catch (const Error& e) {
        progress.stop();
        throw e.with_context("pushing to " + dest.familiar());
    } catch (...) {
        progress.stop();
        throw;
    }
    progress.stop();

    std::string mt = manifest.media_type.empty() ? oci::media::oci_manifest : manifest.media_type;
    if (!dest.digest.empty() && Digest::parse(dest.digest) != md && changed > 0)
        throw Error(Errc::invalid,
                    "destination " + dest.familiar() + " pins " + dest.digest +
                        ", but layers of the image had to be compressed again, so its manifest "
                        "is now " +
                        md.str(),
                    "push to a tag, or set store.keep_compressed: true and pull the image again");
    if (!dest.digest.empty() && Digest::parse(dest.digest) != md)
        throw Error(Errc::invalid,
                    "destination " + dest.familiar() + " pins " + dest.digest +
                        " but the image's manifest is " + md.str(),
                    "push to a tag, or pin the manifest's own digest");
    put_manifest(client, dest, target.empty() ? md.str() : target, mtext, mt, md);
    return {md, mt, static_cast<std::int64_t>(mtext.size())};
}

} // namespace

PushResult push(store::Store& store, const std::string& src, const std::string& dest_text,
                const PushOptions& opt) {
    oci::Reference dest;
    if (!dest_text.empty()) {
        dest = oci::Reference::parse(dest_text);
    } else {
        dest = oci::Reference::parse(src);
        if (dest.domain == "docker.io" && src.find("docker.io") == std::string::npos)
            log::debug("pushing to Docker Hub: " + dest.str());
    }
    // registries.conf: a blocked destination is refused; mirrors and location rewriting apply
    // to pulls only, as in containers/image (a push goes where its name says)
    site::check_not_blocked(site::RegistriesConf::system(), dest);
    ClientOptions co = opt.client;
    co.insecure = site::insecure(site::RegistriesConf::system(), dest.repository());
    Client client(dest.domain, co);
    std::string target = dest.digest.empty() ? dest.tag_or_latest() : dest.digest;
    PushResult res;
    res.ref = dest.str();
    // a name holding several platforms (store/platforms.hpp): each image by its digest, then
    // their index under the tag
    std::vector<store::PlatformImage> platforms;
    if (!opt.manifest) try {
            platforms = store::name_images(store, oci::Reference::parse(src).str());
        } catch (const Error& e) {
            if (e.code() != Errc::usage && e.code() != Errc::invalid) throw;
        }
    if (platforms.size() < 2) {
        Digest md = opt.manifest ? *opt.manifest : store::resolve(store, src);
        auto pushed = push_image(store, client, dest, md, target, opt, res);
        res.manifest = pushed.digest;
        res.manifest_size = pushed.size;
        return res;
    }
    if (!dest.digest.empty())
        throw Error(Errc::usage,
                    "destination " + dest.familiar() + " pins a digest, but " + src + " holds " +
                        std::to_string(platforms.size()) +
                        " platforms: their index is pushed under a tag",
                    "push to a tag");
    oci::Index idx;
    idx.media_type = oci::media::oci_index;
    for (auto& p : platforms) {
        auto pushed = push_image(store, client, dest, p.manifest, "", opt, res);
        Descriptor d;
        d.media_type = pushed.media_type;
        d.digest = pushed.digest;
        d.size = pushed.size;
        d.platform = p.platform;
        idx.manifests.push_back(std::move(d));
    }
    std::string text = idx.to_json().dump();
    res.manifest = Digest::of(text);
    res.manifest_size = static_cast<std::int64_t>(text.size());
    put_manifest(client, dest, target, text, oci::media::oci_index, res.manifest);
    res.platforms = platforms.size();
    return res;
}

} // namespace gantry::registry
