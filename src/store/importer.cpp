#include "store/importer.hpp"

#include "layer/unpack.hpp"
#include "store/gc.hpp"
#include "store/layer_tar.hpp"
#include "store/owned_tree.hpp"
#include "store/tree_digest.hpp"
#include "util/disk_flusher.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/parallel.hpp"
#include "util/unsafe_sync.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace gantry::store {

Importer::Importer(store::Store& store, ImportOptions opt) : store_(store), opt_(opt) {
    if (opt_.jobs == 0) opt_.jobs = std::max(1u, std::thread::hardware_concurrency());
    if (!opt_.privileged) maps_ = owner_maps();
}

std::string Importer::json_blob(const oci::Digest& d, const std::function<std::string()>& fetch) {
    if (store_.has_blob(d)) {
        try {
            return store_.read_blob(d);
        } catch (const Error& e) {
            if (e.code() != Errc::invalid) throw;
            log::warn(e.message() + "; replacing it");
        }
    }
    std::string data = fetch();
    if (oci::Digest::of(data) != d)
        throw Error(Errc::invalid,
                    "blob " + d.str() + " has the wrong content: it hashes to " +
                        oci::Digest::of(data).str(),
                    "the source is corrupt or was modified; fetch or export it again");
    return data;
}

namespace {

// "" when the tree gives back the tar R recorded, else why not (kept in meta.json). REFERENCED
// receives the paths whose data the tar-split references (for a gantry-tree-v2 digest).
std::string one_copy_why_not(const layer::UnpackResult& r, const oci::json& meta,
                             const stdfs::path& rootfs,
                             std::unordered_set<std::string>& referenced) {
    if (!r.not_reproducible.empty()) return r.not_reproducible;
    if (meta.contains("owners"))
        return "its files' owners are applied (subordinate ids): gantry may not read them all "
               "outside the user namespace";
    if (r.tar_split.empty()) return "no tar-split was recorded";
    return check_tree(rootfs, r.tar_split_file_lines, &referenced);
}

std::string unreadable_why(const TreeDigest& tree) {
    return std::to_string(tree.unreadable) + " of its files cannot be read by the store's owner";
}

// The blob read again from JOB's source into a new pending blob, checked against WANT (what
// the same source hashed to when the layer was unpacked from it)
PendingBlob copy_blob_again(Store& store, const LayerJob& job, const oci::Digest& want) {
    auto blob = store.begin_blob();
    auto src = job.open();
    Sha256 hash;
    std::vector<char> buf(1 << 20);
    while (std::size_t n = src->read(buf.data(), buf.size())) {
        hash.update(buf.data(), n);
        fs::write_all(blob.fd(), buf.data(), n, job.what + "'s blob");
    }
    if (auto got = hash.hex_final(); got != want.hex())
        throw Error(Errc::invalid,
                    job.what + ": its blob read again hashes to sha256:" + got + ", not " +
                        want.str() + " as when it was unpacked: the source changed meanwhile",
                    "leave the archive unchanged while it is loaded, and load it again");
    return blob;
}

} // namespace

LayerDone Importer::one_layer(const LayerJob& job, BackgroundQueue& publisher) {
    bool have_layer = store_.has_layer(job.diff_id);
    bool have_blob = job.blob && store_.has_blob(*job.blob);
    if (have_layer) {
        // what a tag will name must be complete: a tree damaged since (a crash, a hand) is
        // unpacked again rather than named
        if (auto why = layer_incomplete(store_, job.diff_id); !why.empty()) {
            log::warn(job.what + ": the unpacked layer " + job.diff_id.str() +
                      " in the store is incomplete (" + why + "); unpacking it again");
            remove_layer(store_, job.diff_id);
            have_layer = false;
        }
    }
    if (have_layer && !opt_.privileged) {
        check_owner_maps(job);
        if (!maps_.empty()) apply_in_place(job);
    }
    // the store kept the tree and its tar-split, not the blob (store/layer_tar.hpp): the same
    // layer as pulled or loaded before (a docker archive does not name its blobs' digests)
    std::optional<DroppedBlob> dropped;
    if (have_layer && !have_blob) {
        dropped = dropped_blob(store_, job.diff_id);
        if (dropped && job.blob && dropped->blob != *job.blob) dropped.reset();
    }
    // the blob's size: another process may drop it (below) between has_blob and here, after
    // it published the layer: then the layer's meta.json names it
    struct stat bst {};
    if (have_blob && have_layer && ::stat(store_.blob_path(*job.blob).c_str(), &bst) != 0) {
        have_blob = false;
        dropped = dropped_blob(store_, job.diff_id);
        if (dropped && dropped->blob != *job.blob) dropped.reset();
    }
    if ((have_blob || dropped) && have_layer) {
        LayerDone d{have_blob ? *job.blob : dropped->blob,
                    have_blob ? static_cast<std::int64_t>(bst.st_size)
                              : static_cast<std::int64_t>(dropped->size),
                    {}};
        auto meta = oci::parse_json(fs::read_file(store_.layer_dir(job.diff_id) / "meta.json"),
                                    "layer metadata");
        if (meta.value("compression", "") == "gzip") d.compression = oci::Compression::gzip;
        if (meta.value("compression", "") == "zstd") d.compression = oci::Compression::zstd;
        return d;
    }
    std::unique_ptr<layer::Reader> src;
    std::unique_ptr<layer::Reader> from_store;
    Fd stored_fd;
    if (have_blob) { // re-unpack from our own copy (verified again on the way)
        stored_fd.reset(::open(store_.blob_path(*job.blob).c_str(), O_RDONLY | O_CLOEXEC));
        if (!stored_fd) throw_errno("cannot open blob " + job.blob->str());
        src = std::make_unique<layer::FdReader>(stored_fd.get(), "blob " + job.blob->str());
    } else {
        src = job.open();
    }
    std::optional<store::PendingLayer> player;
    if (!have_layer) player.emplace(store_.begin_layer());
    // a blob the source can give again is copied only if the store keeps it (below)
    bool blob_later =
        job.reopenable && player && !have_blob && !job.adopt_blob && !keep_compressed();
    std::optional<store::PendingBlob> pblob;
    if (!have_blob && !job.adopt_blob && !blob_later) pblob.emplace(store_.begin_blob());

    layer::ExtractOptions xo{job.what, opt_.privileged};
    // the tree is synced before it is published: its files' writeback starts as they are written
    xo.early_writeback = player.has_value() && !fs::unsafe_no_sync();
    auto r = layer::unpack_layer(*src, pblob ? pblob->fd() : -1, player ? player->rootfs_fd() : -1,
                                 xo, player.has_value());
    if (job.blob && r.blob_hex != job.blob->hex())
        throw Error(Errc::invalid,
                    job.what + ": digest mismatch: expected " + job.blob->str() +
                        ", got sha256:" + r.blob_hex,
                    "the blob is corrupt or was tampered with; fetch or export the image again");
    if (r.diff_hex != job.diff_id.hex())
        throw Error(Errc::invalid,
                    job.what + ": uncompressed content hashes to sha256:" + r.diff_hex +
                        " but the image config lists diff_id " + job.diff_id.str(),
                    "the image is inconsistent or corrupt; rebuild or export it again");
    LayerDone done{oci::Digest::from_hex(r.blob_hex), static_cast<std::int64_t>(r.blob_size),
                   r.compression};
    // One copy (docs/storage.md): a layer pulled or loaded whose tree gives back its tar keeps
    // the tree and the tar-split, not the blob; the blob is published (or not) only after the
    // layer, so a crash leaves one of them complete
    bool drop_blob = false;
    if (!player) {
        if (pblob) pblob->commit(done.blob);
        if (!have_blob && job.adopt_blob) job.adopt_blob(done.blob);
    }
    if (player) {
        oci::json meta{{"diff_id", job.diff_id.str()},
                       {"blob", done.blob.str()},
                       {"compression", oci::to_string(r.compression)},
                       {"size", r.diff_size},
                       {"entries", r.stats.entries},
                       {"files", r.stats.files},
                       {"content_bytes", r.stats.bytes},
                       {"allocated_bytes", r.stats.allocated},
                       {"skipped_devices", r.stats.skipped_devices},
                       {"privileged", opt_.privileged}};
        if (!opt_.privileged) meta["owners_recorded"] = r.stats.owners_recorded;
        // what `system fsck --deep` verifies the tree against (store/tree_digest.hpp); where
        // owners other than root were recorded and the user has subordinate ids, they are
        // applied on disk first and the digest is walked in that namespace (owned_tree.hpp)
        TreeDigest tree;
        TreeContent content = TreeContent::hashed;
        std::string why; // "" when the tree gives back the tar: one copy
        if (r.stats.owners_recorded > 0 && !maps_.empty()) {
            record_store_maps(store_, maps_);
            auto t0 = std::chrono::steady_clock::now();
            auto applied = apply_owners(player->rootfs_path(), maps_);
            log::debug(job.what + ": owners of " + std::to_string(applied.applied) + " of " +
                       std::to_string(applied.tree.entries) + " entries applied (" +
                       std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - t0)
                                          .count()) +
                       " us, the tree digest included)");
            tree = applied.tree;
            auto owners = maps_json(maps_);
            owners["applied"] = applied.applied;
            owners["unmapped"] = applied.unmapped;
            meta["owners"] = owners;
            std::unordered_set<std::string> unused;
            why = one_copy_why_not(r, meta, player->rootfs_path(), unused);
            if (applied.unmapped)
                log::warn(job.what + ": " + std::to_string(applied.unmapped) +
                          " file(s) belong to ids outside your subordinate range (" +
                          describe_maps(owners) + "): they stay yours, root's in the container");
        } else {
            // the data of the files the tar-split references are pinned by the diff_id when
            // the tree gives the tar back (gantry-tree-v2): not read; the others' are
            auto t0 = std::chrono::steady_clock::now();
            std::unordered_set<std::string> referenced;
            why = one_copy_why_not(r, meta, player->rootfs_path(), referenced);
            content = why.empty() ? TreeContent::by_tar_split : TreeContent::hashed;
            tree = tree_digest(player->rootfs_path(), why.empty() ? &referenced : nullptr);
            if (why.empty() && tree.unreadable > 0) {
                why = unreadable_why(tree);
                content = TreeContent::hashed;
                tree = tree_digest(player->rootfs_path());
            }
            log::debug(job.what + ": tree digest (" +
                       tree_digest_scheme({content, DataHash::zero_runs}) + ") of " +
                       std::to_string(tree.entries) + " entries (" +
                       std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - t0)
                                          .count()) +
                       " us)");
        }
        meta["tree"] = {{"scheme", tree_digest_scheme({content, DataHash::zero_runs})},
                        {"digest", tree.digest},
                        {"entries", tree.entries},
                        {"unreadable", tree.unreadable}};
        if (why.empty()) {
            // synced with the tree by the layer's one syncfs (PendingLayer::commit)
            write_tar_split(player->rootfs_path().parent_path(), r.tar_split,
                            fs::Sync::volatile_only);
            meta["tar_split"] = {{"file", kTarSplitFile}, {"files", r.tar_split_files}};
            // a blob the store had before this layer (the layer writer's: build, slim, import,
            // a .sqsh load) goes too, once the layer is published with its tar-split: readers
            // that open it first keep reading it, later ones get the rebuilt tar (open_layer).
            // A gzip one only: push compresses a layer again as gzip, and a zstd:chunked blob
            // (push --compression's converter) would come back in another format
            drop_blob =
                !keep_compressed() && (!have_blob || r.compression == oci::Compression::gzip);
        }
        meta["blob_size"] = r.blob_size;
        if (!job.media_type.empty()) meta["media_type"] = job.media_type;
        meta["blob_kept"] = !drop_blob;
        if (!why.empty()) meta["blob_kept_why"] = why;
        if (!drop_blob) {
            if (blob_later) pblob.emplace(copy_blob_again(store_, job, done.blob));
            if (pblob) pblob->commit(done.blob);
            if (!have_blob && job.adopt_blob) job.adopt_blob(done.blob);
        }
        // a download the store does not keep goes before the layer's syncfs, which would
        // otherwise write it to disk too (a crash in between only costs downloading it again)
        if (drop_blob && !have_blob && job.discard_blob) job.discard_blob();
        // published on the publisher's thread, alone or with its set (layers(): defer_)
        Publish one{std::make_shared<PendingLayer>(std::move(*player)), job.diff_id,
                    meta.dump(2) + "\n", std::nullopt};
        if (drop_blob && have_blob) one.replaced = job.blob;
        if (defer_) {
            std::vector<Publish> due;
            {
                std::lock_guard l(deferred_mu_);
                auto now = std::chrono::steady_clock::now();
                if (deferred_.empty()) deferred_since_ = now;
                deferred_.push_back(std::move(one));
                if (now - deferred_since_ >= defer_limit_) due.swap(deferred_);
            }
            if (!due.empty())
                publisher.post([this, due = std::move(due)]() mutable { publish(std::move(due)); });
        } else {
            publisher.post([this, one = std::move(one)]() mutable { publish({std::move(one)}); });
        }
    }
    if (r.stats.skipped_devices)
        log::note(job.what + ": skipped " + std::to_string(r.stats.skipped_devices) +
                  " device node(s): only root can create them");
    if (r.stats.stripped_setid)
        log::debug(job.what + ": dropped setuid/setgid bits of " +
                   std::to_string(r.stats.stripped_setid) + " file(s) (rootless)");
    return done;
}

void Importer::check_owner_maps(const LayerJob& job) {
    auto meta_path = store_.layer_dir(job.diff_id) / "meta.json";
    auto meta = oci::parse_json(fs::read_file(meta_path), "layer metadata");
    if (!meta.contains("owners")) return;
    if (!maps_.empty() && same_maps(meta["owners"], maps_)) return;
    throw Error(Errc::conflict,
                job.what + ": the unpacked layer " + job.diff_id.str() +
                    " holds its files' owners as the subordinate ids " +
                    describe_maps(meta["owners"]) + ", and yours are now " +
                    describe_maps(maps_json(maps_)) +
                    " (/etc/subuid and /etc/subgid changed): its owners would be wrong",
                "restore your ranges in /etc/subuid and /etc/subgid, or have root remove the "
                "store (sudo rm -rf " +
                    store_.root().string() + ") and load or pull the image again");
}

void Importer::apply_in_place(const LayerJob& job) {
    auto dir = store_.layer_dir(job.diff_id);
    // one importer at a time applies them (another process may reuse the same layer): the
    // record is read again under the lock
    Fd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock) throw_errno("cannot open " + dir.string());
    while (::flock(lock.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("cannot lock " + dir.string());
    auto meta = oci::parse_json(fs::read_file(dir / "meta.json"), "layer metadata");
    // applied already, or known to hold no record (a tree of root's files), or root's
    if (meta.contains("owners") || meta.value("owners_recorded", 1) == 0 ||
        meta.value("privileged", false))
        return;
    // kept as one copy (no blob): with its owners applied, a file or directory of mode 0600 or
    // 0700 would be a subordinate id's, which gantry cannot read back outside the namespace to
    // rebuild the layer's tar (save, push): left as it is, said with the fix
    if (!meta.value("blob_kept", true)) {
        log::warn(job.what + ": the unpacked layer " + job.diff_id.str() +
                  " was kept as one copy before you had subordinate ids: its files' owners are "
                  "not applied (they stay yours, root's in the container), because gantry could "
                  "then no longer read it back to save or push it. To apply them, remove the "
                  "images that use it (gantry rmi) and load or pull them again");
        return;
    }
    auto t = meta.find("tree");
    auto scheme =
        t != meta.end() && t->is_object() ? tree_scheme_of(t->value("scheme", "")) : std::nullopt;
    if (!scheme) return; // no digest to check the tree against first: left as it is
    auto rootfs = dir / "rootfs";
    std::unordered_set<std::string> referenced;
    bool intact = false;
    std::string unchecked; // why the tree could not be walked (a damaged tar-split, say)
    try {                  // a v2 or v4 digest takes the tar-split's references
        bool by_tar_split = scheme->content == TreeContent::by_tar_split;
        if (by_tar_split) referenced = referenced_files(store_, job.diff_id, job.what);
        intact = tree_digest(rootfs, by_tar_split ? &referenced : nullptr, scheme->data).digest ==
                 t->value("digest", "");
    } catch (const Error& e) {
        unchecked = e.message();
    }
    if (!intact) {
        log::warn(job.what + ": the unpacked layer " + job.diff_id.str() +
                  (unchecked.empty()
                       ? " differs from the digest recorded when it was unpacked"
                       : " cannot be checked against its digest (" + unchecked + ")") +
                  ": its files' owners are not applied (`gantry system fsck --deep` names it; "
                  "`--repair` removes it)");
        return;
    }
    record_store_maps(store_, maps_);
    auto applied = apply_owners(rootfs, maps_);
    if (applied.applied == 0 && applied.unmapped == 0) {
        meta["owners_recorded"] = 0;
    } else {
        auto owners = maps_json(maps_);
        owners["applied"] = applied.applied;
        owners["unmapped"] = applied.unmapped;
        meta["owners"] = owners;
        meta["owners_recorded"] = applied.applied + applied.unmapped;
        (*t)["scheme"] = kTreeDigestSchemeRuns; // walked with the files' data, as the ids apply
        (*t)["digest"] = applied.tree.digest;
        (*t)["entries"] = applied.tree.entries;
        (*t)["unreadable"] = applied.tree.unreadable;
        log::note(job.what + ": the owners of " + std::to_string(applied.applied) +
                  " file(s) of the layer unpacked before they were applied are applied now");
    }
    fs::write_atomic(dir / "meta.json", meta.dump(2) + "\n", 0644);
}

namespace {

// DiskFlusher's period: 100, 250 and 500 ms measured on a durable pull of the 1 GB bench image
// (docs/storage.md "The disk's own cache"); 250 ms was the fastest
constexpr std::chrono::milliseconds kFlushEvery{250};

std::chrono::milliseconds dirty_expire() {
    long centis = 3000; // the kernel's default
    if (FILE* f = std::fopen("/proc/sys/vm/dirty_expire_centisecs", "re")) {
        if (std::fscanf(f, "%ld", &centis) != 1 || centis <= 0) centis = 3000;
        std::fclose(f);
    }
    return std::chrono::milliseconds(centis * 10);
}

} // namespace

void Importer::publish(std::vector<Publish> set) {
    std::vector<PendingLayer::Commit> commits;
    for (auto& p : set) commits.push_back({p.layer.get(), p.diff_id, p.meta});
    auto ours = PendingLayer::commit_all(commits);
    // the store's own blob, once the layer that replaces it is durable (and is ours: another
    // process's copy may have kept it)
    for (std::size_t i = 0; i < set.size(); ++i)
        if (set[i].replaced && ours[i]) store_.remove_blob(*set[i].replaced);
}

std::vector<LayerDone> Importer::layers(const std::vector<LayerJob>& jobs) {
    std::vector<LayerDone> out(jobs.size());
    // Each layer is published on the publisher's thread as it is done: its syncfs waits for the
    // disk while the workers unpack the next (the floor, the disk's own writeback, overlaps the
    // CPU work). But syncfs writes every dirty page of the file system, and a registry's
    // downloads are files in the store's tmp/ until their layer is unpacked: each layer's
    // syncfs wrote the other layers' downloads too (~430 MiB of the 1 GB benchmark image's pull,
    // which the store then drops). So a set with downloads the store drops is published once
    // every job is done, its downloads truncated by then, with one syncfs; or, in a long pull,
    // once its first layer has waited as long as the kernel keeps a dirty page in memory
    // (vm.dirty_expire_centisecs, 30 s): the downloads are written back by then anyway, and a
    // pull killed midway keeps the layers it finished before.
    defer_limit_ = opt_.publish_within.value_or(dirty_expire());
    defer_ = !fs::unsafe_no_sync() && !keep_compressed() &&
             std::count_if(jobs.begin(), jobs.end(),
                           [](const LayerJob& j) { return bool(j.discard_blob); }) > 0;
    BackgroundQueue publisher; // every layer unpacked is published, in the order they finish
    // The disk writes out what the workers' early writeback sent it while they unpack, instead
    // of all of it in the set's syncfs (DiskFlusher; docs/storage.md "The disk's own cache").
    std::optional<DiskFlusher> flusher;
    if (!fs::unsafe_no_sync())
        flusher.emplace(
            Fd(::open((store_.root() / "tmp").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
            kFlushEvery);
    std::exception_ptr failure;
    try {
        parallel_for(jobs.size(), opt_.jobs,
                     [&](std::size_t i) { out[i] = one_layer(jobs[i], publisher); });
    } catch (...) {
        failure = std::current_exception(); // the layers verified so far are published still
    }
    flusher.reset();
    publisher.finish();
    std::vector<Publish> set;
    {
        std::lock_guard l(deferred_mu_);
        set.swap(deferred_);
    }
    publish(std::move(set));
    if (failure) std::rethrow_exception(failure);
    return out;
}

void Importer::tag(const std::vector<std::string>& refs, const oci::Digest& manifest) {
    store_.update_refs([&](store::RefMap& m) {
        for (auto& r : refs) m[r] = manifest;
    });
}

} // namespace gantry::store
