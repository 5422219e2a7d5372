#include "gpu_vendors/in_root.hpp"

#include <deque>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::gpu_vendors {

namespace {

constexpr int in_root_max_links = 40;

std::deque<std::string> in_root_split(std::string_view p) {
    std::deque<std::string> out;
    while (!p.empty()) {
        auto slash = p.find('/');
        if (slash != 0) out.emplace_back(p.substr(0, slash));
        if (slash == std::string_view::npos) break;
        p.remove_prefix(slash + 1);
    }
    return out;
}

// Walks comps from cur, a resolved in-root directory ("" = the root) holding no symlinks.
// The final component's lstat mode goes to *mode (S_IFDIR for the root itself).
std::optional<std::string> in_root_resolve_from(const std::string& root, std::string cur,
                                                std::deque<std::string> comps, int& links,
                                                mode_t* mode = nullptr) {
    if (mode) *mode = S_IFDIR;
    while (!comps.empty()) {
        std::string c = std::move(comps.front());
        comps.pop_front();
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            cur.resize(cur.rfind('/') == std::string::npos ? 0 : cur.rfind('/'));
            if (mode) *mode = S_IFDIR;
            continue;
        }
        std::string next = cur + "/" + c;
        std::string host = gpu_host::join_root(root, next);
        struct stat st {};
        if (::lstat(host.c_str(), &st) != 0) return std::nullopt;
        if (S_ISLNK(st.st_mode)) {
            if (++links > in_root_max_links) return std::nullopt;
            std::string target(4096, '\0');
            ssize_t n = ::readlink(host.c_str(), target.data(), target.size());
            if (n <= 0 || static_cast<std::size_t>(n) >= target.size()) return std::nullopt;
            target.resize(static_cast<std::size_t>(n));
            auto tc = in_root_split(target);
            comps.insert(comps.begin(), tc.begin(), tc.end());
            if (target[0] == '/') cur.clear();
            continue;
        }
        if (!comps.empty() && !S_ISDIR(st.st_mode)) return std::nullopt;
        if (mode) *mode = st.st_mode;
        cur = std::move(next);
    }
    return cur.empty() ? "/" : cur;
}

bool in_root_is_dir(const std::string& host_path) {
    struct stat st {};
    return ::stat(host_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

std::optional<std::string> resolve_in_root(const std::string& root, const std::string& path) {
    int links = 0;
    return in_root_resolve_from(root, "", in_root_split(path), links);
}

std::optional<std::string> InRootResolver::directory(const std::string& dir) {
    auto it = dirs_.find(dir);
    if (it == dirs_.end()) {
        auto r = resolve_in_root(root_, dir);
        if (r && !in_root_is_dir(host(*r))) r.reset();
        it = dirs_.emplace(dir, r).first;
    }
    return it->second;
}

std::optional<std::string> InRootResolver::resolve(const std::string& path, mode_t* mode) {
    int links = 0;
    auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (slash == std::string::npos || base.empty() || base == "." || base == "..")
        return in_root_resolve_from(root_, "", in_root_split(path), links, mode);
    auto dir = directory(path.substr(0, slash));
    if (!dir) return std::nullopt;
    return in_root_resolve_from(root_, *dir == "/" ? "" : *dir, {base}, links, mode);
}

std::optional<std::string> InRootResolver::regular_file(const std::string& path) {
    mode_t mode = 0;
    auto r = resolve(path, &mode);
    if (!r || !S_ISREG(mode)) return std::nullopt;
    return r;
}

} // namespace gantry::gpu_vendors
