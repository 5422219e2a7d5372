#include "sqsh/cache.hpp"

#include "sqsh/shared.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gantry::sqsh {

namespace {

struct Object {
    std::string file;
    std::string hex;
    std::uint64_t bytes = 0;
    std::int64_t used = 0; // mtime, ns
};

std::vector<Object> objects(const std::string& dir) {
    std::vector<Object> out;
    DIR* d = ::opendir((dir + "/sqsh").c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (!n.ends_with(".sqsh") || n.starts_with(".")) continue;
        Object o;
        o.file = dir + "/sqsh/" + n;
        o.hex = n.substr(0, n.size() - 5);
        struct stat st {};
        if (::stat(o.file.c_str(), &st) != 0) continue;
        o.bytes = static_cast<std::uint64_t>(st.st_size);
        o.used = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        out.push_back(std::move(o));
    }
    ::closedir(d);
    return out;
}

// Removes the references naming HEX, then the object and its manifest.
void remove_object(const std::string& dir, const Object& o,
                   const std::vector<SharedImage>& tagged) {
    for (auto& t : tagged)
        if (t.manifest.hex() == o.hex) ::unlink((dir + "/refs/" + ref_file_name(t.ref)).c_str());
    ::unlink(o.file.c_str());
    ::unlink((dir + "/manifests/" + o.hex + ".json").c_str());
}

} // namespace

std::string cache_dir(const store::Store& store) {
    return (store.root() / "sqsh-cache").string();
}

std::vector<std::string> search_dirs(const store::Store& store,
                                     const std::vector<std::string>& given) {
    std::vector<std::string> dirs{cache_dir(store)};
    for (auto& d : configured_stores(given)) dirs.push_back(d);
    return dirs;
}

CacheUsage cache_usage(const store::Store& store) {
    CacheUsage u;
    for (auto& o : objects(cache_dir(store))) {
        ++u.images;
        u.bytes += o.bytes;
    }
    return u;
}

void touch_cached(const std::string& file) {
    ::utimensat(AT_FDCWD, file.c_str(), nullptr, 0); // now; a read-only store keeps its times
}

CachePruned prune_cache(const store::Store& store, std::optional<std::uint64_t> max_bytes) {
    CachePruned r;
    auto dir = cache_dir(store);
    auto objs = objects(dir);
    if (objs.empty()) return r;
    auto tagged = list_shared({dir});
    std::set<std::string> named;
    for (auto& t : tagged) named.insert(t.manifest.hex());
    // least recently used first
    std::sort(objs.begin(), objs.end(),
              [](const Object& a, const Object& b) { return a.used < b.used; });
    std::uint64_t total = 0;
    for (auto& o : objs) total += o.bytes;
    for (auto& o : objs) {
        bool dangling = !named.count(o.hex);
        bool over = max_bytes && total > *max_bytes;
        if (!dangling && !over) continue;
        remove_object(dir, o, tagged);
        total -= o.bytes;
        r.freed += o.bytes;
        ++r.removed;
    }
    // configs no manifest names any more: small; removed when no object is left
    if (objects(dir).empty()) {
        try {
            fs::remove_tree(dir + "/configs");
        } catch (const Error&) {
        }
    }
    // leftovers of killed publishers
    for (auto sub : {"/sqsh", "/manifests", "/configs", "/refs"}) {
        DIR* d = ::opendir((dir + sub).c_str());
        if (!d) continue;
        while (auto* e = ::readdir(d))
            if (fs::temporary_writer_gone(e->d_name))
                ::unlink((dir + sub + "/" + e->d_name).c_str());
        ::closedir(d);
    }
    return r;
}

std::string cached_file(const store::Store& store, const oci::Digest& manifest) {
    return cache_dir(store) + "/sqsh/" + manifest.hex() + ".sqsh";
}

Added add_to_cache(const store::Store& store, const CacheImage& image, int fd, std::uint64_t size,
                   const oci::Digest& blob, const std::function<bool()>& abandoned) {
    const std::string dir = cache_dir(store), object = cached_file(store, image.manifest);
    for (auto sub : {"", "/sqsh", "/manifests", "/configs", "/refs"}) fs::make_dirs(dir + sub);
    Added result = Added::already_there;
    struct stat st {};
    bool there = ::stat(object.c_str(), &st) == 0;
    if (!there || static_cast<std::uint64_t>(st.st_size) != size) {
        if (there) ::unlink(object.c_str()); // torn, or not this image: replaced
        std::string tmp = object + ".tmp-" + fs::unique_name();
        Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!out) throw_errno("cannot create " + tmp + " in the node's squashfs cache");
        struct Unlink {
            std::string path;
            ~Unlink() { ::unlink(path.c_str()); }
        } unlink_later{tmp};
        Sha256 h;
        std::string buf(1 << 20, '\0');
        std::uint64_t ask_at = 0; // ABANDONED is asked every 16 MiB
        for (std::uint64_t at = 0; at < size;) {
            if (abandoned && at >= ask_at) {
                if (abandoned()) return Added::abandoned;
                ask_at = at + (16u << 20);
            }
            ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), size - at),
                                static_cast<off_t>(at));
            if (n <= 0) throw_errno("cannot read the squashfs image for " + image.ref);
            h.update(buf.data(), static_cast<std::size_t>(n));
            fs::write_all(out.get(), buf.data(), static_cast<std::size_t>(n), tmp);
            at += static_cast<std::uint64_t>(n);
        }
        if ("sha256:" + h.hex_final() != blob.str()) return Added::wrong_digest;
        fs::sync_file(out.get(), tmp);
        if (::link(tmp.c_str(), object.c_str()) != 0 && errno != EEXIST)
            throw_errno("cannot create " + object);
        fs::sync_dir(dir + "/sqsh");
        result = Added::added;
    }
    // the objects first, the reference last: a reader never finds a tag without its image
    put_object(dir + "/manifests/" + image.manifest.hex() + ".json", image.manifest_text);
    put_object(dir + "/configs/" + image.config.hex() + ".json", image.config_text);
    fs::write_atomic(dir + "/refs/" + ref_file_name(image.ref), image.manifest.str() + "\n");
    return result;
}

void remove_cached(const store::Store& store, const oci::Digest& manifest) {
    auto dir = cache_dir(store);
    Object o;
    o.file = cached_file(store, manifest);
    o.hex = manifest.hex();
    remove_object(dir, o, list_shared({dir}));
}

} // namespace gantry::sqsh
