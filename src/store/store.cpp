#include "store/store.hpp"

#include "oci/image.hpp"
#include "store/owned_tree.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/unsafe_sync.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gantry::store {

stdfs::path default_root() {
    if (const char* r = std::getenv("GANTRY_ROOT"); r && *r) return r;
    if (::geteuid() == 0) return "/var/lib/gantry";
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return stdfs::path(x) / "gantry";
    const char* home = std::getenv("HOME");
    std::string h = home && *home ? home : "";
    if (h.empty())
        if (auto* pw = ::getpwuid(::geteuid())) h = pw->pw_dir;
    if (h.empty())
        throw Error(Errc::usage, "cannot find a home directory for the image store",
                    "set GANTRY_ROOT or pass --root DIR");
    return stdfs::path(h) / ".local/share/gantry";
}

Store::Store(stdfs::path root) : root_(std::move(root)) {
    for (auto sub : {"blobs/sha256", "layers/sha256", "tmp", "locks", "holds"})
        fs::make_dirs(root_ / sub);
}

stdfs::path Store::blob_path(const Digest& d) const {
    return root_ / "blobs/sha256" / d.hex();
}

bool Store::has_blob(const Digest& d) const {
    struct stat st {};
    return ::stat(blob_path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::uint64_t Store::blob_size(const Digest& d) const {
    struct stat st {};
    if (::stat(blob_path(d).c_str(), &st) != 0) throw_errno("blob " + d.str());
    return static_cast<std::uint64_t>(st.st_size);
}

std::string Store::read_blob(const Digest& d, std::uint64_t max_size) const {
    std::string data;
    try {
        data = fs::read_file(blob_path(d), max_size);
    } catch (const Error& e) {
        if (e.code() == Errc::not_found)
            throw Error(Errc::not_found, "blob " + d.str() + " is missing from the store",
                        "load or pull the image again");
        throw;
    }
    std::string actual = Sha256::hex_of(data);
    if (actual != d.hex())
        throw Error(Errc::invalid,
                    "blob " + d.str() +
                        " in the store is corrupt: its content hashes to sha256:" + actual,
                    "run `gantry system fsck --repair`, then load or pull the image again");
    return data;
}

Digest Store::put_blob(std::string_view data, const std::optional<Digest>& expected) {
    Digest d = Digest::of(data);
    if (expected && *expected != d)
        throw Error(Errc::invalid,
                    "blob " + expected->str() + " has the wrong content: it hashes to " + d.str(),
                    "the source is corrupt or was modified; fetch or export it again");
    return put_hashed_blob(data, d);
}

Digest Store::put_hashed_blob(std::string_view data, const Digest& d) {
    if (has_blob(d)) return d;
    auto p = begin_blob();
    fs::write_all(p.fd(), data.data(), data.size(), "blob " + d.str());
    p.commit(d);
    return d;
}

void Store::remove_blob(const Digest& d) {
    if (::unlink(blob_path(d).c_str()) != 0) {
        if (errno == ENOENT) return;
        throw_errno("cannot remove blob " + d.str());
    }
    fs::sync_dir(root_ / "blobs/sha256");
}

PendingBlob Store::begin_blob() {
    auto tmp = tmp_dir() / ("blob-" + fs::unique_name());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw_errno("cannot create a temporary blob in " + tmp_dir().string());
    return PendingBlob(tmp, std::move(fd), root_ / "blobs/sha256");
}

PendingBlob::~PendingBlob() {
    if (!done_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void PendingBlob::commit(const Digest& d) {
    fs::sync_file(fd_.get(), "blob " + d.str()); // its data before the name that publishes it
    fd_.reset();
    auto dst = blobs_ / d.hex();
    if (::rename(tmp_.c_str(), dst.c_str()) != 0) throw_errno("cannot store blob " + d.str());
    done_ = true;
    fs::sync_dir(blobs_);
}

stdfs::path Store::layer_dir(const Digest& id) const {
    return root_ / "layers/sha256" / id.hex();
}
stdfs::path Store::layer_rootfs(const Digest& id) const {
    return layer_dir(id) / "rootfs";
}

bool Store::has_layer(const Digest& id) const {
    struct stat st {};
    return ::stat((layer_dir(id) / "meta.json").c_str(), &st) == 0;
}

PendingLayer Store::begin_layer() {
    auto tmp = tmp_dir() / ("layer-" + fs::unique_name());
    if (::mkdir(tmp.c_str(), 0755) != 0 || ::mkdir((tmp / "rootfs").c_str(), 0755) != 0)
        throw_errno("cannot create a temporary layer directory in " + tmp_dir().string());
    Fd fd(::open((tmp / "rootfs").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + tmp.string());
    return PendingLayer(tmp, std::move(fd), root_ / "layers/sha256");
}

PendingLayer::~PendingLayer() {
    if (!done_ && !tmp_.empty()) {
        try {
            remove_owned_tree(tmp_);
        } catch (...) { // leftovers in tmp/ are removed by `gantry system prune`
        }
    }
}

bool PendingLayer::commit(const Digest& id, const std::string& meta) {
    return commit_all({{this, id, meta}}).front();
}

std::vector<bool> PendingLayer::commit_all(const std::vector<Commit>& set) {
    std::vector<bool> ours;
    if (set.empty()) return ours;
    // meta.json (the layer's completion marker) beside the tree and its tar-split, all unsynced
    // in the unpublished directory; then one syncfs makes all of it durable (thousands of files,
    // each fsync'd, would cost far more: their writeback was started as they were written,
    // ExtractOptions::early_writeback); then the names that publish them, then their directory.
    for (const auto& c : set)
        fs::write_atomic(c.layer->tmp_ / "meta.json", c.meta, 0644, fs::Sync::volatile_only);
    if (!fs::unsafe_no_sync() && ::syncfs(set.front().layer->rootfs_.get()) != 0)
        throw_errno("cannot write layer " + set.front().diff_id.str() + " to disk");
    for (const auto& c : set) {
        PendingLayer& l = *c.layer;
        l.rootfs_.reset();
        auto dst = l.layers_ / c.diff_id.hex();
        if (::rename(l.tmp_.c_str(), dst.c_str()) != 0) {
            if (errno != EEXIST && errno != ENOTEMPTY)
                throw_errno("cannot store layer " + c.diff_id.str());
            ours.push_back(false); // another process won: ours is dropped
            continue;
        }
        l.done_ = true;
        ours.push_back(true);
    }
    fs::sync_dir(set.front().layer->layers_);
    return ours;
}

namespace {

// refs.json parsed ({} when there is none yet)
oci::json read_refs_doc(const stdfs::path& root) {
    std::string text;
    try {
        text = fs::read_file(root / "refs.json");
    } catch (const Error& e) {
        if (e.code() == Errc::not_found) return oci::json::object();
        throw;
    }
    auto doc = oci::parse_json(text, (root / "refs.json").string());
    auto it = doc.find("refs");
    if (!doc.is_object() || it == doc.end() || !it->is_object())
        throw Error(Errc::invalid, (root / "refs.json").string() + " has no \"refs\" object",
                    "restore it or remove it and load your images again");
    return doc;
}

RefMap refs_of(const oci::json& doc) {
    RefMap out;
    if (auto it = doc.find("refs"); it != doc.end())
        for (auto& [k, v] : it->items())
            if (v.is_string()) out[k] = Digest::parse(v.get<std::string>());
    return out;
}

IndexMap indexes_of(const oci::json& doc) {
    IndexMap out;
    if (auto it = doc.find("indexes"); it != doc.end() && it->is_object())
        for (auto& [k, v] : it->items())
            if (v.is_string()) out[k] = Digest::parse(v.get<std::string>());
    return out;
}

std::set<Digest> untagged_of(const oci::json& doc) {
    std::set<Digest> out;
    if (auto it = doc.find("untagged"); it != doc.end() && it->is_array())
        for (auto& v : *it)
            if (v.is_string()) out.insert(Digest::parse(v.get<std::string>()));
    return out;
}

SizeMap sizes_of(const oci::json& doc) {
    SizeMap out;
    auto it = doc.find("sizes");
    if (it == doc.end() || !it->is_object()) return out;
    for (auto& [k, v] : it->items()) {
        try {
            if (!v.is_object()) continue;
            auto u = v.find("unpacked"), c = v.find("compressed");
            if (u == v.end() || c == v.end() || !u->is_number_unsigned() ||
                !c->is_number_unsigned())
                continue;
            out[Digest::parse(k)] = {u->get<std::uint64_t>(), c->get<std::uint64_t>()};
        } catch (const Error&) { // a damaged record is no record: computed again
        }
    }
    return out;
}

} // namespace

RefMap Store::refs() const {
    return refs_of(read_refs_doc(root_));
}

IndexMap Store::indexes() const {
    return indexes_of(read_refs_doc(root_));
}

Store::Names Store::names() const {
    auto doc = read_refs_doc(root_);
    return {refs_of(doc), indexes_of(doc), untagged_of(doc)};
}

std::set<Digest> Store::untagged() const {
    return untagged_of(read_refs_doc(root_));
}

void Store::update_untagged(const std::function<void(std::set<Digest>&)>& change) {
    update_all([&](RefMap&, IndexMap&, std::set<Digest>& u) { change(u); });
}

SizeMap Store::recorded_sizes() const {
    return sizes_of(read_refs_doc(root_));
}

void Store::update_refs(const std::function<void(RefMap&)>& change) {
    update_names([&](RefMap& m, IndexMap&) { change(m); });
}

void Store::update_names(const std::function<void(RefMap&, IndexMap&)>& change) {
    update_all([&](RefMap& m, IndexMap& idx, std::set<Digest>&) { change(m, idx); });
}

void Store::update_all(const std::function<void(RefMap&, IndexMap&, std::set<Digest>&)>& change) {
    FileLock lock(root_ / "locks/refs", FileLock::Mode::exclusive);
    auto before = read_refs_doc(root_);
    RefMap m = refs_of(before);
    IndexMap idx = indexes_of(before);
    std::set<Digest> untagged = untagged_of(before);
    SizeMap known = sizes_of(before);
    change(m, idx, untagged);
    oci::json doc;
    doc["refs"] = oci::json::object();
    for (auto& [k, v] : m) doc["refs"][k] = v.str();
    std::vector<Digest> images; // every image named: the references' and the indexes' members
    for (auto& [k, v] : m) images.push_back(v);
    oci::json indexes = oci::json::object();
    for (auto& [name, index] : idx) {
        auto named = m.find(name);
        if (named == m.end()) continue; // the name is gone: its index with it
        std::vector<Digest> members;
        try {
            for (auto& d : oci::Index::parse(read_blob(index)).manifests)
                members.push_back(d.digest);
        } catch (const Error& e) { // kept: `gantry system fsck` reports it, rmi removes it
            log::warn("index " + index.str() + " of " + name + ": " + e.message());
            indexes[name] = index.str();
            continue;
        }
        if (std::find(members.begin(), members.end(), named->second) == members.end())
            continue; // the name was given to another image: it holds that one only
        indexes[name] = index.str();
        images.insert(images.end(), members.begin(), members.end());
    }
    if (!indexes.empty()) doc["indexes"] = std::move(indexes);
    // an untagged image given a name is named now: it leaves the list
    for (auto& v : images) untagged.erase(v);
    if (!untagged.empty()) {
        doc["untagged"] = oci::json::array();
        for (auto& v : untagged) {
            doc["untagged"].push_back(v.str());
            images.push_back(v);
        }
    }
    oci::json sizes = oci::json::object();
    for (auto& v : images) {
        if (sizes.contains(v.str())) continue;
        std::optional<ImageSize> s;
        if (auto it = known.find(v); it != known.end()) s = it->second;
        if (!s) s = compute_image_size(*this, v); // its layers are in: they are named last
        if (s) sizes[v.str()] = {{"unpacked", s->unpacked}, {"compressed", s->compressed}};
    }
    if (!sizes.empty()) doc["sizes"] = std::move(sizes);
    fs::write_atomic(root_ / "refs.json", doc.dump(2) + "\n");
}

void Store::add_hold(const std::string& name, const Digest& manifest) {
    // a hold lives as long as its run: on the start path, and stale after a crash anyway
    fs::write_atomic(root_ / "holds" / name, manifest.str() + "\n", 0644, fs::Sync::volatile_only);
}

void Store::remove_hold(const std::string& name) {
    if (::unlink((root_ / "holds" / name).c_str()) != 0 && errno != ENOENT)
        throw_errno("cannot remove hold " + name);
}

std::map<std::string, Digest> Store::holds() const {
    std::map<std::string, Digest> out;
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(root_ / "holds", ec)) {
        auto name = e.path().filename().string();
        if (name.find(".tmp-") != std::string::npos) continue;
        try {
            std::string t = fs::read_file(e.path(), 4096);
            out[name] = Digest::parse(text::trim_right(t, "\n "));
        } catch (const Error&) { // a hold being written or damaged: ignore it
        }
    }
    return out;
}

FileLock Store::use_image(const Digest& manifest) const {
    return FileLock(root_ / "locks" / ("image-" + manifest.hex()), FileLock::Mode::shared);
}

std::set<Digest> Store::images_in_use() const {
    std::set<Digest> out;
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(root_ / "locks", ec)) {
        auto name = e.path().filename().string();
        if (!name.starts_with("image-")) continue;
        try {
            Digest d = Digest::from_hex(name.substr(6));
            if (!FileLock::try_lock(e.path(), FileLock::Mode::exclusive).held()) out.insert(d);
        } catch (const Error&) { // not ours (a stray file): ignore it
        }
    }
    return out;
}

void Store::drop_unused_image_locks(const std::set<Digest>* only) {
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(root_ / "locks", ec)) {
        auto name = e.path().filename().string();
        if (!name.starts_with("image-")) continue;
        try {
            if (only && !only->count(Digest::from_hex(name.substr(6)))) continue;
        } catch (const Error&) { // not ours (a stray file): leave it
            continue;
        }
        auto held = FileLock::try_lock(e.path(), FileLock::Mode::exclusive);
        if (held.held()) ::unlink(e.path().c_str()); // unlinked while ours: nobody is left on it
    }
}

std::pair<std::string, FileLock> Store::temporary_ref() const {
    std::string tag = fs::unique_name();
    FileLock lock(root_ / "locks" / ("tmpref-" + tag), FileLock::Mode::exclusive);
    return {std::string(kTemporaryRepository) + ":" + tag, std::move(lock)};
}

std::size_t Store::drop_stale_temporary_refs() {
    std::string prefix = std::string(kTemporaryRepository) + ":";
    std::vector<std::string> stale;
    for (auto& [ref, d] : refs()) {
        if (!ref.starts_with(prefix)) continue;
        auto lock = root_ / "locks" / ("tmpref-" + ref.substr(prefix.size()));
        // no lock file: made by a gantry before these locks; its command is long gone too
        struct stat st {};
        if (::stat(lock.c_str(), &st) != 0 ||
            FileLock::try_lock(lock, FileLock::Mode::exclusive).held())
            stale.push_back(ref);
    }
    if (!stale.empty())
        update_refs([&](RefMap& m) {
            for (auto& r : stale) m.erase(r);
        });
    // lock files of finished commands and of the references just dropped: nobody holds them
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(root_ / "locks", ec))
        if (e.path().filename().string().starts_with("tmpref-") &&
            FileLock::try_lock(e.path(), FileLock::Mode::exclusive).held())
            ::unlink(e.path().c_str());
    return stale.size();
}

std::size_t Store::remove_half_written() {
    std::size_t n = 0;
    std::error_code ec;
    {
        FileLock lock(root_ / "locks/refs", FileLock::Mode::exclusive);
        for (auto& e : stdfs::directory_iterator(root_, ec))
            if (e.path().filename().string().starts_with("refs.json.tmp-") &&
                ::unlink(e.path().c_str()) == 0)
                ++n;
    }
    for (auto& e : stdfs::directory_iterator(root_ / "holds", ec))
        if (fs::temporary_writer_gone(e.path().filename().string()) &&
            ::unlink(e.path().c_str()) == 0)
            ++n;
    return n;
}

FileLock Store::writer_lock() const {
    return FileLock(root_ / "locks/gc", FileLock::Mode::shared);
}
FileLock Store::gc_lock() const {
    return FileLock(root_ / "locks/gc", FileLock::Mode::exclusive);
}

} // namespace gantry::store
