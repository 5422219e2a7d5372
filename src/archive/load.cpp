#include "archive/load.hpp"

#include "archive/source.hpp"
#include "oci/reference.hpp"
#include "store/importer.hpp"
#include "store/layer_tar.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <unistd.h>

namespace gantry::archive {

using oci::Descriptor;
using oci::Digest;
using oci::json;

namespace {

std::string fallback_repository(const std::filesystem::path& path, const std::string& name) {
    if (!name.empty()) return oci::Reference::parse(name).repository();
    std::string base = path.filename().string();
    if (base.empty()) base = path.parent_path().filename().string();
    for (const char* ext : {".gz", ".zst", ".tgz", ".tar", ".oci"})
        if (base.size() > std::strlen(ext) && base.ends_with(ext))
            base.resize(base.size() - std::strlen(ext));
    std::string clean;
    for (char c : text::lower(base))
        clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '-';
    while (!clean.empty() && !std::isalnum(static_cast<unsigned char>(clean.front())))
        clean.erase(0, 1);
    while (!clean.empty() && !std::isalnum(static_cast<unsigned char>(clean.back())))
        clean.pop_back();
    if (clean.empty()) clean = "image";
    return "localhost/" + clean;
}

std::string normalise_ref(const std::string& text) {
    return oci::Reference::parse(text).str();
}

// Hex named by "blobs/sha256/<hex>", "<hex>.json", "<hex>.tar" or "<hex>/layer.tar" member names
// when that hex is a content digest (docker's v1 layer IDs are not, so only blobs/ and .json).
std::optional<Digest> digest_in_name(const std::string& name) {
    std::string hex;
    if (name.starts_with("blobs/sha256/"))
        hex = name.substr(13);
    else if (name.ends_with(".json") && name.size() == 69)
        hex = name.substr(0, 64);
    if (hex.size() == 64 && Digest::valid("sha256:" + hex)) return Digest::from_hex(hex);
    return std::nullopt;
}

void check_size(const Source& src, const std::string& member, const Descriptor& d) {
    std::uint64_t have = src.size(member);
    if (static_cast<std::int64_t>(have) != d.size)
        throw Error(Errc::invalid,
                    src.path() + ": blob " + d.digest.str() + " is " + std::to_string(have) +
                        " bytes but its descriptor says " + std::to_string(d.size),
                    "the archive is corrupt or was modified; export it again");
}

std::string blob_member(const Digest& d) {
    return "blobs/sha256/" + d.hex();
}

class Loader {
  public:
    Loader(store::Store& store, const std::filesystem::path& path, const LoadOptions& opt)
        : store_(store), path_(path), opt_(opt),
          importer_(store, store::ImportOptions{opt.privileged, opt.jobs}) {}

    std::vector<LoadedImage> run() {
        auto lock = store_.writer_lock();
        src_ = Source::open_path(path_, store_.tmp_dir());
        if (src_->has("manifest.json")) return docker_archive();
        if (src_->has("index.json")) return oci_layout();
        if (src_->is_directory())
            throw Error(Errc::invalid,
                        path_.string() + " is not an OCI layout: it has no index.json",
                        "give a `docker save` archive, an OCI archive or an OCI layout directory");
        if (src_->has("repositories"))
            throw Error(Errc::unsupported,
                        path_.string() + " is a legacy docker archive without manifest.json",
                        "export it again with a docker newer than 1.10, or with skopeo");
        const std::string import = "gantry import " + path_.string() + " NAME[:TAG]";
        if (looks_like_a_root())
            throw Error(Errc::invalid,
                        path_.string() + " is a root filesystem, not an image archive (it has "
                                         "neither manifest.json nor index.json)",
                        "make an image of it with `" + import + "`");
        throw Error(Errc::invalid,
                    path_.string() + " is not an image archive: it has neither manifest.json "
                                     "(docker save) nor index.json (OCI)",
                    "give a `docker save` archive, an OCI archive or an OCI layout directory; "
                    "for a tar of a root filesystem, `" +
                        import + "`");
    }

  private:
    // Whether the archive holds what a root filesystem does (bin/, etc/, usr/ members).
    bool looks_like_a_root() const {
        constexpr std::string_view tops[] = {"bin/", "etc/", "usr/", "lib/", "sbin/"};
        unsigned seen = 0; // a bit per top-level directory
        for (auto& name : src_->names()) {
            std::string_view n = name;
            while (n.starts_with("./")) n.remove_prefix(2);
            for (unsigned i = 0; i < std::size(tops); ++i)
                if (n.starts_with(tops[i])) seen |= 1u << i;
        }
        return std::popcount(seen) >= 2;
    }

    std::vector<LoadedImage> docker_archive() {
        json doc = oci::parse_json(src_->read("manifest.json"), path_.string() + ": manifest.json");
        if (!doc.is_array() || doc.empty())
            throw Error(Errc::invalid, path_.string() + ": manifest.json lists no images");
        std::vector<LoadedImage> out;
        for (size_t i = 0; i < doc.size(); ++i) {
            const json& e = doc[i];
            std::string where = path_.string() + ": manifest.json entry " + std::to_string(i);
            if (!e.is_object() || !e.contains("Config") || !e["Config"].is_string() ||
                !e.contains("Layers") || !e["Layers"].is_array())
                throw Error(Errc::invalid, where + " lacks Config or Layers");
            if (e.contains("LayerSources") && e["LayerSources"].is_object() &&
                !e["LayerSources"].empty())
                throw Error(
                    Errc::unsupported,
                    where + " has foreign layers (LayerSources): their content lives outside the "
                            "archive",
                    "use an image built on a Linux base, or export it with the layers included");
            std::string cfg_name = e["Config"].get<std::string>();
            std::string cfg_text = src_->read(cfg_name);
            Digest cfg = Digest::of(cfg_text);
            if (auto named = digest_in_name(cfg_name); named && *named != cfg)
                throw Error(Errc::invalid,
                            where + ": config " + cfg_name + " has digest " + cfg.str() +
                                ", not the one its name says",
                            "the archive is corrupt or was modified; export it again");
            auto config = oci::ImageConfig::parse(cfg_text);
            check_wanted(config.platform, where);
            const json& layers = e["Layers"];
            if (layers.size() != config.diff_ids.size())
                throw Error(Errc::invalid,
                            where + ": " + std::to_string(layers.size()) +
                                " layers but the config lists " +
                                std::to_string(config.diff_ids.size()) + " diff_ids",
                            "the image is inconsistent; export it again");
            std::vector<store::LayerJob> jobs;
            for (size_t l = 0; l < layers.size(); ++l) {
                if (!layers[l].is_string())
                    throw Error(Errc::invalid, where + ": layer names must be strings");
                std::string member = layers[l].get<std::string>();
                store::LayerJob job;
                job.diff_id = config.diff_ids[l];
                job.what = "layer " + std::to_string(l + 1) + "/" + std::to_string(layers.size()) +
                           " (" + member + ")";
                job.blob = digest_in_name(member);
                if (!job.blob) { // an uncompressed layer's blob digest is its diffID
                    auto r = src_->open(member);
                    unsigned char head[4] = {};
                    std::size_t n = r->read(head, sizeof head);
                    if (oci::sniff_compression(head, n) == oci::Compression::none)
                        job.blob = job.diff_id;
                }
                job.open = [this, member] { return src_->open(member); };
                job.reopenable = true; // a member of the archive's file
                jobs.push_back(std::move(job));
            }
            auto done = importer_.layers(jobs);
            store_.put_blob(cfg_text, cfg);

            bool zstd = std::any_of(done.begin(), done.end(), [](auto& d) {
                return d.compression == oci::Compression::zstd;
            });
            oci::Manifest m;
            m.media_type = zstd ? oci::media::oci_manifest : oci::media::docker_manifest;
            m.config = Descriptor{zstd ? oci::media::oci_config : oci::media::docker_config,
                                  cfg,
                                  static_cast<std::int64_t>(cfg_text.size()),
                                  {},
                                  {},
                                  {}};
            for (auto& d : done) {
                std::string mt;
                switch (d.compression) {
                case oci::Compression::gzip:
                    mt = zstd ? oci::media::oci_layer_gzip : oci::media::docker_layer_gzip;
                    break;
                case oci::Compression::zstd:
                    mt = oci::media::oci_layer_zstd;
                    break;
                default:
                    mt = zstd ? oci::media::oci_layer : oci::media::docker_layer;
                }
                m.layers.push_back(Descriptor{mt, d.blob, d.size, {}, {}, {}});
            }
            Digest md = store_.put_blob(m.to_json().dump());

            LoadedImage img{{}, md, cfg, "docker-archive"};
            if (e.contains("RepoTags") && e["RepoTags"].is_array())
                for (auto& t : e["RepoTags"])
                    if (t.is_string()) img.refs.push_back(normalise_ref(t.get<std::string>()));
            if (img.refs.empty() && !opt_.keep_unnamed)
                img.refs.push_back(fallback_repository(naming_path(), opt_.name) + ":latest");
            out.push_back(std::move(img));
        }
        tag_all(out, false);
        return out;
    }

    // Names every loaded image in one update of refs.json, once all of them are in: a load that
    // fails on a later image leaves no tag behind (docker and podman keep the images before it;
    // their blobs stay here too, unreferenced, until `system prune`).
    // PLATFORMS (an OCI layout): a name given to several images holds each, one per platform;
    // else (a docker archive) the last image given a name keeps it, as docker load does.
    void tag_all(const std::vector<LoadedImage>& images, bool platforms) {
        std::set<Digest> unnamed; // LoadOptions::keep_unnamed's
        for (const auto& img : images)
            if (img.refs.empty()) unnamed.insert(img.manifest);
        if (!unnamed.empty())
            store_.update_untagged(
                [&](std::set<Digest>& u) { u.insert(unnamed.begin(), unnamed.end()); });
        std::map<std::string, std::vector<Digest>> named;
        for (const auto& img : images)
            for (const auto& r : img.refs) {
                if (!platforms) named[r].clear();
                named[r].push_back(img.manifest);
            }
        store_.update_refs([&](store::RefMap& m) {
            for (const auto& [r, manifests] : named)
                if (manifests.size() == 1) m[r] = manifests.front();
        });
        for (const auto& [r, manifests] : named)
            if (manifests.size() > 1) store::set_images(store_, r, manifests);
    }

    struct Candidate {
        std::vector<std::string> refs;
        Descriptor manifest;
        std::optional<oci::Platform> platform;
    };

    std::vector<LoadedImage> oci_layout() {
        if (!src_->has("oci-layout"))
            throw Error(Errc::invalid, path_.string() + " has index.json but no oci-layout file",
                        "it is not a complete OCI image layout; export it again");
        json layout = oci::parse_json(src_->read("oci-layout"), path_.string() + ": oci-layout");
        if (!layout.is_object() || !layout.contains("imageLayoutVersion"))
            throw Error(Errc::invalid, path_.string() + ": oci-layout has no imageLayoutVersion",
                        "it is not a valid OCI image layout; export it again");
        if (layout["imageLayoutVersion"] != "1.0.0")
            throw Error(Errc::unsupported,
                        path_.string() + ": unsupported OCI layout version " +
                            layout["imageLayoutVersion"].dump(),
                        "gantry reads image layout version 1.0.0");
        auto index = oci::Index::parse(src_->read("index.json"));
        if (index.manifests.empty())
            throw Error(Errc::invalid, path_.string() + ": index.json lists no images",
                        "the layout is empty; export an image into it first");

        // Group the manifests by the names they carry; pick one platform per group.
        std::map<std::string, std::vector<Candidate>> groups;
        size_t unnamed = 0;
        for (auto& d : index.manifests) {
            auto refs = names_of(d);
            std::string key = refs.empty() ? "#unnamed" + std::to_string(unnamed++) : refs.front();
            for (auto& c : expand(d)) {
                c.refs = refs;
                groups[key].push_back(std::move(c));
            }
        }
        if (groups.empty())
            throw Error(Errc::unsupported,
                        path_.string() + ": index.json names no image manifest gantry can read",
                        "gantry reads OCI image manifests and Docker schema 2 manifests");
        std::vector<LoadedImage> out;
        for (auto& [key, cands] : groups) {
            for (const Candidate* c : chosen(cands)) {
                LoadedImage img = image(c->manifest);
                img.refs = c->refs;
                if (img.refs.empty() && !opt_.keep_unnamed) {
                    img.refs.push_back(fallback_repository(naming_path(), opt_.name) + ":latest");
                    if (unnamed > 1)
                        log::warn("several unnamed images in " + path_.string() +
                                  "; each was tagged " + img.refs.front() + " in turn");
                }
                img.format = src_->is_directory() ? "oci-dir" : "oci-archive";
                out.push_back(std::move(img));
            }
        }
        tag_all(out, true);
        return out;
    }

    // The images of a name loaded: --platform's; else every platform whose manifest the
    // archive holds (docker saves an index whose other platforms it never pulled), one each,
    // the name then holding them all (store/platforms.hpp); else choose()'s refusal.
    std::vector<const Candidate*> chosen(const std::vector<Candidate>& cands) {
        std::vector<const Candidate*> out;
        if (!opt_.platforms.empty()) { // each asked, held (choose's refusal otherwise), once
            for (auto& want : opt_.platforms) {
                const Candidate* c = &choose(cands, want);
                if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
            }
            return out;
        }
        if (cands.size() == 1) return {&choose(cands, oci::Platform::host())};
        std::set<std::string> platforms;
        for (auto& c : cands) {
            if (!src_->has(blob_member(c.manifest.digest)) && !store_.has_blob(c.manifest.digest))
                continue;
            if (c.platform &&
                (c.platform->os == "unknown" || !platforms.insert(c.platform->str()).second))
                continue; // an attestation, or a platform given twice: its first image
            out.push_back(&c);
        }
        if (out.empty()) return {&choose(cands, oci::Platform::host())};
        return out;
    }

    std::vector<std::string> names_of(const Descriptor& d) {
        auto get = [&](const char* k) {
            auto it = d.annotations.find(k);
            return it == d.annotations.end() ? std::string() : it->second;
        };
        std::string full = get("io.containerd.image.name");
        std::string refname = get("org.opencontainers.image.ref.name");
        if (!full.empty()) return {normalise_ref(full)};
        if (refname.empty()) return {};
        if (refname.find('/') != std::string::npos || refname.find(':') != std::string::npos)
            return {normalise_ref(refname)};
        return {normalise_ref(fallback_repository(naming_path(), opt_.name) + ":" + refname)};
    }

    // A descriptor from index.json -> the manifests it stands for (nested indexes expanded).
    std::vector<Candidate> expand(const Descriptor& d, int depth = 0) {
        if (depth > 4)
            throw Error(Errc::invalid, path_.string() + ": image indexes nest too deeply");
        if (oci::media::is_index(d.media_type)) {
            std::string member = blob_member(d.digest);
            check_size(*src_, member, d);
            std::string text = importer_.json_blob(d.digest, [&] { return src_->read(member); });
            auto idx = oci::Index::parse(text, d.media_type);
            std::vector<Candidate> out;
            for (auto& m : idx.manifests) {
                if (m.media_type.empty() || oci::media::is_manifest(m.media_type) ||
                    oci::media::is_index(m.media_type)) {
                    auto sub = expand(m, depth + 1);
                    out.insert(out.end(), sub.begin(), sub.end());
                }
            }
            return out;
        }
        if (d.media_type == oci::media::docker_schema1 ||
            d.media_type == oci::media::docker_schema1_signed)
            oci::Manifest::parse("{\"schemaVersion\":1}",
                                 d.media_type); // throws the schema-1 error
        if (!d.media_type.empty() && !oci::media::is_manifest(d.media_type))
            throw Error(Errc::unsupported,
                        path_.string() + ": unknown manifest media type \"" + d.media_type + "\"",
                        "gantry reads OCI image manifests and Docker schema 2 manifests");
        return {Candidate{{}, d, d.platform}};
    }

    // The image of CANDS for WANT (the only one when nothing was asked).
    const Candidate& choose(const std::vector<Candidate>& cands, const oci::Platform& want) {
        if (cands.size() == 1 && opt_.platforms.empty()) return cands.front();
        for (auto& c : cands)
            if (!c.platform || want.accepts(*c.platform)) return c;
        std::string avail;
        for (auto& c : cands)
            avail += (avail.empty() ? "" : ", ") + (c.platform ? c.platform->str() : "?");
        throw Error(Errc::not_found,
                    path_.string() + " has no image for platform " + want.str() + " (it has " +
                        avail + ")",
                    "pick one with --platform OS/ARCH");
    }

    // --platform: an image whose config says another platform is refused (a docker archive's
    // too: it holds one image per name).
    void check_wanted(const oci::Platform& have, const std::string& where) const {
        if (opt_.platforms.empty() || have.os.empty()) return;
        std::string asked;
        for (auto& w : opt_.platforms) {
            if (w.accepts(have)) return;
            asked += (asked.empty() ? "" : ",") + w.str();
        }
        throw Error(Errc::not_found, where + ": image is for " + have.str() + ", not " + asked,
                    "drop --platform or pick the image's own platform");
    }

    LoadedImage image(const Descriptor& d) {
        std::string member = blob_member(d.digest);
        check_size(*src_, member, d);
        std::string text = importer_.json_blob(d.digest, [&] { return src_->read(member); });
        auto m = oci::Manifest::parse(text, d.media_type);
        for (auto& l : m.layers) (void)oci::layer_compression(l.media_type); // refuse early
        std::string cfg_member = blob_member(m.config.digest);
        if (!src_->has(cfg_member) && !store_.has_blob(m.config.digest))
            throw Error(Errc::not_found,
                        path_.string() + ": manifest " + d.digest.str() + " names config " +
                            m.config.digest.str() + ", which is missing",
                        "the archive is incomplete; export the image again");
        std::string cfg_text = importer_.json_blob(m.config.digest, [&] {
            check_size(*src_, cfg_member, m.config);
            return src_->read(cfg_member);
        });
        auto config = oci::ImageConfig::parse(cfg_text);
        check_wanted(config.platform, path_.string());
        if (m.layers.size() != config.diff_ids.size())
            throw Error(Errc::invalid,
                        path_.string() + ": manifest " + d.digest.str() + " has " +
                            std::to_string(m.layers.size()) + " layers but its config lists " +
                            std::to_string(config.diff_ids.size()) + " diff_ids",
                        "the image is inconsistent; export it again");
        std::vector<store::LayerJob> jobs;
        for (size_t i = 0; i < m.layers.size(); ++i) {
            const Descriptor& l = m.layers[i];
            std::string lm = blob_member(l.digest);
            store::LayerJob job{l.digest, config.diff_ids[i],
                                "layer " + std::to_string(i + 1) + "/" +
                                    std::to_string(m.layers.size()) + " (" +
                                    l.digest.str().substr(0, 19) + ")",
                                [this, lm] { return src_->open(lm); }};
            job.media_type = l.media_type;
            job.reopenable = true; // a member of the archive's file or layout
            if (!store::has_layer_content(store_, l.digest, config.diff_ids[i])) {
                if (!src_->has(lm))
                    throw Error(Errc::not_found,
                                path_.string() + ": layer blob " + l.digest.str() + " is missing",
                                "the archive is incomplete; export the image again");
                check_size(*src_, lm, l);
            }
            jobs.push_back(std::move(job));
        }
        importer_.layers(jobs);
        store_.put_blob(cfg_text, m.config.digest); // only now: a refused image leaves nothing
        store_.put_blob(text, d.digest);
        return LoadedImage{{}, d.digest, m.config.digest, {}};
    }

    store::Store& store_;
    std::filesystem::path path_;
    // what unnamed images are named after: the file's name, none for a stream ("image")
    std::filesystem::path naming_path() const {
        return opt_.source.empty() ? path_ : std::filesystem::path();
    }
    const LoadOptions& opt_;
    store::Importer importer_;
    std::unique_ptr<Source> src_;
};

} // namespace

std::vector<LoadedImage> load(store::Store& store, const std::filesystem::path& path,
                              const LoadOptions& opt) {
    const std::string where = path.string();
    try {
        return Loader(store, path, opt).run();
    } catch (const Error& e) {
        if (opt.source.empty()) {
            if (e.message().find(where) != std::string::npos) throw;
            throw e.with_context("loading " + where);
        }
        std::string message = e.message(); // the spooled file's /proc path is the source's
        for (auto at = message.find(where); at != std::string::npos;
             at = message.find(where, at + opt.source.size()))
            message.replace(at, where.size(), opt.source);
        if (message.find(opt.source) == std::string::npos)
            message = "loading " + opt.source + ": " + message;
        throw Error(e.code(), message, e.hint());
    }
}

Fd spool_archive(store::Store& store, int fd, const std::string& what) {
    const char* hint = "give the archive as a file (gantry load -i FILE) or on standard input "
                       "(gantry load < FILE)";
    if (::isatty(fd))
        throw Error(Errc::usage, "cannot load from " + what + ": it is a terminal", hint);
    auto dir = store.tmp_dir();
    Fd out(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!out &&
        (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) { // NFS: named, unlinked
        auto named = dir / ("load-" + fs::unique_name());
        out = Fd(::open(named.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
        if (out) ::unlink(named.c_str());
    }
    if (!out) throw_errno("cannot create a file in " + dir.string() + " for " + what);
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read " + what);
        if (n == 0) break;
        fs::write_all(out.get(), buf.data(), static_cast<std::size_t>(n),
                      "the copy of " + what + " in " + dir.string());
        total += static_cast<std::uint64_t>(n);
    }
    if (total == 0) throw Error(Errc::invalid, what + " is empty: no archive to load", hint);
    return out;
}

} // namespace gantry::archive
