#include "lazy/store_layers.hpp"

#include "layer/stream.hpp"
#include "lazy/local_map.hpp"
#include "lazy/squashfs_local.hpp"
#include "oci/image.hpp"
#include "store/importer.hpp"
#include "store/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace gantry::lazy {

namespace {

std::string name_of(const Record& rec) {
    try {
        return oci::Reference::parse(rec.ref).familiar();
    } catch (const Error&) {
        return rec.ref;
    }
}

std::string layer_what(const Record& rec, std::size_t i) {
    return "layer " + std::to_string(i + 1) + "/" + std::to_string(rec.layers.size()) + " (" +
           rec.layers[i].digest.str() + ") of " + name_of(rec);
}

// Thrown out of the importer when the conversion is abandoned (not an Error: the copy is fine)
struct ConversionAbandoned {};

// The local copy as the importer reads it, asking ABANDONED every 16 MiB.
class AbandonableReader final : public layer::Reader {
  public:
    AbandonableReader(int fd, std::string what, const std::function<bool()>& abandoned)
        : in_(fd, std::move(what)), abandoned_(abandoned) {}
    std::size_t read(void* buf, std::size_t n) override {
        if (read_ >= ask_at_) {
            if (abandoned_()) throw ConversionAbandoned{};
            ask_at_ = read_ + (16u << 20);
        }
        std::size_t got = in_.read(buf, n);
        read_ += got;
        return got;
    }

  private:
    layer::FdReader in_;
    const std::function<bool()>& abandoned_;
    std::uint64_t read_ = 0, ask_at_ = 0;
};

} // namespace

store::stdfs::path local_copy(const store::Store& store, const oci::Digest& digest) {
    return store.root() / "lazy" / "blobs" / digest.hex();
}

std::shared_ptr<LocalMap> open_local_map(const store::Store& store, const Record::Layer& layer,
                                         const Toc& toc, bool create) {
    auto path = LocalMap::path_for(local_copy(store, layer.digest));
    Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600));
    if (!fd && (create || errno != ENOENT))
        throw_errno("cannot open " + path.string() + " (what is local of a lazily pulled layer)");
    return std::make_shared<LocalMap>(LocalMap::boundaries(toc, layer.size), std::move(fd));
}

LocalBytes local_bytes(const store::Store& store, const Record& rec) {
    if (is_squashfs(rec)) return squashfs_local_bytes(store, rec);
    LocalBytes b;
    for (std::size_t i = 0; i < rec.layers.size(); ++i) {
        const auto& l = rec.layers[i];
        b.total += l.size;
        Toc toc = Toc::parse(store.read_blob(l.toc, kMaxTocBytes), l.toc_offset, layer_what(rec, i),
                             l.format);
        b.local += open_local_map(store, l, toc, false)->local_bytes();
    }
    return b;
}

std::vector<Record> records(const store::Store& store) {
    std::vector<Record> out;
    std::error_code ec;
    for (auto& e : store::stdfs::directory_iterator(store.root() / "lazy" / "refs", ec)) {
        try {
            auto j = oci::json::parse(fs::read_file(e.path(), 1u << 20));
            if (auto r = find(store, j.at("ref").get<std::string>())) out.push_back(std::move(*r));
        } catch (const std::exception&) {
        }
    }
    return out;
}

std::string local_text(const store::Store& store, const std::string& ref,
                       std::pair<std::uint64_t, std::uint64_t>* bytes_out) {
    std::optional<Record> rec;
    try {
        rec = find(store, ref);
    } catch (const Error&) {
        return "";
    }
    if (!rec) return "";
    LocalBytes b;
    try {
        b = local_bytes(store, *rec);
    } catch (const Error&) {
        return "lazy"; // a TOC the store lost: `system fsck` names it, a listing still lists
    }
    if (bytes_out) *bytes_out = {b.local, b.total};
    // whole percents, rounded down: 100% only once every byte is local
    unsigned pct = b.total ? static_cast<unsigned>(b.local * 100 / b.total) : 100;
    return "lazy, " + std::to_string(pct) + "% local";
}

bool keep_local_layers(store::Store& store, const Record& rec, bool privileged,
                       const std::function<bool()>& abandoned_when) {
    const std::function<bool()> never = [] { return false; };
    const auto& abandoned = abandoned_when ? abandoned_when : never;
    auto config = oci::ImageConfig::parse(store.read_blob(rec.config));
    if (config.diff_ids.size() != rec.layers.size())
        throw Error(Errc::invalid, "image " + name_of(rec) + ": its config lists " +
                                       std::to_string(config.diff_ids.size()) + " diff_ids for " +
                                       std::to_string(rec.layers.size()) + " layers");
    auto lock = store.writer_lock();
    store::Importer importer(store, store::ImportOptions{privileged, 1});
    std::size_t in_store = 0;
    for (std::size_t i = 0; i < rec.layers.size(); ++i) {
        const auto& l = rec.layers[i];
        if (abandoned()) return false;
        if (store::has_layer_content(store, l.digest, config.diff_ids[i]) &&
            store.has_layer(config.diff_ids[i])) {
            ++in_store;
            continue;
        }
        std::string what = layer_what(rec, i);
        auto copy = local_copy(store, l.digest);
        Toc toc = Toc::parse(store.read_blob(l.toc, kMaxTocBytes), l.toc_offset, what, l.format);
        auto map = open_local_map(store, l, toc, false);
        if (!map->complete()) continue;
        Fd fd(::open(copy.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) continue;
        store::LayerJob job;
        job.blob = l.digest;
        job.diff_id = config.diff_ids[i];
        job.what = what;
        int raw = fd.get();
        job.open = [raw, what, &abandoned] {
            return std::make_unique<AbandonableReader>(raw, what, abandoned);
        };
        // copied, not renamed: a serving process of a detached container may still write
        // the copy (the prefetch), never the store's blob
        try {
            importer.layers({job});
            ++in_store;
        } catch (const ConversionAbandoned&) {
            return false; // the pending blob and layer went with the importer's unwinding
        } catch (const Error& e) {
            // a copy that lies (a registry that served other bytes): fetched again next time
            log::warn(what + ": the local copy is not the layer (" + e.message() +
                      "); it will be fetched again");
            map->clear();
        }
    }
    if (in_store != rec.layers.size() || abandoned()) return false;
    importer.tag({rec.ref}, rec.manifest); // the name last, once everything it names is in
    remove(store, rec);
    return true;
}

bool complete(store::Store& store, const Record& rec, const registry::PullOptions& opt) {
    if (registry::fetch_metadata(rec.ref, opt).manifest_digest != rec.manifest) {
        remove(store, rec);
        return false;
    }
    if (is_squashfs(rec)) { // gantry's squashfs artifact: the node's .sqsh cache entry
        complete_squashfs(store, rec, opt.client, opt.quiet);
        return true;
    }
    auto client = client_for(rec, opt.client);
    auto dir = store.root() / "lazy" / "blobs";
    fs::stdfs::create_directories(dir);
    for (std::size_t i = 0; i < rec.layers.size(); ++i) {
        const auto& l = rec.layers[i];
        std::string what = layer_what(rec, i) + " from registry " + rec.domain;
        auto copy = local_copy(store, l.digest);
        if (store.has_blob(l.digest)) continue;
        Fd fd(::open(copy.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd) throw_errno("cannot open the local copy of " + what);
        if (::ftruncate(fd.get(), static_cast<off_t>(l.size)) != 0)
            throw_errno("cannot size the local copy of " + what);
        Toc toc = Toc::parse(store.read_blob(l.toc, kMaxTocBytes), l.toc_offset, what, l.format);
        auto map = open_local_map(store, l, toc, true);
        int raw = fd.get();
        RemoteBlob blob(client, rec.repository, l.digest, l.size, std::move(fd), what);
        std::uint64_t fetched = 0;
        for (auto [b, e] : map->missing(0, l.size))
            for (auto [pb, pe] : map->pieces(b, e, 4 * kPieceBytes)) {
                std::string bytes = blob.fetch_range(pb, static_cast<std::size_t>(pe - pb));
                if (::pwrite(raw, bytes.data(), bytes.size(), static_cast<off_t>(pb)) !=
                    static_cast<ssize_t>(bytes.size()))
                    throw_errno("cannot write the local copy of " + what);
                map->mark(pb, pe);
                fetched += bytes.size();
            }
        if (!opt.quiet)
            std::fprintf(stderr, "%s: %llu bytes were local, %llu fetched\n", what.c_str(),
                         static_cast<unsigned long long>(l.size - fetched),
                         static_cast<unsigned long long>(fetched));
    }
    if (!keep_local_layers(store, rec, opt.privileged))
        throw Error(Errc::invalid,
                    "image " + name_of(rec) + ": a layer fetched did not match its digest",
                    "the registry serves other bytes than its manifest names; pull again, or "
                    "ask its owner to push the image again");
    return true;
}

bool in_store(const store::Store& store, const std::string& ref) {
    std::string full;
    try {
        full = oci::Reference::parse(ref).str();
    } catch (const Error&) {
        return false;
    }
    return store.refs().count(full) > 0 && !find(store, ref);
}

void remove(store::Store& store, const Record& rec) {
    std::error_code ec;
    store::stdfs::remove(record_path(store, rec.ref), ec); // the name first
    for (auto& l : rec.layers) {
        auto copy = local_copy(store, l.digest);
        store::stdfs::remove(LocalMap::path_for(copy), ec);
        store::stdfs::remove(copy, ec);
    }
}

} // namespace gantry::lazy

namespace gantry::lazy {

bool remove_named(store::Store& store, const std::string& ref) {
    std::optional<Record> rec;
    try {
        rec = find(store, ref);
    } catch (const Error&) {
        // a damaged record: removed all the same (its copies are then named by no record:
        // `system prune` collects them)
        std::string full = ref;
        try {
            full = oci::Reference::parse(ref).str();
        } catch (const Error&) {
        }
        std::error_code ec;
        return store::stdfs::remove(record_path(store, full), ec);
    }
    if (!rec) return false;
    remove(store, *rec);
    return true;
}

} // namespace gantry::lazy
