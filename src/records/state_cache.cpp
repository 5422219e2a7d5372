#include "records/state_cache.hpp"

#include "util/fs.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <sys/stat.h>

namespace gantry::records {

namespace {

struct StateCacheEntry {
    ino_t ino = 0;
    off_t size = 0;
    struct timespec mtime {};
    std::shared_ptr<const ContainerState> state;
};

std::mutex& state_cache_mutex() {
    static std::mutex m;
    return m;
}

std::map<std::string, StateCacheEntry>& state_cache() {
    static std::map<std::string, StateCacheEntry> c;
    return c;
}

bool same_file(const StateCacheEntry& e, const struct stat& st) {
    return e.ino == st.st_ino && e.size == st.st_size && e.mtime.tv_sec == st.st_mtim.tv_sec &&
           e.mtime.tv_nsec == st.st_mtim.tv_nsec;
}

} // namespace

std::shared_ptr<const ContainerState>
cached_state(const std::filesystem::path& file,
             const std::function<ContainerState(const std::string&)>& parse) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return nullptr;
    {
        std::unique_lock lock(state_cache_mutex(), std::try_to_lock);
        if (lock.owns_lock()) {
            auto it = state_cache().find(file.native());
            if (it != state_cache().end() && same_file(it->second, st)) return it->second.state;
        }
    }
    std::shared_ptr<const ContainerState> s;
    try {
        s = std::make_shared<const ContainerState>(parse(fs::read_file(file, 1 << 20)));
    } catch (...) {
        return nullptr;
    }
    std::unique_lock lock(state_cache_mutex(), std::try_to_lock);
    if (lock.owns_lock()) {
        if (state_cache().size() >= 4096) state_cache().clear(); // a bound, not an LRU
        state_cache()[file.native()] = {st.st_ino, st.st_size, st.st_mtim, s};
    }
    return s;
}

} // namespace gantry::records
