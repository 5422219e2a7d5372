#include "sqsh_pull/pull.hpp"

#include "oci/reference.hpp"
#include "site/resolve.hpp"
#include "sqsh/cache.hpp"
#include "sqsh/shared.hpp"
#include "sqsh/write.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/lock.hpp"

#include <sys/stat.h>

namespace gantry::sqsh_pull {

namespace {

// A store under STORE/tmp for one pull, removed with everything in it when done.
struct TempStore {
    std::string dir;
    std::unique_ptr<store::Store> store;
    explicit TempStore(const store::Store& main)
        : dir((main.tmp_dir() / ("sqsh-pull.tmp-" + fs::unique_name())).string()) {
        store = std::make_unique<store::Store>(dir);
    }
    ~TempStore() {
        store.reset();
        try {
            fs::remove_tree(dir);
        } catch (const Error&) {
        }
    }
};

std::uint64_t size_of(const std::string& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

} // namespace

SqshPulled pull(store::Store& store, const std::string& ref, const registry::PullOptions& opt,
                const PullTarget& target) {
    SqshPulled res;
    // the name registries.conf makes of REF (a short name's first candidate) keys the cache
    res.ref =
        site::resolve_name(site::RegistriesConf::system(), ref, opt.interactive).refs.front().str();
    bool to_cache = target.file.empty() && target.image_store.empty();
    std::string cache = sqsh::cache_dir(store);
    FileLock lock;
    if (to_cache) {
        // one download per node: the second puller waits here, then finds it cached
        fs::make_dirs(store.root() / "locks");
        lock = FileLock(store.root() / "locks" / ("sqsh-pull-" + Sha256::hex_of(res.ref)),
                        FileLock::Mode::exclusive);
        if (auto hit = sqsh::find_shared({cache}, res.ref)) {
            res.manifest = hit->manifest;
            res.file = hit->file;
            res.cached = true;
            res.bytes = size_of(hit->file);
            return res;
        }
    }
    TempStore tmp(store);
    auto pulled = registry::pull(*tmp.store, ref, opt);
    res.ref = pulled.ref;
    res.manifest = pulled.manifest;
    if (target.sif && target.file.empty())
        throw Error(Errc::usage, "pull --format sif writes a file", "add -o FILE.sif");
    if (!target.file.empty()) {
        if (target.sif)
            sqsh::save_sif(*tmp.store, pulled.ref, target.file);
        else
            sqsh::save(*tmp.store, pulled.ref, target.file);
        res.file = target.file;
    } else {
        auto p = sqsh::publish(*tmp.store, pulled.ref, to_cache ? cache : target.image_store);
        res.file = p.image.file;
    }
    res.bytes = size_of(res.file);
    return res;
}

} // namespace gantry::sqsh_pull
