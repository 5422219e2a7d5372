#include "gpu_host/host_cache.hpp"

#include <algorithm>
#include <dirent.h>
#include <sys/stat.h>

namespace gantry::gpu_host {

void CacheKey::stat(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        h_.update("missing:" + path + "\n");
        return;
    }
    h_.update(path + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_mode) + ":" +
              std::to_string(st.st_rdev) + ":" + std::to_string(st.st_uid) + ":" +
              std::to_string(st.st_gid) + ":" + std::to_string(st.st_size) + ":" +
              std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
              std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec) + "\n");
}

void CacheKey::file(const std::string& path, std::uint64_t max) {
    try {
        h_.update(path + "=" + fs::read_file(path, max) + "\n");
    } catch (const Error&) {
        h_.update("missing:" + path + "\n");
    }
}

void CacheKey::dir(const std::string& dir, const std::vector<std::string_view>& prefixes) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string_view n = e->d_name;
            if (std::any_of(prefixes.begin(), prefixes.end(),
                            [&](std::string_view p) { return n.starts_with(p); }))
                names.emplace_back(n);
            if (names.size() > 4096) break;
        }
        ::closedir(d);
    } else {
        h_.update("missing:" + dir + "\n");
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) stat(dir + "/" + n);
}

} // namespace gantry::gpu_host
