#include "lazy/image.hpp"

#include "lazy/store_layers.hpp"
#include "site/resolve.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace gantry::lazy {

using nlohmann::json;

store::stdfs::path record_path(const store::Store& store, const std::string& ref) {
    return store.root() / "lazy" / "refs" / (Sha256::hex_of(ref) + ".json");
}

namespace {

std::string normalise(const std::string& ref) {
    try {
        return oci::Reference::parse(ref).str();
    } catch (const Error&) {
        return ref;
    }
}

// The client reading chunks: fewer, shorter retries than a pull's, so that a read of a gone
// registry fails in seconds (EIO), not minutes.
registry::ClientOptions chunk_options(registry::ClientOptions o) {
    o.retries = std::min(o.retries, 3u);
    o.retry_delay = std::min(o.retry_delay, 0.5);
    o.transport.connect_timeout = 10;
    o.transport.stall_timeout = 10;
    return o;
}

// GANTRY_LAZY_PREFETCH: 1 (or unset) the background prefetch, 0 none (the benchmark's
// on-demand figures, a test of one read's bytes).
bool prefetch_wanted() {
    const char* v = std::getenv("GANTRY_LAZY_PREFETCH");
    if (!v || !*v || std::string_view(v) == "1") return true;
    if (std::string_view(v) == "0") return false;
    throw Error(Errc::usage, std::string("GANTRY_LAZY_PREFETCH=") + v + " is neither 0 nor 1",
                "set GANTRY_LAZY_PREFETCH=0 to turn the background prefetch off, or unset it");
}

} // namespace

Record pull(store::Store& store, const std::string& ref, const registry::PullOptions& opt,
            std::vector<Toc>* parsed) {
    auto md = registry::fetch_metadata(ref, opt);
    const std::string name = oci::Reference::parse(md.ref).familiar();
    Record rec;
    rec.ref = md.ref;
    rec.domain = md.source.domain;
    rec.repository = md.source.path;
    rec.insecure = md.insecure;
    rec.manifest = md.manifest_digest;
    rec.config = md.manifest.config.digest;
    auto lock = store.writer_lock();
    std::vector<std::string> tocs;
    for (std::size_t i = 0; i < md.manifest.layers.size(); ++i) {
        const auto& l = md.manifest.layers[i];
        std::string what = "layer " + std::to_string(i + 1) + "/" +
                           std::to_string(md.manifest.layers.size()) + " (" + l.digest.str() +
                           ") of " + name;
        auto a = l.annotations.find(kTocDigestAnnotation);
        if (a == l.annotations.end())
            throw Error(Errc::unsupported,
                        what + " is not eStargz: its descriptor has no " + kTocDigestAnnotation +
                            " annotation",
                        "pull it without --lazy, or push it with gantry push --compression "
                        "estargz");
        if (!oci::Digest::valid(a->second))
            throw Error(Errc::invalid, what + ": " + kTocDigestAnnotation + " is not a digest");
        RemoteBlob blob(md.client, rec.repository, l.digest, static_cast<std::uint64_t>(l.size),
                        Fd(), what);
        std::string text;
        Toc toc =
            Toc::read([&](std::uint64_t off, std::size_t len) { return blob.fetch(off, len); },
                      static_cast<std::uint64_t>(l.size), a->second, what, &text);
        tocs.push_back(std::move(text));
        rec.layers.push_back({l.digest, static_cast<std::uint64_t>(l.size),
                              oci::Digest::parse(toc.json_digest), toc.toc_offset});
        if (parsed) parsed->push_back(std::move(toc));
    }
    // stored only now: a failed pull leaves no record
    for (auto& t : tocs) store.put_blob(t);
    store.put_blob(md.config_text, rec.config);
    store.put_blob(md.manifest_text, rec.manifest);
    json j = {{"ref", rec.ref},
              {"domain", rec.domain},
              {"repository", rec.repository},
              {"insecure", rec.insecure},
              {"manifest", rec.manifest.str()},
              {"config", rec.config.str()},
              {"layers", json::array()}};
    for (auto& l : rec.layers)
        j["layers"].push_back({{"digest", l.digest.str()},
                               {"size", l.size},
                               {"toc", l.toc.str()},
                               {"toc_offset", l.toc_offset}});
    auto path = record_path(store, rec.ref);
    fs::stdfs::create_directories(path.parent_path());
    fs::write_atomic(path, j.dump(1));
    return rec;
}

std::optional<Record> find(const store::Store& store, const std::string& ref) {
    auto path = record_path(store, normalise(ref));
    std::string text;
    try {
        text = fs::read_file(path);
    } catch (const Error&) {
        return std::nullopt;
    }
    try {
        json j = json::parse(text);
        Record r;
        r.ref = j.at("ref").get<std::string>();
        r.domain = j.at("domain").get<std::string>();
        r.repository = j.at("repository").get<std::string>();
        r.insecure = j.value("insecure", false); // records before it: the tables decide
        r.manifest = oci::Digest::parse(j.at("manifest").get<std::string>());
        r.config = oci::Digest::parse(j.at("config").get<std::string>());
        for (auto& l : j.at("layers"))
            r.layers.push_back({oci::Digest::parse(l.at("digest").get<std::string>()),
                                l.at("size").get<std::uint64_t>(),
                                oci::Digest::parse(l.at("toc").get<std::string>()),
                                l.at("toc_offset").get<std::uint64_t>()});
        return r;
    } catch (const std::exception& e) {
        throw Error(Errc::invalid,
                    "the lazy pull record " + path.string() + " is damaged (" + e.what() + ")",
                    "pull the image again: gantry pull --lazy " + ref);
    }
}

std::shared_ptr<registry::Client> client_for(const Record& rec,
                                             const registry::ClientOptions& opt) {
    auto co = chunk_options(opt);
    // the location that served the metadata serves the chunks: a mirror's own insecure, or its
    // table's as registries.conf says now
    co.insecure = rec.insecure ||
                  site::insecure(site::RegistriesConf::system(), rec.domain + "/" + rec.repository);
    return std::make_shared<registry::Client>(rec.domain, co);
}

std::shared_ptr<Tree> open(store::Store& store, const Record& rec,
                           const registry::ClientOptions& opt, bool privileged,
                           std::vector<Toc> parsed) {
    bool prefetch = prefetch_wanted();
    auto client = client_for(rec, opt);
    const std::string name = oci::Reference::parse(rec.ref).familiar();
    auto dir = store.root() / "lazy" / "blobs";
    fs::stdfs::create_directories(dir);
    std::vector<Layer> layers;
    for (std::size_t i = 0; i < rec.layers.size(); ++i) {
        const auto& l = rec.layers[i];
        std::string what = "layer " + std::to_string(i + 1) + "/" +
                           std::to_string(rec.layers.size()) + " (" + l.digest.str() + ") of " +
                           name + " from registry " + rec.domain;
        Fd cache(::open((dir / l.digest.hex()).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!cache) throw_errno("cannot open the local copy of " + what);
        if (::ftruncate(cache.get(), static_cast<off_t>(l.size)) != 0)
            throw_errno("cannot size the local copy of " + what);
        Layer layer;
        // parsed by the pull just made (the same verified JSON), else read from the store
        layer.toc = parsed.size() == rec.layers.size()
                        ? std::move(parsed[i])
                        : Toc::parse(store.read_blob(l.toc, kMaxTocBytes), l.toc_offset, what);
        layer.blob = std::make_shared<RemoteBlob>(client, rec.repository, l.digest, l.size,
                                                  std::move(cache), what);
        layer.map = open_local_map(store, l, layer.toc, true);
        layers.push_back(std::move(layer));
    }
    TreeExtras extras;
    extras.prefetch = prefetch;
    extras.working_set = WorkingSet::load(store, rec.manifest.hex());
    if (extras.working_set.empty())
        extras.recorder = std::make_shared<WorkingSet>(store, rec.manifest.hex());
    store::Store* st = &store;
    extras.after_serving = [st, rec, privileged] {
        try {
            keep_local_layers(*st, rec, privileged);
        } catch (const Error& e) {
            log::warn("what the run of " + rec.ref + " made local stays in its lazy cache (" +
                      e.message() + ")");
        }
    };
    return std::make_shared<Tree>(std::move(layers), "the lazily pulled image " + name,
                                  std::move(extras));
}

} // namespace gantry::lazy
