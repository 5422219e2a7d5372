#include "lazy/image.hpp"

#include "lazy/squashfs_local.hpp"
#include "lazy/store_layers.hpp"
#include "lazy/tar_split.hpp"
#include "lazy/toc_budget.hpp"
#include "lazy/transfer_limits.hpp"
#include "lazy/zstd_chunked_toc.hpp"
#include "site/resolve.hpp"
#include "sqsh/cache.hpp"
#include "sqsh/confined.hpp"
#include "sqsh/format.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <fcntl.h>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

namespace gantry::lazy {

using nlohmann::json;

store::stdfs::path record_path(const store::Store& store, const std::string& ref) {
    return store.root() / "lazy" / "refs" / (Sha256::hex_of(ref) + ".json");
}

namespace {

constexpr std::size_t kThreads = 8;

// JOB(0) ... JOB(N - 1) on at most kThreads threads (this one included); the first failing
// index's exception is rethrown once all have ended (the error one at a time would give).
void in_parallel(std::size_t n, const std::function<void(std::size_t)>& job) {
    std::vector<std::exception_ptr> errors(n);
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < n;) try {
                job(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
    };
    {
        std::vector<std::jthread> threads;
        for (std::size_t t = 1; t < std::min(n, kThreads); ++t) threads.emplace_back(work);
        work();
    }
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

std::string normalise(const std::string& ref) {
    try {
        return oci::Reference::parse(ref).str();
    } catch (const Error&) {
        return ref;
    }
}

// The client reading chunks: fewer, shorter retries than a pull's, so that a read of a gone
// registry fails in seconds (EIO), not minutes, and every transfer bounded
// (lazy/transfer_limits.hpp).
registry::ClientOptions chunk_options(registry::ClientOptions o) {
    o.retries = std::min(o.retries, 3u);
    o.retry_delay = std::min(o.retry_delay, 0.5);
    return with_transfer_limits(std::move(o));
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

// The block-digest table of a squashfs artifact (its manifest's second layer), fetched
// (bounded first), verified against the manifest and checked; nullopt for an artifact pushed
// before tables (one layer). Error(invalid) for any other shape, naming what is wrong.
std::optional<std::string> read_block_digests(const registry::ImageMetadata& md, const Record& rec,
                                              std::uint64_t blob_size, const std::string& name) {
    const auto& layers = md.manifest.layers;
    if (layers.size() == 1) return std::nullopt;
    const auto& t = layers[1];
    std::string what = "the block-digest table " + t.digest.str() + " of " + name;
    if (layers.size() > 2 || t.media_type != kBlockDigestsMediaType)
        throw Error(Errc::invalid,
                    "the squashfs artifact " + name + " has " + std::to_string(layers.size()) +
                        " layers; gantry reads the squashfs blob and its block-digest table (" +
                        kBlockDigestsMediaType + ")",
                    "push the image again with gantry push --format squashfs");
    if (t.size <= 0 || static_cast<std::uint64_t>(t.size) > kMaxBlockDigestsBytes)
        throw Error(Errc::invalid,
                    what + ": the manifest says it is " + std::to_string(t.size) +
                        " bytes; gantry reads tables of 1 to " +
                        std::to_string(kMaxBlockDigestsBytes) + " bytes",
                    "push the image again with gantry push --format squashfs");
    RemoteBlob blob(md.client, rec.repository, t.digest, static_cast<std::uint64_t>(t.size), Fd(),
                    what);
    std::string text = blob.fetch(0, static_cast<std::size_t>(t.size));
    if ("sha256:" + Sha256::hex_of(text) != t.digest.str())
        throw Error(Errc::invalid, what + ": the bytes fetched have digest sha256:" +
                                       Sha256::hex_of(text) + ", not the manifest's");
    (void)BlockDigests::parse(text, blob_size, what); // refused now, before anything is recorded
    return text;
}

} // namespace

Record pull(store::Store& store, const std::string& ref, const registry::PullOptions& opt,
            std::vector<Toc>* parsed) {
    // the manifest, config, TOCs and tar-splits bounded as the chunks are: a registry that
    // sends them too slowly fails the pull (and `run --pull lazy`) instead of hanging it
    registry::PullOptions bounded = opt;
    bounded.client = with_transfer_limits(opt.client);
    auto md = registry::fetch_metadata(ref, bounded);
    const std::string name = oci::Reference::parse(md.ref).familiar();
    Record rec;
    rec.ref = md.ref;
    rec.domain = md.source.domain;
    rec.repository = md.source.path;
    rec.insecure = md.insecure;
    rec.manifest = md.manifest_digest;
    rec.config = md.manifest.config.digest;
    auto lock = store.writer_lock();
    // the TOCs, tar-splits and block-digest tables to store, each with the digest it was hashed to
    std::vector<std::pair<std::string, oci::Digest>> tocs;
    const auto& layers = md.manifest.layers;
    const bool squashfs = !layers.empty() && layers[0].media_type == kSquashfsMediaType;
    if (squashfs) {
        Record::Layer layer;
        layer.digest = layers[0].digest;
        layer.size = static_cast<std::uint64_t>(layers[0].size);
        layer.squashfs = true;
        if (auto table = read_block_digests(md, rec, layer.size, name)) {
            layer.block_digests = oci::Digest::parse("sha256:" + Sha256::hex_of(*table));
            tocs.emplace_back(std::move(*table), *layer.block_digests);
        }
        rec.layers.push_back(std::move(layer));
    }
    // each layer's TOC (and tar-split) fetched and parsed by a thread of its own (at most
    // kThreads): the requests wait on the registry's round trips, the parses on a core
    struct Fetched {
        Record::Layer layer;
        // to store: the tar-split, then the TOC JSON, each with its digest
        std::vector<std::pair<std::string, oci::Digest>> blobs;
        Toc toc;
    };
    std::vector<Fetched> fetched(squashfs ? 0 : layers.size());
    // what the trees may cost, across all the layers (lazy/toc_budget.hpp)
    TocBudget budget(TocBudget::configured(), name);
    auto fetch_layer = [&](std::size_t i) {
        const auto& l = layers[i];
        std::string what = "layer " + std::to_string(i + 1) + "/" + std::to_string(layers.size()) +
                           " (" + l.digest.str() + ") of " + name;
        auto a = l.annotations.find(kTocDigestAnnotation);
        auto zstd =
            a == l.annotations.end() ? zstd_chunked::layout_of(l.annotations, what) : std::nullopt;
        if (a == l.annotations.end() && !zstd)
            throw Error(Errc::unsupported,
                        what + " is not eStargz or zstd:chunked: its descriptor has no " +
                            kTocDigestAnnotation + " or " + zstd_chunked::kPrefix +
                            "manifest-position annotation",
                        "pull it without --lazy, or push it with gantry push --compression "
                        "estargz (or zstd:chunked)");
        if (!zstd && !oci::Digest::valid(a->second))
            throw Error(Errc::invalid, what + ": " + kTocDigestAnnotation + " is not a digest");
        RemoteBlob blob(md.client, rec.repository, l.digest, static_cast<std::uint64_t>(l.size),
                        Fd(), what);
        auto read = [&](std::uint64_t off, std::size_t len) { return blob.fetch(off, len); };
        const auto size = static_cast<std::uint64_t>(l.size);
        std::string text;
        Fetched& out = fetched[i];
        out.toc = zstd ? zstd_chunked::read_toc(read, size, *zstd, what, &text, &budget)
                       : Toc::read(read, size, a->second, what, &text, &budget);
        Record::Layer& layer = out.layer;
        layer.digest = l.digest;
        layer.size = size;
        layer.toc = oci::Digest::parse(out.toc.json_digest);
        layer.toc_offset = out.toc.toc_offset;
        if (zstd) {
            layer.format = TocFormat::zstd_chunked;
            if (zstd->tar_split) { // the current generation: verified, and it must agree
                std::string sum = out.toc.tar_split_digest;
                if (sum.empty()) sum = zstd->tar_split_checksum;
                std::string ts =
                    zstd_chunked::read_tar_split(read, size, *zstd->tar_split, sum, what);
                tar_split::check(tar_split::parse(ts, what), out.toc, what);
                layer.tar_split = oci::Digest::parse("sha256:" + Sha256::hex_of(ts));
                out.blobs.emplace_back(std::move(ts), *layer.tar_split);
            }
        }
        out.blobs.emplace_back(std::move(text), layer.toc);
    };
    in_parallel(fetched.size(), fetch_layer);
    for (auto& f : fetched) {
        for (auto& b : f.blobs) tocs.push_back(std::move(b));
        rec.layers.push_back(std::move(f.layer));
        if (parsed) parsed->push_back(std::move(f.toc));
    }
    // stored only now: a failed pull leaves no record; each blob synced by a thread of its own
    // (the file system commits fsyncs that wait together at once: 7 one after the other took
    // ~90 ms of a ~0.5 s start on this VM's disk). The TOCs are not hashed again: their digests
    // were computed from these bytes as they were verified (tens of MB for a large image)
    in_parallel(tocs.size() + 2, [&](std::size_t i) {
        if (i < tocs.size())
            store.put_hashed_blob(tocs[i].first, tocs[i].second);
        else if (i == tocs.size())
            store.put_blob(md.config_text, rec.config);
        else
            store.put_blob(md.manifest_text, rec.manifest);
    });
    json j = {{"ref", rec.ref},
              {"domain", rec.domain},
              {"repository", rec.repository},
              {"insecure", rec.insecure},
              {"manifest", rec.manifest.str()},
              {"config", rec.config.str()},
              {"layers", json::array()}};
    for (auto& l : rec.layers) {
        json lj = {{"digest", l.digest.str()}, {"size", l.size}};
        if (l.squashfs) {
            lj["format"] = "squashfs";
            if (l.block_digests) lj["block_digests"] = l.block_digests->str();
            j["layers"].push_back(std::move(lj));
            continue;
        }
        lj["toc"] = l.toc.str();
        lj["toc_offset"] = l.toc_offset;
        if (l.format == TocFormat::zstd_chunked) lj["format"] = "zstd:chunked";
        if (l.tar_split) lj["tar_split"] = l.tar_split->str();
        j["layers"].push_back(std::move(lj));
    }
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
        for (auto& l : j.at("layers")) {
            Record::Layer layer;
            layer.digest = oci::Digest::parse(l.at("digest").get<std::string>());
            layer.size = l.at("size").get<std::uint64_t>();
            std::string format = l.value("format", "estargz");
            if (format == "squashfs") {
                layer.squashfs = true;
                if (l.contains("block_digests"))
                    layer.block_digests =
                        oci::Digest::parse(l.at("block_digests").get<std::string>());
                r.layers.push_back(std::move(layer));
                continue;
            }
            layer.toc = oci::Digest::parse(l.at("toc").get<std::string>());
            layer.toc_offset = l.at("toc_offset").get<std::uint64_t>();
            if (format != "estargz" && format != "zstd:chunked")
                throw std::runtime_error("unknown layer format " + format);
            if (format == "zstd:chunked") layer.format = TocFormat::zstd_chunked;
            if (l.contains("tar_split"))
                layer.tar_split = oci::Digest::parse(l.at("tar_split").get<std::string>());
            r.layers.push_back(std::move(layer));
        }
        return r;
    } catch (const std::exception& e) {
        throw Error(Errc::invalid,
                    "the lazy pull record " + path.string() + " is damaged (" + e.what() + ")",
                    "pull the image again: gantry pull --lazy " + ref);
    }
}

// the registry client chunks are read with: the location that served the metadata serves the
// chunks (a mirror's own insecure, or its table's as registries.conf says now)
std::shared_ptr<registry::Client> client_for(const Record& rec,
                                             const registry::ClientOptions& opt) {
    auto co = chunk_options(opt);
    co.insecure = rec.insecure ||
                  site::insecure(site::RegistriesConf::system(), rec.domain + "/" + rec.repository);
    return std::make_shared<registry::Client>(rec.domain, co);
}

namespace {

// the sparse local copy of the layer WHAT
Fd local_copy(store::Store& store, const Record::Layer& l, const std::string& what) {
    auto dir = store.root() / "lazy" / "blobs";
    fs::stdfs::create_directories(dir);
    Fd cache(::open((dir / l.digest.hex()).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!cache) throw_errno("cannot open the local copy of " + what);
    if (::ftruncate(cache.get(), static_cast<off_t>(l.size)) != 0)
        throw_errno("cannot size the local copy of " + what);
    return cache;
}

} // namespace

bool is_squashfs(const Record& rec) {
    return rec.layers.size() == 1 && rec.layers[0].squashfs;
}

OpenedSquashfs open_squashfs(store::Store& store, const Record& rec,
                             const registry::ClientOptions& opt,
                             const std::function<void()>& confine) {
    const std::string name = oci::Reference::parse(rec.ref).familiar();
    const auto& l = rec.layers.at(0);
    std::string what =
        "the squashfs artifact " + l.digest.str() + " of " + name + " from registry " + rec.domain;
    std::shared_ptr<const BlockDigests> table;
    if (l.block_digests)
        table = std::make_shared<const BlockDigests>(BlockDigests::parse(
            store.read_blob(*l.block_digests, kMaxBlockDigestsBytes), l.size, what));
    // the node's cache entry once a run has made it all local (lazy/squashfs_local.hpp)
    auto cached = cached_squashfs(store, rec, table == nullptr);
    Fd cache;
    if (cached) {
        what = "the squashfs artifact " + l.digest.str() + " of " + name +
               " in the node's cache (" + *cached + ")";
        cache = Fd(::open(cached->c_str(), O_RDONLY | O_CLOEXEC));
        if (!cache) throw_errno("cannot open " + *cached);
    } else {
        cache = local_copy(store, l, what);
    }
    Fd reader(::dup(cache.get()));
    if (!reader) throw_errno("cannot open the local copy of " + what);
    auto blob = std::make_shared<RemoteBlob>(client_for(rec, opt), rec.repository, l.digest, l.size,
                                             std::move(cache), what);
    auto fetcher = std::make_shared<BlockFetcher>(blob, l.digest, l.size, std::move(table));
    if (cached)
        fetcher->all_local();
    else
        fetcher->adopt_local(); // what earlier runs fetched (checked against the table on read)
    auto image = std::make_shared<sqsh::Image>(std::move(reader), what, sqsh::Image::Deferred{});
    OpenedSquashfs out;
    out.tree = std::make_shared<SquashfsTree>(image, fetcher, blob,
                                              "the lazily pulled squashfs image " + name);
    out.tree->set_prefetch(prefetch_wanted());
    store::Store* st = &store;
    out.tree->set_after_serving([st, rec, fetcher, cached](const std::function<bool()>& abandoned) {
        try {
            if (!cached) {
                keep_squashfs(*st, rec, abandoned);
            } else if (fetcher->damaged()) {
                sqsh::remove_cached(*st, rec.manifest);
                log::warn("the node's cached copy " + *cached + " of " + rec.ref +
                          " is damaged: removed; the next run fetches the image again");
            }
        } catch (const Error& e) {
            log::warn("the squashfs image " + rec.ref + " stays out of the node's cache (" +
                      e.message() + ")");
        }
    });
    // the superblock: gantry's own bounded parse
    fetcher->ensure(0, sqsh::kSuperblockSize);
    char head[sqsh::kSuperblockSize] = {};
    ssize_t got = ::pread(image->fd(), head, sizeof head, 0);
    if (got < 0) throw_errno("cannot read the local copy of " + what);
    auto sb =
        sqsh::check_superblock(std::string_view(head, static_cast<std::size_t>(got)), l.size, what);
    // the tables' bytes (fetched, not parsed, here: they lie between the inode table and the
    // end), so that the reader's 60 s go to parsing, not to the registry; every lookup of the
    // server needs them anyway
    fetcher->ensure(sb.inode_table, static_cast<std::size_t>(sb.bytes_used - sb.inode_table));
    // the tables and etc/passwd: a confined reader, which fetches what it reads (its own copy of
    // the fetcher) and says which blocks it made present; it opens connections of its own
    constexpr std::size_t kMaxPasswd = 4u << 20;
    blob->close_connections();
    std::string answer;
    try {
        answer = sqsh::run_confined(
            *image, confine,
            [&fetcher](sqsh::Image& im) {
                im.open_tables();
                std::string a;
                sqsh::put_field(a, im.read_file("etc/passwd", kMaxPasswd).value_or(""));
                sqsh::put_field(a, fetcher->present());
                return a;
            },
            kMaxPasswd + fetcher->present().size() + 64, blob->cache_fd());
    } catch (const Error& e) {
        // the reader's hint names a file to check; here the image is the registry's
        if (e.code() != Errc::invalid || e.hint().find("rdsquashfs") == std::string::npos) throw;
        throw Error(Errc::invalid, e.message(),
                    "the image in the registry is damaged or hostile: push it again (gantry "
                    "push --format squashfs), or run an image that is not this artifact");
    }
    std::string_view rest(answer);
    std::string present;
    if (!sqsh::take_field(rest, out.passwd) || !sqsh::take_field(rest, present) || !rest.empty() ||
        out.passwd.size() > kMaxPasswd)
        sqsh::damaged(what, "the confined reader's answer is malformed");
    fetcher->add_present(present);
    return out;
}

std::shared_ptr<Tree> open(store::Store& store, const Record& rec,
                           const registry::ClientOptions& opt, bool privileged,
                           std::vector<Toc> parsed) {
    bool prefetch = prefetch_wanted();
    auto client = client_for(rec, opt);
    const std::string name = oci::Reference::parse(rec.ref).familiar();
    std::vector<Layer> layers;
    const bool parse = parsed.size() != rec.layers.size();
    std::optional<TocBudget> budget; // when the TOCs are parsed here (lazy/toc_budget.hpp)
    if (parse) budget.emplace(TocBudget::configured(), name);
    for (std::size_t i = 0; i < rec.layers.size(); ++i) {
        const auto& l = rec.layers[i];
        std::string what = "layer " + std::to_string(i + 1) + "/" +
                           std::to_string(rec.layers.size()) + " (" + l.digest.str() + ") of " +
                           name + " from registry " + rec.domain;
        if (l.squashfs)
            throw Error(Errc::invalid, what + " is a squashfs artifact's, not a layer's");
        Fd cache = local_copy(store, l, what);
        Layer layer;
        // parsed by the pull just made (the same verified JSON), else read from the store
        layer.toc = !parse ? std::move(parsed[i])
                           : Toc::parse(store.read_blob(l.toc, kMaxTocBytes), l.toc_offset, what,
                                        l.format, &*budget);
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
    extras.after_serving = [st, rec, privileged](const std::function<bool()>& abandoned) {
        try {
            keep_local_layers(*st, rec, privileged, abandoned);
        } catch (const Error& e) {
            log::warn("what the run of " + rec.ref + " made local stays in its lazy cache (" +
                      e.message() + ")");
        }
    };
    return std::make_shared<Tree>(std::move(layers), "the lazily pulled image " + name,
                                  std::move(extras));
}

} // namespace gantry::lazy
