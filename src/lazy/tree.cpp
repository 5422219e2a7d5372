#include "lazy/tree.hpp"

#include "fuse/server.hpp"
#include "layer/igzip.hpp"
#include "registry/http.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::lazy {

Tree::Tree(std::vector<Layer> layers, std::string name, TreeExtras extras)
    : layers_(std::move(layers)), name_(std::move(name)), extras_(std::move(extras)),
      ahead_(layers_.size()) {
    for (auto& l : layers_) l.blob->set_priority(priority_);
    working_set_.insert(extras_.working_set.begin(), extras_.working_set.end());
    nodes_.emplace_back(); // the root: the lowest layer's, merged with every upper one
    for (std::uint32_t l = 0; l < layers_.size(); ++l) {
        // hard links: one merged node per node (its id, 0 while not imported)
        std::vector<std::uint64_t> seen(layers_[l].toc.nodes.size(), 0);
        overlay(fuse::Tree::kRoot, l, 0, seen);
    }
    // a directory's links: itself, its entry in its parent, each subdirectory's ".."
    for (auto& m : nodes_) {
        const Node& n = layers_[m.layer].toc.nodes[m.node];
        if (!S_ISDIR(n.mode)) continue;
        m.links = 2;
        for (auto& kid : m.children)
            if (S_ISDIR(node(kid.second).mode)) ++m.links;
    }
}

Tree::Merged& Tree::merged(std::uint64_t id) {
    if (id == 0 || id > nodes_.size())
        throw Error(Errc::invalid, name_ + ": no node " + std::to_string(id));
    return nodes_[id - 1];
}

const Node& Tree::node(std::uint64_t id) const {
    if (id == 0 || id > nodes_.size())
        throw Error(Errc::invalid, name_ + ": no node " + std::to_string(id));
    const Merged& m = nodes_[id - 1];
    return layers_[m.layer].toc.nodes[m.node];
}

std::uint64_t Tree::import(std::uint32_t layer, std::uint32_t n, std::vector<std::uint64_t>& seen) {
    if (seen[n] != 0) return seen[n];
    nodes_.emplace_back();
    std::uint64_t id = nodes_.size();
    nodes_.back().layer = layer;
    nodes_.back().node = n;
    seen[n] = id;
    const Node& src = layers_[layer].toc.nodes[n];
    if (S_ISDIR(src.mode))
        for (auto& [name, child] : src.children) {
            std::uint64_t c = import(layer, child, seen);
            nodes_[id - 1].children.emplace(name, c);
        }
    return id;
}

void Tree::overlay(std::uint64_t dir, std::uint32_t layer, std::uint32_t n,
                   std::vector<std::uint64_t>& seen) {
    const Node& src = layers_[layer].toc.nodes[n];
    {
        Merged& d = merged(dir);
        if (src.declared || layer == 0) d.layer = layer, d.node = n;
        if (src.opaque) d.children.clear();
        for (auto& w : src.whiteouts) d.children.erase(w);
    }
    for (auto& [name, child] : src.children) {
        const Node& c = layers_[layer].toc.nodes[child];
        auto& kids = merged(dir).children;
        auto it = kids.find(name);
        if (it != kids.end() && S_ISDIR(c.mode) && S_ISDIR(node(it->second).mode)) {
            overlay(it->second, layer, child, seen);
            continue;
        }
        std::uint64_t id = import(layer, child, seen); // may grow nodes_: look the dir up again
        merged(dir).children[name] = id;
    }
}

struct stat Tree::attr(std::uint64_t id) {
    const Node& n = node(id);
    struct stat a {};
    a.st_ino = id;
    a.st_mode = n.mode;
    a.st_nlink = S_ISDIR(n.mode) ? nodes_[id - 1].links : n.nlink;
    a.st_uid = n.uid;
    a.st_gid = n.gid;
    a.st_size = static_cast<off_t>(S_ISLNK(n.mode) ? n.link.size() : n.size);
    a.st_blksize = 4096;
    a.st_blocks = static_cast<blkcnt_t>((n.size + 511) / 512);
    a.st_rdev = makedev(n.dev_major, n.dev_minor);
    a.st_mtim.tv_sec = a.st_ctim.tv_sec = a.st_atim.tv_sec = n.mtime;
    return a;
}

int Tree::lookup(std::uint64_t dir, const char* name, std::uint64_t& out, struct stat& a) {
    if (!S_ISDIR(node(dir).mode)) return ENOTDIR;
    auto& kids = merged(dir).children;
    auto it = kids.find(name);
    if (it == kids.end()) return ENOENT;
    out = it->second;
    a = attr(out);
    return 0;
}

std::shared_ptr<const fuse::Listing> Tree::list(std::uint64_t dir) {
    if (!S_ISDIR(node(dir).mode)) return nullptr;
    Merged& d = merged(dir);
    if (!d.listing) {
        auto l = std::make_shared<fuse::Listing>();
        l->reserve(d.children.size());
        for (auto& [name, id] : d.children)
            l->push_back(fuse::DirEntry{name, id, node(id).mode & S_IFMT});
        d.listing = std::move(l);
    }
    return d.listing;
}

namespace {

constexpr std::chrono::milliseconds kWaitPrefetch{10000};

class LazyFile final : public fuse::Tree::File {
  public:
    LazyFile(const Node& n, const Layer& layer, std::uint32_t index, WorkingSet* recorder,
             ReadPriority* priority, const std::set<ChunkRef>* working_set, ReadAhead* ahead,
             ReadFetcher* fetcher)
        : n_(n), layer_(layer), blob_(*layer.blob), map_(layer.map.get()), index_(index),
          recorder_(recorder), priority_(priority), working_set_(working_set), ahead_(ahead),
          fetcher_(fetcher), limit_(limit_of(n)) {}

    std::size_t read(std::uint64_t offset, char* buf, std::size_t size) override {
        if (offset >= n_.size) return 0;
        size = static_cast<std::size_t>(std::min<std::uint64_t>(size, n_.size - offset));
        std::size_t done = 0;
        // the chunk holding OFFSET: the last one starting at or before it
        auto it =
            std::upper_bound(n_.chunks.begin(), n_.chunks.end(), offset,
                             [](std::uint64_t off, const Chunk& c) { return off < c.file_offset; });
        if (it == n_.chunks.begin()) return 0;
        for (--it; done < size && it != n_.chunks.end(); ++it) {
            if (map_) {
                // a chunk the prefetch or a read-ahead is fetching: its request, not a second one
                map_->wait_fetching(it->offset, it->end, kWaitPrefetch);
                if (!map_->has(it->offset, it->end)) read_ahead(*it);
            }
            auto data = blob_.chunk(*it);
            if (map_) map_->mark(it->offset, it->end);
            if (recorder_) recorder_->read({index_, it->offset});
            if (priority_ && !working_set_->empty())
                priority_->container_read(working_set_->count({index_, it->offset}) != 0);
            // a sequential reader's next window, fetched while it reads this one
            if (map_ && fetcher_)
                if (auto next = ahead_->on_read(it->offset, it->end, limit()))
                    fetcher_->submit(layer_.blob, layer_.map, next->first, next->second, false);
            std::uint64_t at = offset + done - it->file_offset;
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(
                size - done, data->size() - std::min<std::uint64_t>(at, data->size())));
            std::memcpy(buf + done, data->data() + at, n);
            done += n;
        }
        return done;
    }

  private:
    // The chunk C is not local: one request for it and the chunks after it that are not local
    // either, up to the read-ahead window (files read one after the other are mostly next to
    // each other in the blob; a reader going on through the blob gets a growing window);
    // verified as each is read. In the serving process a worker fetches it and this waits for
    // C's bytes only (the rest streams in meanwhile).
    void read_ahead(const Chunk& c) {
        auto miss = map_->missing(c.offset, c.end);
        if (miss.empty() || miss[0].first != c.offset) return;
        std::uint64_t window = ahead_->on_miss(c.offset, limit());
        auto run = map_->missing(c.offset, c.offset + window);
        auto piece = map_->pieces(c.offset, run[0].second, window);
        if (piece.empty() || piece[0].second < c.end) return;
        ahead_->fetched(piece[0].first, piece[0].second);
        if (fetcher_) {
            fetcher_->submit(layer_.blob, layer_.map, piece[0].first, piece[0].second, true);
            map_->wait_fetching(c.offset, c.end, kWaitPrefetch);
            return; // not there (the fetch failed): chunk() fetches it, or fails at once
        }
        blob_.fill(piece[0].first, piece[0].second);
        map_->mark(piece[0].first, piece[0].second);
    }

    // Where a read-ahead stops: the end of the file's bytes in the blob when they span more
    // than the largest window (lazy/read_ahead.hpp), else nowhere (small files are read through
    // in blob order). A zstd:chunked hole has no bytes in the blob.
    static std::uint64_t limit_of(const Node& n) {
        std::uint64_t first = UINT64_MAX, last = 0;
        for (const Chunk& c : n.chunks)
            if (c.codec != Codec::zeros) {
                first = std::min(first, c.offset);
                last = std::max(last, c.end);
            }
        return last > first && last - first > ReadAhead::kMax ? last : ReadAhead::kNoLimit;
    }
    std::uint64_t limit() const { return limit_; }

    const Node& n_;
    const Layer& layer_;
    RemoteBlob& blob_;
    LocalMap* map_;
    std::uint32_t index_;
    WorkingSet* recorder_;
    ReadPriority* priority_;
    const std::set<ChunkRef>* working_set_;
    ReadAhead* ahead_;
    ReadFetcher* fetcher_;
    std::uint64_t limit_;
};

} // namespace

std::unique_ptr<fuse::Tree::File> Tree::open(std::uint64_t id) {
    const Node& n = node(id);
    if (!S_ISREG(n.mode)) return nullptr;
    std::uint32_t l = merged(id).layer;
    return std::make_unique<LazyFile>(n, layers_[l], l, extras_.recorder.get(), priority_.get(),
                                      &working_set_, &ahead_[l], fetcher_.get());
}

std::optional<std::string> Tree::link_target(std::uint64_t id) {
    const Node& n = node(id);
    if (!S_ISLNK(n.mode)) return std::nullopt;
    return n.link;
}

std::vector<std::pair<std::string, std::string>> Tree::xattrs(std::uint64_t id) {
    return node(id).xattrs;
}

struct statvfs Tree::statfs() {
    struct statvfs v {};
    v.f_bsize = v.f_frsize = 4096;
    v.f_files = nodes_.size();
    v.f_namemax = 255;
    return v;
}

void Tree::before_serving() {
    for (auto& l : layers_) l.blob->close_connections();
    // ISA-L inflates gzip chunks (inflate_chunk): loaded here, in gantry, as the serving process
    // is confined before its first read (a layer's first chunk says its codec)
    for (const auto& l : layers_)
        for (const auto& n : l.toc.nodes)
            if (!n.chunks.empty()) {
                if (n.chunks.front().codec == Codec::gzip) {
                    layer::igzip::api();
                    return;
                }
                break;
            }
}

void Tree::after_confinement() {
    // a transfer in flight when the container's gantry (or monitor) dies ends this process,
    // should its parent-death signal have been missed (registry/http.hpp)
    registry::exit_when_orphaned(::getppid());
    fetcher_ = std::make_unique<ReadFetcher>(priority_); // its threads: on the first miss
    if (!extras_.prefetch) return;
    std::vector<PrefetchLayer> pl;
    for (auto& l : layers_)
        if (l.map) pl.push_back({&l.toc, l.blob, l.map});
    if (pl.size() != layers_.size()) return;
    auto pieces = plan(pl, extras_.working_set);
    if (!working_set_.empty()) priority_->hold_for_working_set();
    prefetch_ = std::make_unique<Prefetch>(std::move(pl), std::move(pieces), priority_);
    prefetch_->start();
}

void Tree::after_serving() {
    if (extras_.recorder) extras_.recorder->publish();
    if (keep_layers_ && extras_.after_serving) extras_.after_serving(abandoned_);
}

std::vector<int> Tree::descriptors() const {
    std::vector<int> fds;
    for (auto& l : layers_) {
        fds.push_back(l.blob->cache_fd());
        if (l.map && l.map->fd() >= 0) fds.push_back(l.map->fd());
    }
    if (extras_.recorder && extras_.recorder->fd() >= 0) fds.push_back(extras_.recorder->fd());
    return fds;
}

std::uint64_t Tree::find(const std::string& path) {
    std::uint64_t at = fuse::Tree::kRoot;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) {
            if (!S_ISDIR(node(at).mode)) return 0;
            auto& kids = merged(at).children;
            auto it = kids.find(path.substr(i, j - i));
            if (it == kids.end()) return 0;
            at = it->second;
        }
        i = j + 1;
    }
    return at;
}

std::optional<std::string> Tree::read_file(const std::string& path, std::size_t max) {
    std::uint64_t id = find(path);
    if (id == 0) return std::nullopt;
    auto f = open(id);
    if (!f) return std::nullopt;
    const Node& n = node(id);
    if (n.size > max)
        throw Error(Errc::invalid,
                    name_ + ": " + path + " is over " + std::to_string(max) + " bytes");
    std::string s(static_cast<std::size_t>(n.size), '\0');
    s.resize(f->read(0, s.data(), s.size()));
    return s;
}

std::uint64_t Tree::fetched_bytes() const {
    std::uint64_t n = 0;
    for (auto& l : layers_) n += l.blob->fetched_bytes();
    return n;
}

const std::vector<std::string>& server_calls() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v = fuse::Server::syscalls();
        for (const char* n : {"socket",        "connect",         "getsockopt",
                              "setsockopt",    "getsockname",     "getpeername",
                              "sendto",        "recvfrom",        "sendmsg",
                              "recvmsg",       "sendmmsg",        "recvmmsg",
                              "bind",          "shutdown",        "poll",
                              "ppoll",         "select",          "pselect6",
                              "epoll_create1", "epoll_ctl",       "epoll_wait",
                              "epoll_pwait",   "pipe2",           "eventfd2",
                              "socketpair",    "fcntl",           "ioctl",
                              "close",         "openat",          "newfstatat",
                              "fstat",         "lseek",           "pwrite64",
                              "getrandom",     "clock_nanosleep", "nanosleep",
                              "clone",         "clone3",          "set_robust_list",
                              "rseq",          "rt_sigaction",    "uname",
                              "getuid",        "geteuid",         "getgid",
                              "getegid",       "prlimit64",       "sysinfo",
                              "statfs",        "fstatfs",         "access",
                              "faccessat",     "faccessat2",      "readlink",
                              "tgkill",        "getcwd",          "sched_getaffinity",
                              "getppid",       "membarrier"})
            v.push_back(n);
        return v;
    }();
    return names;
}

} // namespace gantry::lazy
