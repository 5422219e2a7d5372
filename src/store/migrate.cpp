#include "store/migrate.hpp"

#include "layer/stream.hpp"
#include "layer/tar_split_recorder.hpp"
#include "oci/image.hpp"
#include "store/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::store {

namespace {

// The tar-split of the blob BLOB of layer DIFF_ID, read once and verified; "" with WHY set when
// the tree cannot give the tar back.
std::string migrate_record(Store& store, const Digest& blob, const Digest& diff_id,
                           const std::string& what, std::string& why) {
    Fd fd(::open(store.blob_path(blob).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open blob " + blob.str());
    layer::FdReader file(fd.get(), "blob " + blob.str());
    layer::HashingReader hashed(file);
    std::string lines;
    std::string diff_hex;
    {
        layer::SniffedStream plain(hashed, what);
        layer::HashingReader tar(plain.plain());
        layer::TarSplitRecorder rec(tar);
        layer::drain(rec);
        lines = rec.finish();
        why = rec.why();
        diff_hex = tar.hex_final();
    }
    layer::drain(hashed);
    if (hashed.hex_final() != blob.hex() || diff_hex != diff_id.hex())
        throw Error(Errc::invalid,
                    what + ": the blob " + blob.str() +
                        " does not match its digest or the "
                        "layer's diff_id",
                    "run `gantry system fsck --repair`, then pull or load the image again");
    return why.empty() ? lines : std::string();
}

} // namespace

MigrateResult migrate(Store& store, bool keep) {
    MigrateResult res;
    auto writer = store.writer_lock(); // no collection meanwhile
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(store.root() / "layers" / "sha256", ec)) {
        Digest diff_id;
        try {
            diff_id = Digest::from_hex(e.path().filename().string());
        } catch (const Error&) {
            continue;
        }
        if (!store.has_layer(diff_id)) continue;
        ++res.layers;
        auto dir = store.layer_dir(diff_id);
        std::string what = "layer " + diff_id.str();
        // one migrator per layer (the importer's owner step takes the same lock)
        Fd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!lock) throw_errno("cannot open " + dir.string());
        while (::flock(lock.get(), LOCK_EX) != 0)
            if (errno != EINTR) throw_errno("cannot lock " + dir.string());
        auto meta = oci::parse_json(fs::read_file(dir / "meta.json"), "layer metadata");
        Digest blob;
        try {
            blob = Digest::parse(meta.value("blob", ""));
        } catch (const Error&) {
            res.kept.emplace_back(diff_id.str(), "its meta.json names no blob");
            continue;
        }
        bool have_split = has_tar_split(store, diff_id);
        if (!store.has_blob(blob)) {
            if (have_split)
                ++res.already;
            else
                res.kept.emplace_back(diff_id.str(), "its blob is not in the store");
            continue;
        }
        if (!have_split) {
            std::string why;
            if (meta.contains("owners"))
                why = "its files' owners are applied (subordinate ids): gantry may not read them "
                      "all outside the user namespace";
            else if (meta.contains("tree") && meta["tree"].value("unreadable", 0) > 0)
                why = "some of its files cannot be read by the store's owner";
            std::string lines;
            if (why.empty()) lines = migrate_record(store, blob, diff_id, what, why);
            if (why.empty()) why = check_tree(store.layer_rootfs(diff_id), lines, what);
            if (!why.empty()) {
                meta["blob_kept"] = true;
                meta["blob_kept_why"] = why;
                fs::write_atomic(dir / "meta.json", meta.dump(2) + "\n", 0644);
                res.kept.emplace_back(diff_id.str(), why);
                continue;
            }
            write_tar_split(dir, lines); // 1. the tar-split, durable
        } else {
            ++res.already;
        }
        if (keep) {
            if (!have_split) ++res.migrated;
            continue;
        }
        std::uint64_t size = store.blob_size(blob);
        meta["tar_split"] = {{"file", kTarSplitFile}};
        meta["blob_size"] = size;
        meta["blob_kept"] = false;
        meta.erase("blob_kept_why");
        fs::write_atomic(dir / "meta.json", meta.dump(2) + "\n", 0644);      // 2. the record
        if (::unlink(store.blob_path(blob).c_str()) != 0 && errno != ENOENT) // 3. the blob
            throw_errno("cannot remove blob " + blob.str());
        fs::sync_dir(store.blob_path(blob).parent_path());
        if (have_split) --res.already;
        ++res.migrated;
        res.bytes_freed += size;
    }
    return res;
}

} // namespace gantry::store
