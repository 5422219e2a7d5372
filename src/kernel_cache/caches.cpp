// The keys under a root: listed, found, removed, pruned (caches.hpp).
#include "kernel_cache/caches.hpp"

#include "kernel_cache/layout.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::kernel_cache {

namespace stdfs = std::filesystem;

namespace {

// Whether a container uses the key in DIR: its writer's lock or a generation's is held.
bool in_use(const stdfs::path& dir, bool* writing) {
    bool used = false;
    if (!FileLock::try_lock(dir / kWriterLock, FileLock::Mode::exclusive).held()) {
        used = true;
        if (writing) *writing = true;
    }
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(dir, ec)) {
        std::string name = e.path().filename().string();
        if (!name.ends_with(".lock") || generation_number(name.substr(0, name.size() - 5)) < 0)
            continue;
        if (!FileLock::try_lock(e.path(), FileLock::Mode::exclusive).held()) used = true;
    }
    return used;
}

KeyInfo info_of(const stdfs::path& dir) {
    KeyInfo k;
    k.key = dir.filename().string();
    k.dir = dir;
    try {
        k.facts = KeyFacts::from_json(
            safe_json::parse(fs::read_file(dir / kFacts, 1 << 20), (dir / kFacts).string()));
    } catch (const Error& e) {
        log::debug("kernel cache " + k.key + ": " + e.message());
    }
    try {
        k.generation = current_generation(dir);
    } catch (const Error&) {
    }
    k.bytes = fs::disk_usage(dir);
    struct stat st {};
    if (::stat((dir / kUsed).c_str(), &st) == 0) k.used = st.st_mtime;
    k.in_use = in_use(dir, &k.writing);
    return k;
}

// Run directories whose gantry has gone (their lock free): removed.
void remove_dead_runs(const stdfs::path& dir) {
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(dir / kRuns, ec)) {
        std::string name = e.path().filename().string();
        if (name.ends_with(".lock")) continue;
        auto lock = FileLock::try_lock(dir / kRuns / (name + ".lock"), FileLock::Mode::exclusive);
        if (!lock.held()) continue;
        fs::remove_tree(e.path());
        ::unlink((dir / kRuns / (name + ".lock")).c_str());
    }
}

} // namespace

std::vector<KeyInfo> list(const stdfs::path& root) {
    std::vector<KeyInfo> out;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(root, ec))
        if (is_key_name(e.path().filename().string()) && e.is_directory())
            out.push_back(info_of(e.path()));
    std::sort(out.begin(), out.end(),
              [](const KeyInfo& a, const KeyInfo& b) { return a.used > b.used; });
    return out;
}

KeyInfo find(const stdfs::path& root, const std::string& key) {
    if (key.size() < 4 || key.size() > 32 ||
        key.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error(Errc::usage, "\"" + key + "\" is not a kernel cache key",
                    "give its key or the key's first 4 hex digits at least (gantry kernel-cache "
                    "ls)");
    std::vector<stdfs::path> found;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(root, ec)) {
        std::string name = e.path().filename().string();
        if (is_key_name(name) && name.starts_with(key)) found.push_back(e.path());
    }
    if (found.empty())
        throw Error(Errc::not_found, "no kernel cache " + key + " in " + root.string(),
                    "gantry kernel-cache ls lists them");
    if (found.size() > 1)
        throw Error(Errc::usage, "the prefix " + key + " names several kernel caches",
                    "give more of the key (gantry kernel-cache ls)");
    return info_of(found[0]);
}

void remove(const stdfs::path& root, const std::string& key) {
    FileLock root_guard(root / kRootLock, FileLock::Mode::exclusive);
    KeyInfo k = find(root, key);
    if (k.in_use)
        throw Error(Errc::conflict, "the kernel cache " + k.key + " is in use by a container",
                    "stop the containers that use it (gantry ps; inspect shows their key), then "
                    "remove it");
    fs::remove_tree(k.dir);
}

Pruned prune(const stdfs::path& root, bool all, std::optional<std::uint64_t> max_bytes) {
    Pruned out;
    std::error_code ec;
    if (!stdfs::exists(root, ec)) return out;
    FileLock root_guard(root / kRootLock, FileLock::Mode::exclusive);
    std::vector<KeyInfo> keys;
    for (const auto& e : stdfs::directory_iterator(root, ec)) {
        if (!is_key_name(e.path().filename().string()) || !e.is_directory()) continue;
        {
            FileLock key_guard(e.path() / kKeyLock, FileLock::Mode::exclusive);
            remove_dead_runs(e.path());
            try {
                remove_unread(e.path());
            } catch (const Error& err) {
                log::debug(err.message());
            }
        }
        keys.push_back(info_of(e.path()));
    }
    std::uint64_t total = 0;
    for (auto& k : keys) total += k.bytes;
    std::sort(keys.begin(), keys.end(),
              [](const KeyInfo& a, const KeyInfo& b) { return a.used < b.used; });
    for (auto& k : keys) { // least recently used first
        if (!all && (!max_bytes || total <= *max_bytes)) break;
        if (k.in_use) continue;
        fs::remove_tree(k.dir);
        out.keys.push_back(k.key);
        out.bytes += k.bytes;
        total -= k.bytes;
    }
    return out;
}

} // namespace gantry::kernel_cache
