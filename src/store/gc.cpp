#include "store/gc.hpp"

#include "oci/image.hpp"
#include "store/gc_live.hpp"
#include "store/layer_tar.hpp"
#include "store/owned_tree.hpp"
#include "store/scratch.hpp"
#include "store/tree_digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/parallel.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace gantry::store {

namespace detail {

Live live_set(const Store& store) {
    Live live;
    std::map<Digest, std::set<std::string>> roots;
    auto named = store.names();
    for (auto& [k, v] : named.refs) roots[v].insert("image " + k);
    for (auto& v : named.untagged) roots[v].insert("untagged image " + v.short_id());
    // a name's index (store/platforms.hpp) and the images of every platform it lists
    for (auto& [k, index] : named.indexes) {
        if (!named.refs.count(k)) continue;
        live.blobs.insert(index.hex());
        live.users[index.hex()].insert("image " + k);
        try {
            for (auto& d : oci::Index::parse(store.read_blob(index)).manifests)
                roots[d.digest].insert("image " + k +
                                       (d.platform ? " (" + d.platform->str() + ")" : ""));
        } catch (const Error& e) {
            live.problems.push_back({"bad-index", index.str(),
                                     e.message() + "; needed by image " + k +
                                         " (remove the name with `gantry rmi`, pull it again)",
                                     false});
        }
    }
    for (auto& [k, v] : store.holds()) {
        roots[v].insert("container " + k);
        ++live.image_containers[v];
    }
    for (auto& d : store.images_in_use()) {
        roots[d].insert("a running container");
        ++live.image_containers[d];
    }
    live.images = roots.size();
    for (auto& root : roots) {
        const Digest& md = root.first;
        const std::set<std::string>& who = root.second; // (clang: no lambda capture of a binding)
        auto& mine = live.image_needs[md];
        auto need = [&](const std::string& hex, std::set<std::string>& set) {
            set.insert(hex);
            (&set == &live.blobs ? mine.first : mine.second).insert(hex);
            live.users[hex].insert(who.begin(), who.end());
        };
        need(md.hex(), live.blobs);
        try {
            auto m = oci::Manifest::parse(store.read_blob(md));
            need(m.config.digest.hex(), live.blobs);
            for (auto& l : m.layers) need(l.digest.hex(), live.blobs);
            auto c = oci::ImageConfig::parse(store.read_blob(m.config.digest));
            for (auto& d : c.diff_ids) need(d.hex(), live.layers);
            for (std::size_t i = 0; i < m.layers.size() && i < c.diff_ids.size(); ++i)
                live.layer_diff.emplace(m.layers[i].digest.hex(), c.diff_ids[i].hex());
        } catch (const Error& e) {
            std::string names;
            for (const auto& w : who) names += (names.empty() ? "" : ", ") + w;
            live.problems.push_back(
                {"bad-manifest", md.str(), e.message() + "; needed by " + names, false});
        }
    }
    // lazily pulled images (lazy/image.hpp, docs/lazy-pull.md): their manifest, config, TOC,
    // tar-split and block-digest table blobs, named by their records; a damaged record is a
    // problem, as a damaged manifest is
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(store.root() / "lazy" / "refs", ec)) {
        try {
            auto j = oci::json::parse(fs::read_file(e.path(), 1u << 20));
            std::string who = "lazily pulled image " + j.at("ref").get<std::string>();
            std::vector<std::string> digests = {j.at("manifest").get<std::string>(),
                                                j.at("config").get<std::string>()};
            for (auto& l : j.at("layers")) {
                for (auto key : {"toc", "tar_split", "block_digests"}) // a squashfs artifact's
                    if (l.contains(key)) digests.push_back(l.at(key).get<std::string>()); // no toc
                live.lazy_copies.insert(Digest::parse(l.at("digest").get<std::string>()).hex());
            }
            for (auto& d : digests) {
                auto hex = Digest::parse(d).hex();
                live.blobs.insert(hex);
                live.users[hex].insert(who);
            }
        } catch (const std::exception& x) {
            live.problems.push_back({"bad-lazy-record", e.path().string(),
                                     std::string(x.what()) + "; remove it and pull --lazy again",
                                     false});
        }
    }
    return live;
}

std::vector<std::string> entries(const stdfs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
    return out;
}

std::uint64_t file_bytes(const stdfs::path& p) {
    std::error_code ec;
    auto n = stdfs::file_size(p, ec);
    return ec ? 0 : n;
}

// {apparent, allocated} as recorded at unpack time (du of a big tree is slow).
std::pair<std::uint64_t, std::uint64_t> layer_sizes(const stdfs::path& dir) {
    try {
        auto meta = oci::parse_json(fs::read_file(dir / "meta.json"), "layer metadata");
        auto size = meta.value("size", std::uint64_t{0});
        return {size, meta.value("allocated_bytes", size)};
    } catch (const Error&) {
        auto n = fs::disk_usage(dir);
        return {n, n};
    }
}

std::uint64_t layer_bytes(const stdfs::path& dir) {
    return layer_sizes(dir).first;
}

void remove_layer_dir(Store& store, const std::string& hex) {
    auto p = store.root() / "layers/sha256" / hex;
    // Rename first so a half-removed tree is never mistaken for a complete layer.
    auto doomed = store.tmp_dir() / ("doomed-" + fs::unique_name());
    if (::rename(p.c_str(), doomed.c_str()) == 0) remove_owned_tree(doomed);
}

} // namespace detail

using namespace detail;

namespace {

// layer_incomplete of the layer HEX.
std::string incomplete_layer_hex(const Store& store, const std::string& hex) {
    auto dir = store.root() / "layers/sha256" / hex;
    oci::json meta;
    try {
        meta = oci::parse_json(fs::read_file(dir / "meta.json"), "meta.json");
    } catch (const Error& e) {
        return "its completion record meta.json is unreadable (" + e.message() + ")";
    }
    if (!meta.is_object()) return "its completion record meta.json is not a JSON object";
    if (meta.contains("diff_id") && meta["diff_id"] != "sha256:" + hex)
        return "its meta.json names another layer";
    struct stat st {};
    if (::lstat((dir / "rootfs").c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return "its unpacked tree (rootfs/) is missing";
    auto entries = meta.value("entries", std::uint64_t{0});
    std::error_code ec;
    if (entries > 1 && stdfs::is_empty(dir / "rootfs", ec) && !ec)
        return "its unpacked tree is empty but the layer has " + std::to_string(entries) +
               " entries";
    return {};
}

// "; needed by image a:1, image b:2"
std::string needed_by(const Live& live, const std::string& hex) {
    auto it = live.users.find(hex);
    if (it == live.users.end() || it->second.empty()) return {};
    std::string out = "; needed by ";
    bool first = true;
    for (const auto& u : it->second) {
        out += (first ? "" : ", ") + u;
        first = false;
    }
    return out;
}

} // namespace

PruneResult collect(Store& store, const std::set<Digest>& manifests) {
    PruneResult r;
    std::set<std::string> blobs, layers;
    for (auto& md : manifests) {
        blobs.insert(md.hex());
        try {
            auto m = oci::Manifest::parse(store.read_blob(md));
            blobs.insert(m.config.digest.hex());
            for (auto& l : m.layers) blobs.insert(l.digest.hex());
            auto c = oci::ImageConfig::parse(store.read_blob(m.config.digest));
            for (auto& d : c.diff_ids) layers.insert(d.hex());
        } catch (const Error&) { // damaged: `system prune` collects what it can
        }
    }
    auto lock = store.gc_lock();
    Live live = live_set(store);
    if (!live.problems.empty()) return r; // unsure what is live: leave it to prune after fsck
    for (auto& hex : blobs) {
        if (live.blobs.count(hex)) continue;
        auto p = store.root() / "blobs/sha256" / hex;
        r.bytes += file_bytes(p);
        if (::unlink(p.c_str()) == 0) ++r.blobs;
    }
    for (auto& hex : layers) {
        if (live.layers.count(hex) || !store.has_layer(Digest::from_hex(hex))) continue;
        r.bytes += layer_bytes(store.root() / "layers/sha256" / hex);
        remove_layer_dir(store, hex);
        ++r.layers;
    }
    for (auto& md : manifests)
        if (!live.blobs.count(md.hex()))
            for (const auto& dir : {store.views_dir(), store.verdicts_dir()})
                ::unlink((dir / (md.hex() + ".json")).c_str());
    store.drop_unused_image_locks(&manifests);
    return r;
}

namespace {

struct TreeCheck {
    std::string hex;
    std::string recorded; // "" when meta.json records no digest (or another scheme)
    TreeScheme scheme;    // the recorded digest's
    std::string actual, error;
    std::string content_error; // gantry-tree-v2: why the tree no longer gives back its tar
    std::uint64_t bytes = 0;
    oci::json owners; // the subordinate-id maps its owners were applied with (owned_tree.hpp)
    bool maps_changed = false; // ... and they are not the user's now: not walked
    bool blob_kept = true;     // the store keeps its blob beside the tree (keep_compressed)
};

// "" when the tar rebuilt from the layer HEX's tree and tar-split hashes to its diff_id (the
// reader checks it at its end), else why not. Counts the bytes read into BYTES.
std::string content_check(const Store& store, const std::string& hex, bool blob_kept,
                          std::uint64_t& bytes) {
    try {
        auto tar = open_reconstruction(store, Digest::from_hex(hex), "fsck", !blob_kept);
        std::vector<char> chunk(1 << 20);
        while (std::size_t n = tar->read(chunk.data(), chunk.size())) bytes += n;
        return "";
    } catch (const Error& e) {
        return e.message();
    }
}

// Walks every complete unpacked tree in the store (skipping SKIP: reported already) and
// compares it with its recorded digest; damaged trees become problems, undigested ones notes.
void deep_check(Store& store, const Live& live, const std::set<std::string>& skip, bool repair,
                FsckReport& rep) {
    std::vector<TreeCheck> checks;
    for (auto& hex : entries(store.root() / "layers/sha256")) {
        if (skip.count(hex) || !incomplete_layer_hex(store, hex).empty()) continue;
        TreeCheck c;
        c.hex = hex;
        try {
            auto meta = oci::parse_json(
                fs::read_file(store.root() / "layers/sha256" / hex / "meta.json"), "meta.json");
            auto t = meta.find("tree");
            if (t != meta.end() && t->is_object())
                if (auto scheme = tree_scheme_of(t->value("scheme", ""))) {
                    c.recorded = t->value("digest", "");
                    c.scheme = *scheme;
                }
            if (auto o = meta.find("owners"); o != meta.end()) c.owners = *o;
            c.blob_kept = meta.value("blob_kept", true);
        } catch (const Error&) {
        }
        checks.push_back(std::move(c));
    }
    SubIdMaps maps = owner_maps();
    parallel_for(
        checks.size(), std::max(1u, std::thread::hardware_concurrency()), [&](std::size_t i) {
            auto& c = checks[i];
            if (c.recorded.empty()) return;
            try {
                auto rootfs = store.root() / "layers/sha256" / c.hex / "rootfs";
                // a tree holding subordinate ids is walked where they are the
                // image's own ids, as the importer walked it
                if (!c.owners.is_null() && !same_maps(c.owners, maps)) {
                    c.maps_changed = true;
                    return;
                }
                std::unordered_set<std::string> referenced;
                bool by_tar_split = c.scheme.content == TreeContent::by_tar_split;
                if (by_tar_split)
                    referenced = referenced_files(store, Digest::from_hex(c.hex), "fsck");
                auto d =
                    !c.owners.is_null()
                        ? tree_digest_in_userns(rootfs, maps, c.scheme.data)
                        : tree_digest(rootfs, by_tar_split ? &referenced : nullptr, c.scheme.data);
                c.actual = d.digest;
                c.bytes = d.content_bytes;
                // the files' data: the tar rebuilt from the tree and its tar-split
                // hashes to the diff_id (checked by the reader at its end)
                if (c.scheme.content == TreeContent::by_tar_split && c.actual == c.recorded)
                    c.content_error = content_check(store, c.hex, c.blob_kept, c.bytes);
            } catch (const Error& e) {
                c.error = e.message();
            }
        });
    for (auto& c : checks) {
        std::string who = needed_by(live, c.hex);
        if (who.empty()) who = "; no image uses it (`gantry system prune` removes it)";
        if (c.recorded.empty()) {
            rep.notes.push_back(
                {"no-tree-digest", "sha256:" + c.hex,
                 "unpacked before gantry recorded tree digests, so its content cannot be "
                 "verified" +
                     who +
                     "; nothing is wrong with it as far as fsck knows. To verify it: remove the "
                     "images that use it (`gantry rmi`), then load or pull them again",
                 false});
            continue;
        }
        if (c.maps_changed) { // its files belong to ids the user may not have: not removed
            rep.problems.push_back(
                {"owners-changed", "sha256:" + c.hex,
                 "its files' owners were applied as the subordinate ids " +
                     describe_maps(c.owners) + " and yours are now " +
                     describe_maps(maps_json(maps)) + " (/etc/subuid or /etc/subgid changed)" +
                     who + "; restore your ranges, or have root remove the store (sudo rm -rf " +
                     store.root().string() + ") and load or pull the images again",
                 false});
            continue;
        }
        ++rep.trees_checked;
        rep.tree_bytes_checked += c.bytes;
        if (c.error.empty() && c.actual == c.recorded && c.content_error.empty()) continue;
        std::string what;
        if (!c.error.empty())
            what = "its unpacked tree cannot be read: " + c.error;
        else if (c.actual != c.recorded)
            what = "its unpacked tree hashes to " + c.actual + " but " + c.recorded +
                   " was recorded when it was unpacked (a file was changed, added, removed or "
                   "its mode, owner or extended attributes changed)";
        else
            what = "its files' data no longer match its diff_id (" + c.content_error + ")";
        FsckProblem pr{"damaged-layer", "sha256:" + c.hex,
                       what + who +
                           (repair ? "; load or pull the image again"
                                   : "; `gantry system fsck --repair` removes it, then load or "
                                     "pull the image again"),
                       false};
        if (repair) {
            remove_layer_dir(store, c.hex);
            pr.repaired = true;
        }
        rep.problems.push_back(pr);
    }
}

} // namespace

FsckReport fsck(Store& store, bool repair, bool deep) {
    auto lock = store.gc_lock();
    FsckReport rep;
    Live live = live_set(store);
    rep.problems = live.problems;
    std::vector<char> buf(1 << 20);
    std::set<std::string> corrupt;
    for (auto& hex : entries(store.root() / "blobs/sha256")) {
        auto p = store.root() / "blobs/sha256" / hex;
        Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) continue;
        Sha256 h;
        ssize_t n;
        while ((n = ::read(fd.get(), buf.data(), buf.size())) > 0) {
            h.update(buf.data(), static_cast<std::size_t>(n));
            rep.bytes_checked += static_cast<std::uint64_t>(n);
        }
        ++rep.blobs_checked;
        std::string actual = h.hex_final();
        if (n < 0 || actual != hex) {
            FsckProblem pr{"corrupt-blob", "sha256:" + hex,
                           n < 0 ? "unreadable" : "content hashes to sha256:" + actual, false};
            if (repair) {
                ::unlink(p.c_str());
                pr.repaired = true;
            }
            corrupt.insert(hex);
            rep.problems.push_back(pr);
        }
    }
    auto kept_unpacked = [&](const std::string& hex) {
        auto it = live.layer_diff.find(hex);
        return it != live.layer_diff.end() && has_tar_split(store, Digest::from_hex(it->second));
    };
    for (auto& hex : live.blobs)
        if (!corrupt.count(hex) && !store.has_blob(Digest::from_hex(hex)) && !kept_unpacked(hex))
            rep.problems.push_back({"missing-blob", "sha256:" + hex,
                                    "referenced by an image but absent" + needed_by(live, hex) +
                                        "; load or pull that image again",
                                    false});
    for (auto& hex : live.layers) {
        auto dir = store.root() / "layers/sha256" / hex;
        if (!store.has_layer(Digest::from_hex(hex))) {
            rep.problems.push_back(
                {"missing-layer", "sha256:" + hex,
                 "unpacked tree absent" + needed_by(live, hex) + "; load or pull the image again",
                 false});
            continue;
        }
        if (auto why = incomplete_layer_hex(store, hex); !why.empty()) {
            FsckProblem pr{"incomplete-layer", "sha256:" + hex,
                           why + needed_by(live, hex) +
                               (repair ? "; load or pull the image again"
                                       : "; `gantry system fsck --repair` removes it, then load "
                                         "or pull the image again"),
                           false};
            if (repair) {
                remove_layer_dir(store, hex);
                pr.repaired = true;
            }
            rep.problems.push_back(pr);
            continue;
        }
        if (!repair) continue;
        try { // a tree unpacked from a now-removed corrupt blob is suspect too
            auto meta = oci::parse_json(fs::read_file(dir / "meta.json"), "layer metadata");
            std::string blob = meta.value("blob", "");
            if (blob.size() == 71 && corrupt.count(blob.substr(7))) remove_layer_dir(store, hex);
        } catch (const Error&) {
        }
    }
    for (auto& pr : rep.problems)
        if (pr.kind == "corrupt-blob" && pr.object.size() == 71)
            pr.detail += needed_by(live, pr.object.substr(7));
    if (deep) {
        std::set<std::string> reported; // missing, incomplete or removed above
        for (auto& pr : rep.problems)
            if (pr.object.size() == 71) reported.insert(pr.object.substr(7));
        deep_check(store, live, reported, repair, rep);
    }
    return rep;
}

std::string layer_incomplete(const Store& store, const Digest& diff_id) {
    return incomplete_layer_hex(store, diff_id.hex());
}

void remove_layer(Store& store, const Digest& diff_id) {
    remove_layer_dir(store, diff_id.hex());
}

} // namespace gantry::store
