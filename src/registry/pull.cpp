#include "registry/pull.hpp"

#include "oci/reference.hpp"
#include "registry/blob.hpp"
#include "registry/progress.hpp"
#include "registry/verify.hpp"
#include "site/resolve.hpp"
#include "store/importer.hpp"
#include "store/layer_tar.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <thread>

namespace gantry::registry {

using oci::Descriptor;
using oci::Digest;

const char* const kManifestAccept = "Accept: application/vnd.oci.image.index.v1+json, "
                                    "application/vnd.docker.distribution.manifest.list.v2+json, "
                                    "application/vnd.oci.image.manifest.v1+json, "
                                    "application/vnd.docker.distribution.manifest.v2+json";

const Descriptor& choose_platform(const oci::Index& idx, const oci::Platform& want,
                                  const std::string& what) {
    // same rule as `load --platform`: the first manifest whose platform the wanted one accepts
    for (auto& d : idx.manifests)
        if (!oci::media::is_index(d.media_type) && (!d.platform || want.accepts(*d.platform)))
            return d;
    std::string avail;
    for (auto& d : idx.manifests)
        if (d.platform && d.platform->os != "unknown")
            avail += (avail.empty() ? "" : ", ") + d.platform->str();
    throw Error(Errc::not_found,
                what + " has no image for platform " + want.str() + " (it has " +
                    (avail.empty() ? "none" : avail) + ")",
                "pick one with --platform OS/ARCH");
}

namespace {

struct Fetched {
    std::string body;
    std::string media_type;
};

Fetched get_manifest(Client& c, const std::string& repo, const std::string& ref,
                     const std::string& what, const std::optional<Digest>& expect) {
    HttpRequest req;
    req.headers.push_back(kManifestAccept);
    req.max_body = 4u << 20;
    auto r = c.call(req, "/v2/" + repo + "/manifests/" + ref, {"repository:" + repo + ":pull"});
    if (r.status != 200) c.fail(r, what, repo);
    Digest actual = Digest::of(r.body);
    if (expect && actual != *expect)
        throw Error(Errc::invalid,
                    what + ": the registry sent a manifest whose digest is " + actual.str() +
                        ", not the pinned " + expect->str(),
                    "the pin is wrong or the registry is compromised; check the digest");
    std::string hdr = r.header("docker-content-digest");
    if (!expect && !hdr.empty() && Digest::valid(hdr) && Digest::parse(hdr) != actual)
        throw Error(
            Errc::invalid,
            what + ": the manifest hashes to " + actual.str() + " but the registry says " + hdr,
            "the registry or a proxy altered the manifest; retry, or report it to the operator");
    std::string mt = r.header("content-type");
    if (auto semi = mt.find(';'); semi != std::string::npos) mt.resize(semi);
    auto doc = oci::parse_json(r.body, what);
    std::string declared = oci::declared_media_type(doc);
    return {std::move(r.body), declared.empty() ? mt : declared};
}

// The first location of LOGICAL that serves its manifest: mirrors, then the primary
// (site::pull_sources). Each failure is kept; when all fail, the error names every location.
struct OpenedSource {
    std::unique_ptr<Client> client;
    oci::Reference ref; // physical
    Fetched top;
    bool insecure =
        false; // the location may be plain http (registries.conf: its table's, a mirror's)
};

OpenedSource open_source(const oci::Reference& logical, const PullOptions& opt,
                         const std::optional<Digest>& pin) {
    const auto& conf = site::RegistriesConf::system();
    auto sources = site::pull_sources(conf, logical);
    const std::string what = "image " + logical.familiar();
    std::optional<Error> last;
    std::string tried;
    for (auto& s : sources) {
        try {
            site::check_not_blocked(conf, s.ref);
            ClientOptions co = opt.client;
            co.insecure = s.insecure || site::insecure(conf, s.ref.repository());
            auto client = std::make_unique<Client>(s.ref.domain, co);
            std::string tag_or_digest = pin ? pin->str() : s.ref.tag_or_latest();
            auto top = get_manifest(*client, s.ref.path, tag_or_digest, what, pin);
            if (s.ref.str() != logical.str())
                log::debug(what + ": served by " + s.ref.str() + (s.mirror ? " (mirror)" : ""));
            return OpenedSource{std::move(client), s.ref, std::move(top), co.insecure};
        } catch (const Error& e) {
            log::debug(what + ": " + s.ref.str() + ": " + e.message());
            tried += (tried.empty() ? "" : "; ") + std::string(s.mirror ? "mirror " : "") +
                     s.ref.str() + ": " + e.message();
            last = e;
        }
    }
    if (sources.size() == 1) throw *last;
    throw Error(last->code(),
                what + ": every location failed (mirrors first, the primary last): " + tried,
                last->hint());
}

PullResult pull_manifest(store::Store& store, OpenedSource& src, const oci::Reference& ref,
                         const PullOptions& opt, const Digest& mdigest, std::string mtext,
                         const std::string& mtype);

PullResult pull_logical(store::Store& store, const oci::Reference& ref, const PullOptions& opt) {
    const std::string name = ref.familiar();
    auto lock = store.writer_lock();

    std::optional<Digest> pin;
    if (!ref.digest.empty()) pin = Digest::parse(ref.digest);
    auto src = open_source(ref, opt, pin);
    Client& client = *src.client;
    const std::string repo = src.ref.path;
    auto top = std::move(src.top);
    // the site's policy.json, on the top manifest, before a byte of the image is stored
    auto verdict = verify_policy(client, ref, src.ref, Digest::of(top.body), opt.signature_policy);
    if (top.media_type == oci::media::docker_schema1 ||
        top.media_type == oci::media::docker_schema1_signed)
        throw Error(
            Errc::unsupported,
            "image " + name +
                " uses the Docker schema 1 manifest format, which gantry does not read",
            "push the image again with a current docker, podman or skopeo (schema 2 or OCI)");
    Digest top_digest = Digest::of(top.body);
    if (!oci::media::is_index(top.media_type) &&
        !(top.media_type.empty() && oci::parse_json(top.body, name).contains("manifests"))) {
        if (opt.all_platforms) log::note("image " + name + " is of one platform: pulling it");
        PullResult res =
            pull_manifest(store, src, ref, opt, top_digest, std::move(top.body), top.media_type);
        res.verdict = std::move(verdict);
        record_verdict(store, res.ref, res.manifest, res.verdict);
        store::add_image(store, res.ref, res.manifest);
        res.platforms.push_back(store::image_platform(store, res.manifest));
        return res;
    }
    auto idx = oci::Index::parse(top.body, top.media_type);
    std::vector<const Descriptor*> picked;
    if (opt.all_platforms) {
        for (auto& d : idx.manifests) // not attestations ("unknown/unknown") nor nested indexes
            if (!oci::media::is_index(d.media_type) && (!d.platform || d.platform->os != "unknown"))
                picked.push_back(&d);
        if (picked.empty())
            throw Error(Errc::not_found, "image " + name + "'s index lists no image",
                        "the image in the registry is incomplete; push it again");
    } else {
        oci::Platform want = opt.platform ? *opt.platform : oci::Platform::host();
        picked.push_back(&choose_platform(idx, want, "image " + name));
    }
    PullResult res;
    for (const Descriptor* d : picked) {
        std::string what = d->platform ? d->platform->str() : "any platform";
        log::debug("image " + name + ": index " + top_digest.str() + " -> " + d->digest.str() +
                   " for " + what);
        auto m = get_manifest(client, repo, d->digest.str(), "image " + name + " (" + what + ")",
                              d->digest);
        PullOptions one = opt;
        if (opt.all_platforms && d->platform) one.platform = *d->platform;
        PullResult r = pull_manifest(store, src, ref, one, d->digest, std::move(m.body),
                                     m.media_type.empty() ? d->media_type : m.media_type);
        r.verdict = verdict;
        // the verdict before the name (a name is published last; a verdict the tag never
        // followed is pruned with its manifest)
        record_verdict(store, r.ref, r.manifest, r.verdict);
        store::add_image(store, r.ref, r.manifest);
        auto platforms = std::move(res.platforms);
        std::int64_t fetched = res.fetched_bytes;
        std::size_t layers = res.layers, layers_fetched = res.layers_fetched;
        res = std::move(r);
        res.platforms = std::move(platforms);
        res.platforms.push_back(store::image_platform(store, res.manifest));
        res.fetched_bytes += fetched;
        res.layers += layers;
        res.layers_fetched += layers_fetched;
    }
    return res;
}

// One image (MDIGEST, its manifest MTEXT of type MTYPE) of SRC pulled into the store: its config
// and layers, then its manifest; not named (the caller names it).
PullResult pull_manifest(store::Store& store, OpenedSource& src, const oci::Reference& ref,
                         const PullOptions& opt, const Digest& mdigest, std::string mtext,
                         const std::string& mtype) {
    const std::string name = ref.familiar();
    Client& client = *src.client;
    const std::string repo = src.ref.path;
    auto manifest = oci::Manifest::parse(mtext, mtype);
    for (auto& l : manifest.layers) (void)oci::layer_compression(l.media_type); // refuse early

    store::Importer importer(
        store, store::ImportOptions{opt.privileged,
                                    opt.jobs ? opt.jobs
                                             : std::max(3u, std::thread::hardware_concurrency())});
    std::string cfg_text = importer.json_blob(manifest.config.digest, [&] {
        HttpRequest req;
        req.max_body = 32u << 20;
        if (manifest.config.size > 0) // its overall bound grows with it (http.hpp)
            req.expected_bytes = static_cast<std::uint64_t>(manifest.config.size);
        auto r = client.call(req, "/v2/" + repo + "/blobs/" + manifest.config.digest.str(),
                             {"repository:" + repo + ":pull"});
        if (r.status == 404)
            throw Error(Errc::not_found,
                        "image " + name + ": its manifest names the config blob " +
                            manifest.config.digest.str() + ", which registry " + src.ref.domain +
                            " does not have",
                        "the image in the registry is incomplete; push it again");
        if (r.status != 200)
            client.fail(r, "config blob " + manifest.config.digest.str() + " of " + name, repo);
        return std::move(r.body);
    });
    auto config = oci::ImageConfig::parse(cfg_text);
    if (opt.platform && !config.platform.os.empty() && !opt.platform->accepts(config.platform))
        throw Error(Errc::not_found,
                    "image " + name + " is for " + config.platform.str() + ", not " +
                        opt.platform->str(),
                    "drop --platform or pick the image's own platform");
    if (manifest.layers.size() != config.diff_ids.size())
        throw Error(Errc::invalid,
                    "image " + name + ": the manifest has " +
                        std::to_string(manifest.layers.size()) + " layers but its config lists " +
                        std::to_string(config.diff_ids.size()) + " diff_ids",
                    "the image in the registry is inconsistent; rebuild and push it again");

    bool isatty_ok = opt.tty;
    Progress progress("Copying", opt.quiet, isatty_ok, opt.observer);
    PullResult res;
    res.layers = manifest.layers.size();
    std::vector<store::LayerJob> jobs;
    std::vector<Progress::Bar*> bars;
    std::atomic<std::size_t> fetched{0};
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
        const Descriptor& l = manifest.layers[i];
        auto* bar = progress.add(l.digest.str().substr(0, 19), l.size);
        bars.push_back(bar);
        auto holder = std::make_shared<BlobDownload*>(nullptr);
        store::LayerJob job;
        job.blob = l.digest;
        job.diff_id = config.diff_ids[i];
        job.media_type = l.media_type;
        job.what = "layer " + std::to_string(i + 1) + "/" + std::to_string(manifest.layers.size()) +
                   " (" + l.digest.str().substr(0, 19) + ")";
        job.open = [&, l, bar, holder] {
            auto d =
                std::make_unique<BlobDownload>(client, repo, l, store.tmp_dir(), &progress, bar);
            *holder = d.get();
            ++fetched;
            return std::unique_ptr<layer::Reader>(std::move(d));
        };
        job.adopt_blob = [&store, holder](const Digest& d) {
            (*holder)->adopt(store.blob_path(d));
        };
        job.discard_blob = [holder] { (*holder)->discard(); };
        jobs.push_back(std::move(job));
    }
    for (std::size_t i = 0; i < manifest.layers.size(); ++i)
        if (store::has_layer_content(store, manifest.layers[i].digest, config.diff_ids[i]) &&
            store.has_layer(config.diff_ids[i]))
            progress.finish(bars[i], Progress::State::skipped, "already in the store");
    try {
        importer.layers(jobs);
    } catch (const Error& e) {
        progress.stop();
        throw e.with_context("pulling " + name);
    }
    progress.stop();
    for (auto* b : bars) res.fetched_bytes += b->bytes;
    res.layers_fetched = fetched;

    store.put_blob(cfg_text, manifest.config.digest); // only now: a failed pull adds no image
    store.put_blob(mtext, mdigest);
    res.ref = ref.str();
    res.source = src.ref.str();
    res.manifest = mdigest;
    res.config = manifest.config.digest;
    return res;
}

ImageMetadata metadata_logical(const oci::Reference& ref, const PullOptions& opt) {
    const std::string name = ref.familiar();
    std::optional<Digest> pin;
    if (!ref.digest.empty()) pin = Digest::parse(ref.digest);
    auto src = open_source(ref, opt, pin);
    verify_policy(*src.client, ref, src.ref, Digest::of(src.top.body), opt.signature_policy);
    ImageMetadata md;
    md.client = std::move(src.client);
    md.ref = ref.str();
    md.source = src.ref;
    md.insecure = src.insecure;
    md.manifest_digest = Digest::of(src.top.body);
    md.manifest_text = std::move(src.top.body);
    std::string mtype = src.top.media_type;
    if (oci::media::is_index(mtype) ||
        (mtype.empty() && oci::parse_json(md.manifest_text, name).contains("manifests"))) {
        auto idx = oci::Index::parse(md.manifest_text, mtype);
        oci::Platform want = opt.platform ? *opt.platform : oci::Platform::host();
        const Descriptor& d = choose_platform(idx, want, "image " + name);
        auto m = get_manifest(*md.client, src.ref.path, d.digest.str(),
                              "image " + name + " (" + want.str() + ")", d.digest);
        md.manifest_digest = d.digest;
        md.manifest_text = std::move(m.body);
        mtype = m.media_type.empty() ? d.media_type : m.media_type;
    }
    md.manifest = oci::Manifest::parse(md.manifest_text, mtype);
    const Digest& cd = md.manifest.config.digest;
    HttpRequest req;
    req.max_body = 32u << 20;
    auto r = md.client->call(req, "/v2/" + src.ref.path + "/blobs/" + cd.str(),
                             {"repository:" + src.ref.path + ":pull"});
    if (r.status != 200)
        md.client->fail(r, "config blob " + cd.str() + " of " + name, src.ref.path);
    if (Digest::of(r.body) != cd)
        throw Error(Errc::invalid,
                    "image " + name + ": its config blob hashes to " + Digest::of(r.body).str() +
                        ", not " + cd.str(),
                    "the registry or a proxy altered it; retry, or report it to the operator");
    md.config_text = std::move(r.body);
    return md;
}

} // namespace

ImageMetadata fetch_metadata(const std::string& text, const PullOptions& opt) {
    auto cands = site::resolve_name(site::RegistriesConf::system(), text, opt.interactive);
    std::optional<Error> last;
    for (auto& r : cands.refs) {
        try {
            return metadata_logical(r, opt);
        } catch (const Error& e) {
            if (cands.refs.size() == 1) throw;
            last = e;
        }
    }
    if (last) throw *last;
    throw Error(Errc::not_found, "no image named " + text);
}

PullResult pull(store::Store& store, const std::string& text, const PullOptions& opt) {
    auto cands = site::resolve_name(site::RegistriesConf::system(), text, opt.interactive);
    if (!cands.how.empty())
        log::debug("\"" + text + "\": " + std::to_string(cands.refs.size()) +
                   " candidate(s) from " + cands.how);
    if (cands.refs.size() == 1) return pull_logical(store, cands.refs.front(), opt);
    std::string tried;
    std::optional<Error> last;
    for (auto& r : cands.refs) {
        try {
            return pull_logical(store, r, opt);
        } catch (const Error& e) {
            tried += (tried.empty() ? "" : "; ") + e.message();
            last = e;
        }
    }
    throw Error(last->code(),
                "short name \"" + text + "\": no candidate could be pulled (" + cands.how +
                    "): " + tried,
                last->hint());
}

} // namespace gantry::registry
