#include "store/build_cache.hpp"

#include "oci/image.hpp"
#include "store/owned_tree.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::store {

namespace {

std::int64_t bc_mtime(const stdfs::path& p, std::uint64_t* size = nullptr) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return 0;
    if (size) *size = static_cast<std::uint64_t>(st.st_size);
    return static_cast<std::int64_t>(st.st_mtim.tv_sec);
}

std::string bc_hex(const oci::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return {};
    std::string s = it->get<std::string>();
    return s.starts_with("sha256:") && s.size() == 71 ? s.substr(7) : std::string();
}

} // namespace

std::vector<BuildCacheEntry> build_cache_entries(const Store& store, bool mount_sizes) {
    std::vector<BuildCacheEntry> out;
    auto steps = store.root() / "build-cache" / "steps";
    struct stat st {};
    if (::lstat(steps.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        BuildCacheEntry e{"damaged", "regular", steps, 0, 0, {}, {}};
        e.last_used = bc_mtime(steps, &e.bytes);
        out.push_back(e);
    } else {
        std::error_code ec;
        for (auto& d : stdfs::directory_iterator(steps, ec)) {
            auto name = d.path().filename().string();
            BuildCacheEntry e{name, "regular", d.path(), 0, 0, {}, {}};
            e.last_used = bc_mtime(d.path(), &e.bytes);
            if (name.ends_with(".json")) {
                e.id = name.substr(0, name.size() - 5);
                try {
                    auto j = oci::json::parse(fs::read_file(d.path(), 16u << 20));
                    e.blob = bc_hex(j, "layer");
                    e.diff_id = bc_hex(j, "diff_id");
                } catch (const std::exception&) { // unreadable: a miss for build, removable here
                }
            }
            out.push_back(std::move(e));
        }
        std::sort(out.begin(), out.end(),
                  [](const BuildCacheEntry& a, const BuildCacheEntry& b) { return a.id < b.id; });
    }
    std::error_code ec;
    for (auto& d : stdfs::directory_iterator(store.root() / "build-cache" / "mounts", ec)) {
        BuildCacheEntry e{d.path().filename().string(), "exec.cachemount", d.path(), 0, 0, {}, {}};
        e.last_used = bc_mtime(d.path());
        if (mount_sizes) e.bytes = fs::disk_usage(d.path());
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<std::size_t> select_build_cache(const std::vector<BuildCacheEntry>& entries,
                                            const BuildCachePrune& how, std::int64_t now,
                                            const std::vector<std::uint64_t>& layer_bytes) {
    std::vector<std::size_t> out, rest;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        bool old = how.until && entries[i].last_used <= now - *how.until;
        if ((how.all && !how.until && !how.keep_storage) || old)
            out.push_back(i);
        else
            rest.push_back(i);
    }
    if (how.keep_storage) {
        std::uint64_t total = 0;
        for (auto i : rest) total += entries[i].bytes + layer_bytes[i];
        // least recently used first, as buildkit's gc
        std::stable_sort(rest.begin(), rest.end(), [&](std::size_t a, std::size_t b) {
            return entries[a].last_used < entries[b].last_used;
        });
        for (auto i : rest) {
            if (total <= *how.keep_storage) break;
            total -= entries[i].bytes + layer_bytes[i];
            out.push_back(i);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool remove_build_cache_entry(Store& store, const BuildCacheEntry& e) {
    if (e.kind == "regular") {
        if (::unlink(e.path.c_str()) == 0) return true;
        if (errno != EISDIR && errno != EPERM) return false;
    }
    auto doomed = store.tmp_dir() / ("doomed-" + fs::unique_name());
    if (::rename(e.path.c_str(), doomed.c_str()) != 0) return false;
    remove_owned_tree(doomed);
    return true;
}

std::int64_t parse_until(const std::string& text) {
    auto bad = [&] {
        return Error(Errc::usage, "invalid until= value \"" + text + "\"",
                     "give a duration such as until=24h, until=90m or until=1h30m");
    };
    if (text.empty()) throw bad();
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
        if (j == i || j == text.size() || j - i > 9) throw bad();
        std::int64_t n = std::stoll(text.substr(i, j - i));
        switch (text[j]) {
        case 'h':
            total += n * 3600;
            break;
        case 'm':
            total += n * 60;
            break;
        case 's':
            total += n;
            break;
        default:
            throw bad();
        }
        i = j + 1;
    }
    return total;
}

} // namespace gantry::store
