#include "kernel_cache/shared.hpp"

#include "kernel_cache/caches.hpp"
#include "kernel_cache/layout.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::kernel_cache {

namespace stdfs = std::filesystem;

namespace {

constexpr const char* kSharedDir = "kernel-caches";

} // namespace

std::optional<stdfs::path> find_shared(const std::vector<std::string>& stores,
                                       const KeyFacts& facts) {
    const std::string key = key_of(facts);
    for (const auto& store : stores) {
        stdfs::path dir = stdfs::path(store) / kSharedDir / key;
        std::error_code ec;
        if (!stdfs::is_directory(dir / "tree", ec)) continue;
        try {
            auto shared = KeyFacts::from_json(
                safe_json::parse(fs::read_file(dir / kFacts, 1 << 20), (dir / kFacts).string()));
            if (key_of(shared) == key) return dir / "tree";
            log::warn("the shared kernel cache " + dir.string() +
                      " is not what its name says (its facts.json makes another key): not used");
        } catch (const Error& e) {
            log::warn("the shared kernel cache " + dir.string() + " is not used: " + e.message());
        }
    }
    return std::nullopt;
}

stdfs::path push_shared(const stdfs::path& root, const std::string& key, const stdfs::path& dir) {
    std::error_code ec;
    if (!stdfs::is_directory(dir, ec))
        throw Error(Errc::not_found, "no shared image store " + dir.string(),
                    "give an existing directory (the store nodes read with --image-store)");
    KeyInfo k = find(root, key);
    if (!k.facts)
        throw Error(Errc::invalid, "the kernel cache " + k.key + " has no readable facts.json",
                    "remove it: gantry kernel-cache rm " + k.key);
    stdfs::path parent = dir / kSharedDir;
    fs::make_dirs(parent, 0755);
    stdfs::path target = parent / k.key;
    stdfs::path tmp = parent / (".push.tmp-" + fs::unique_name());
    try {
        fs::make_dirs(tmp / "tree", 0755);
        {
            // the generation read while it is copied: no publication removes it under us
            FileLock reading(k.dir / (k.generation + ".lock"), FileLock::Mode::shared);
            link_tree(k.dir / k.generation, tmp / "tree");
        }
        struct stat st {};
        if (::stat((k.dir / k.generation).c_str(), &st) == 0)
            ::chmod((tmp / "tree").c_str(), st.st_mode & 07777);
        fs::write_atomic(tmp / kFacts, k.facts->to_json().dump(2) + "\n", 0644);
        Fd d(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d || ::syncfs(d.get()) != 0) throw_errno("cannot sync " + tmp.string());
        // a key pushed before: swapped whole, then the old copy removed
        if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
            fs::remove_tree(tmp);
        } else if (::rename(tmp.c_str(), target.c_str()) != 0) {
            throw_errno("cannot publish " + target.string());
        }
        fs::sync_dir(parent);
    } catch (...) {
        fs::remove_tree(tmp);
        throw;
    }
    return target;
}

} // namespace gantry::kernel_cache
