#include "fuse/server.hpp"

#include "fuse/libfuse.hpp"
#include "util/error.hpp"
#include "util/inherited_fds.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <latch>
#include <malloc.h>
#include <mutex>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace gantry::fuse {

namespace {

// The image never changes while it is mounted: the kernel may cache everything.
constexpr double kTimeout = 86400.0;

// An owner the namespace does not map is shown as its root, or where it maps no root
// (`--userns keep-id`: the caller's ids alone), as its one id: the caller then owns the image's
// files inside, and can make the mount points its binds need
std::uint32_t view(const std::vector<oci::IdMapping>& maps, std::uint32_t id) {
    if (maps.empty()) return id;
    for (auto& m : maps)
        if (id >= m.container_id && id - m.container_id < m.size) return id;
    return Server::mount_owner(maps);
}

} // namespace

std::uint32_t IdView::uid(std::uint32_t id) const {
    return view(uids, id);
}
std::uint32_t IdView::gid(std::uint32_t id) const {
    return view(gids, id);
}

struct Server::State {
    std::shared_ptr<Tree> tree;
    IdView ids;
    Fd dev;
    pid_t server = -1; // the serving process
    fuse_session* se = nullptr;
    struct Readers* readers = nullptr; // the reader threads' queue (serving process); null: none
};

namespace {

Server::State& state_of(fuse_req_t req) {
    return *static_cast<Server::State*>(fuse().req_userdata(req));
}

} // namespace

// A read of a file's own blocks, handed to a reader thread (outside the anonymous namespace:
// Readers, which holds them, is named in Server::State).
struct ReadJob {
    fuse_req_t req;
    Tree::File* file; // alive until the reply: the kernel releases a file after its reads
    std::uint64_t at;
    std::size_t size;
};

// Libsquashfs is not safe for concurrent use (its caches are shared without locks), so one
// thread answers every request, one at a time; only the reads of a file's own data blocks
// (Tree::File::concurrent, each thread with its own decompressor) go to reader threads, which
// decompress them while that thread answers the next request: the kernel's readahead keeps a
// second read of a big file in flight. A thread per request does not pay: libfuse's
// multi-threaded loop (threads started and ended as requests come, all under one lock) read
// 60,000 small files in 7.8-11.6 s against 3.2-3.4 s on one thread, and a fixed pool of 2 or 4
// threads taking requests in turn 1.7-2.6x one thread's time (docs/sqsh.md).
struct Readers {
    std::mutex m;
    std::condition_variable ready;
    std::deque<ReadJob> jobs;

    void push(const ReadJob& j) {
        std::lock_guard hold(m);
        jobs.push_back(j);
    }
    bool try_pop_oldest(ReadJob& j) {
        std::lock_guard hold(m);
        if (jobs.empty()) return false;
        j = jobs.front();
        jobs.pop_front();
        return true;
    }
    void wake() {
        bool any = false;
        {
            std::lock_guard hold(m);
            any = !jobs.empty();
        }
        if (any) ready.notify_one();
    }
    // A reader thread takes the newest read (a readahead), the serving thread the oldest (the
    // one a program waits for): on a busy machine a reader may be scheduled late, and that
    // delay then falls on the read nobody waits for yet.
    ReadJob pop_newest() {
        std::unique_lock hold(m);
        ready.wait(hold, [this] { return !jobs.empty(); });
        ReadJob j = jobs.back();
        jobs.pop_back();
        return j;
    }
};

namespace {

// Runs F(state); a damaged image (an Error) answers EIO, so a hostile table costs the container
// a failed read, never the server. F replies itself on success. A tree that keeps stderr (the
// lazy one) says there why.
template <class F>
void answer(fuse_req_t req, F&& f) {
    int err = 0;
    auto& st = state_of(req);
    try {
        err = f(st);
    } catch (const std::bad_alloc&) {
        err = ENOMEM;
    } catch (const std::exception& e) {
        err = EIO;
        if (st.tree->keeps_stderr()) {
            std::string msg = std::string("gantry: ") + e.what() + " (EIO)\n";
            [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
        }
    }
    if (err) fuse().reply_err(req, err);
}

struct stat with_ids(Server::State& st, struct stat a) {
    a.st_uid = st.ids.uid(a.st_uid);
    a.st_gid = st.ids.gid(a.st_gid);
    return a;
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    answer(req, [&](Server::State& st) {
        struct stat a = with_ids(st, st.tree->attr(ino));
        fuse().reply_attr(req, &a, kTimeout);
        return 0;
    });
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    answer(req, [&](Server::State& st) {
        fuse_entry_param p{};
        std::uint64_t node = 0;
        if (int err = st.tree->lookup(parent, name, node, p.attr)) return err;
        p.ino = node;
        p.attr = with_ids(st, p.attr);
        p.attr_timeout = p.entry_timeout = kTimeout;
        fuse().reply_entry(req, &p);
        return 0;
    });
}

void op_forget(fuse_req_t req, fuse_ino_t, uint64_t) {
    fuse().reply_none(req); // nothing is kept per node
}

// An open directory: its entries, read once (a listing is bounded by kMaxDirEntries).
struct OpenDir {
    std::shared_ptr<const Listing> entries;
};

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    answer(req, [&](Server::State& st) {
        auto d = std::make_unique<OpenDir>();
        d->entries = st.tree->list(ino);
        if (!d->entries) return ENOTDIR;
        fi->fh = reinterpret_cast<std::uint64_t>(d.get());
        fi->keep_cache = 1;
        fi->cache_readdir = 1;
        if (fuse().reply_open(req, fi) == 0) d.release(); // else: the kernel forgot the open
        return 0;
    });
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<OpenDir*>(fi->fh); // NOLINT: handed to the kernel as a number
    fuse().reply_err(req, 0);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    answer(req, [&](Server::State& st) {
        const auto& entries = *reinterpret_cast<OpenDir*>(fi->fh)->entries; // NOLINT
        std::string buf(size, '\0');
        std::size_t used = 0;
        // offsets: 1 ".", 2 "..", 3 + i the i-th entry
        auto total = static_cast<off_t>(entries.size()) + 2;
        for (off_t i = off; i < total; ++i) {
            struct stat a {};
            const char* name = i == 0 ? "." : i == 1 ? ".." : entries[i - 2].name.c_str();
            a.st_ino = i < 2 ? ino : st.tree->node_of(entries[i - 2].ref);
            a.st_mode = i < 2 ? S_IFDIR : entries[i - 2].type;
            std::size_t n =
                fuse().add_direntry(req, buf.data() + used, size - used, name, &a, i + 1);
            if (n > size - used) break;
            used += n;
        }
        fuse().reply_buf(req, buf.data(), used);
        return 0;
    });
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    answer(req, [&](Server::State& st) {
        if ((fi->flags & O_ACCMODE) != O_RDONLY) return EROFS;
        auto f = st.tree->open(ino);
        if (!f) return EISDIR;
        fi->keep_cache = 1; // the tree never changes while it is mounted
        fi->fh = reinterpret_cast<std::uint64_t>(f.get());
        if (fuse().reply_open(req, fi) == 0) f.release();
        return 0;
    });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<Tree::File*>(fi->fh); // NOLINT
    fuse().reply_err(req, 0);
}

void reply_read(fuse_req_t req, Tree::File& f, std::uint64_t at, std::size_t size,
                bool concurrent) {
    thread_local std::vector<char> buf; // reused: a fresh 128 KiB buffer is 32 page faults
    if (buf.size() < size) buf.resize(size);
    std::size_t n =
        concurrent ? f.read_concurrently(at, buf.data(), size) : f.read(at, buf.data(), size);
    fuse().reply_buf(req, buf.data(), n);
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    answer(req, [&](Server::State& st) {
        if (off < 0) return EINVAL;
        auto* f = reinterpret_cast<Tree::File*>(fi->fh); // NOLINT
        auto at = static_cast<std::uint64_t>(off);
        if (st.readers && f->concurrent(at, size)) {
            st.readers->push({req, f, at, size}); // answered by a reader thread
            return 0;
        }
        reply_read(req, *f, at, size, false);
        return 0;
    });
}

void answer_read(const ReadJob& j) {
    answer(j.req, [&](Server::State&) {
        reply_read(j.req, *j.file, j.at, j.size, true);
        return 0;
    });
}

// A reader thread: answers the reads handed to it, for as long as the process serves.
[[noreturn]] void read_jobs(Readers& readers) {
    for (;;) answer_read(readers.pop_newest());
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
    answer(req, [&](Server::State& st) {
        auto target = st.tree->link_target(ino);
        if (!target) return EINVAL;
        fuse().reply_readlink(req, target->c_str());
        return 0;
    });
}

// The xattr protocol: SIZE 0 asks for the size; a buffer too small is ERANGE.
int reply_sized(fuse_req_t req, const std::string& data, size_t size) {
    if (size == 0) return fuse().reply_xattr(req, data.size()), 0;
    if (size < data.size()) return ERANGE;
    fuse().reply_buf(req, data.data(), data.size());
    return 0;
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    answer(req, [&](Server::State& st) {
        std::string names;
        for (auto& [k, v] : st.tree->xattrs(ino)) names.append(k).push_back('\0');
        return reply_sized(req, names, size);
    });
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    answer(req, [&](Server::State& st) {
        for (auto& [k, v] : st.tree->xattrs(ino))
            if (k == name) return reply_sized(req, v, size);
        return ENODATA;
    });
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
    answer(req, [&](Server::State& st) {
        struct statvfs v = st.tree->statfs();
        fuse().reply_statfs(req, &v);
        return 0;
    });
}

} // namespace

Server::Server(std::shared_ptr<Tree> tree, IdView ids) : st_(std::make_shared<State>()) {
    fuse(); // the library loads here, before any container process exists
    st_->tree = std::move(tree);
    st_->ids = std::move(ids);
}

Server::~Server() {
    // the server ends with the connection (the container's mount namespace gone); a server
    // still reading a request then is stopped
    if (st_->server > 0) {
        ::kill(st_->server, SIGKILL);
        while (::waitpid(st_->server, nullptr, 0) < 0 && errno == EINTR) {
        }
        st_->tree->after_serving();
    }
}

std::string Server::mount_options(int fd, std::uint32_t owner, std::uint32_t group) {
    // default_permissions: the kernel checks modes and owners (the server does not);
    // allow_other: every user of the container, not only its root, may use the mount.
    return "fd=" + std::to_string(fd) + ",rootmode=40000,user_id=" + std::to_string(owner) +
           ",group_id=" + std::to_string(group) + ",default_permissions,allow_other";
}

std::uint32_t Server::mount_owner(const std::vector<oci::IdMapping>& maps) {
    for (const auto& m : maps)
        if (m.container_id == 0) return 0;
    return maps.empty() ? 0 : maps.front().container_id;
}

const std::vector<std::string>& Server::syscalls() {
    // seen with strace on the thread (read the request, pread the image, writev the reply,
    // malloc's mmap/munmap/mprotect/madvise/brk), and what a thread's end and a lock need;
    // fstat (newfstatat): the image's size, when its tables are loaded (Image::open_tables);
    // poll: whether a request waits, before the serving thread answers a handed read itself
    static const std::vector<std::string> names = {
        "fstat",          "newfstatat",      "dup2",        "read",          "readv",  "write",
        "writev",         "pread64",         "preadv",      "mmap",          "munmap", "mremap",
        "mprotect",       "madvise",         "brk",         "futex",         "exit",   "exit_group",
        "rt_sigprocmask", "rt_sigreturn",    "sigaltstack", "clock_gettime", "gettid", "getpid",
        "sched_yield",    "restart_syscall", "poll",        "ppoll",
#ifdef GANTRY_SANITIZE // UBSan's vptr check probes memory by writing it into a pipe
        "pipe",           "pipe2",           "close",
#endif
    };
    return names;
}

namespace {

// Whether a request waits on the FUSE descriptor FD.
bool request_waiting(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

// Answers requests until the connection ends (the container's mount namespace gone: ENODEV).
// Reads handed to READERS (when there are any) are taken back and answered here whenever no
// request waits: a reader thread is woken only while this one has other work, so a program
// that reads one block after another never waits for a thread to be scheduled.
void serve_requests(fuse_session* se, Readers* readers) {
    const Fuse& a = fuse();
    int fd = a.session_fd(se);
    fuse_buf buf{};
    while (!a.session_exited(se)) {
        if (readers) {
            ReadJob j{};
            while (!request_waiting(fd) && readers->try_pop_oldest(j)) answer_read(j);
            readers->wake();
        }
        int r = a.receive_buf(se, &buf);
        if (r == -EINTR) continue;
        if (r <= 0) break;
        a.process_buf(se, &buf);
    }
}

// The serving process's work, never returning: this thread answers requests, READERS threads
// read files' own blocks (Readers). The reader threads start before anything is confined (so
// the filter needs no clone), and each confines itself (its ids, capabilities, no_new_privs and
// filter are its own); the image's tables are parsed, and the first request read, only once
// every thread is confined, so no unconfined thread ever shares memory with code that touched
// the image. NULL is /dev/null (stderr's replacement).
[[noreturn]] void serve_here(Server::State& st, unsigned readers,
                             const std::function<void()>& confine, int null) {
    auto refuse = [&](const std::exception& e) {
        std::string msg =
            std::string("gantry: ") + e.what() + ": " + st.tree->name() + " is not served\n";
        [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
        ::_exit(125); // every thread
    };
    // freed buffers (a block, a request's) stay in the heap for the next ones: each one mapped
    // afresh and given back cost page faults and zeroing on every read (malloc maps anything
    // of 128 KiB or more by default)
    ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
    Readers queue;
    std::latch confined(readers + 1);
    std::vector<std::thread> threads;
    try {
        for (unsigned i = 0; i < readers; ++i)
            threads.emplace_back([&] {
                try {
                    confine();
                } catch (const std::exception& e) {
                    refuse(e);
                }
                confined.count_down();
                read_jobs(queue); // nothing comes before the first request
            });
        confine();
        confined.arrive_and_wait();
        st.tree->after_confinement(); // a squashfs image's tables: parsed here, confined
    } catch (const std::exception& e) {
        refuse(e);
    }
    // after confinement, which may still need to say why it failed
    if (!st.tree->keeps_stderr()) ::dup2(null, 2);
    if (readers > 0) st.readers = &queue;
    serve_requests(st.se, st.readers);
    ::_exit(0); // the connection is gone: the reads still queued have no one to answer
}

} // namespace

pid_t Server::pid() const {
    return st_->server;
}

void Server::serve(Fd dev, std::function<void()> confine) {
    const Fuse& a = fuse();
    fuse_lowlevel_ops ops{};
    ops.lookup = op_lookup;
    ops.getattr = op_getattr;
    ops.forget = op_forget;
    ops.opendir = op_opendir;
    ops.releasedir = op_releasedir;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.release = op_release;
    ops.read = op_read;
    ops.readlink = op_readlink;
    ops.listxattr = op_listxattr;
    ops.getxattr = op_getxattr;
    ops.statfs = op_statfs;
    char arg0[] = "gantry";
    char* argv[] = {arg0, nullptr};
    fuse_args args = FUSE_ARGS_INIT(1, argv);
    st_->se = a.session_new(&args, &ops, sizeof ops, st_.get());
    if (!st_->se) throw Error(Errc::run_failed, "cannot start serving " + st_->tree->name());
    st_->dev = std::move(dev);
    std::string mp = "/dev/fd/" + std::to_string(st_->dev.get());
    if (a.session_mount(st_->se, mp.c_str()) != 0)
        throw Error(Errc::run_failed,
                    "cannot serve " + st_->tree->name() + " on its FUSE descriptor");
    // The server is a process of its own, forked here: it confines itself (no capabilities, no
    // root ids, a seccomp filter of the calls it makes) before it reads a request, so a
    // hostile image that got past the reader's bounds has a process that can do nothing but
    // answer FUSE requests. It holds the only copy of the FUSE descriptor: when it dies, the
    // container reads ENOTCONN. It leaves the terminal's process group (Ctrl-C reaches gantry
    // and the container, not the filesystem they still read), and dies with gantry.
    unsigned readers = st_->tree->reader_threads();
    st_->tree->before_serving();
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("cannot start the process serving " + st_->tree->name());
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        ::setpgid(0, 0);
        // Only the FUSE descriptor and the image's stay open: a copy of the container's
        // output pipes, the -d ready pipe or a lock kept here would keep whoever waits on them
        // (srun, `gantry run -d`) waiting for as long as the mount lives.
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0) ::_exit(125);
        ::dup2(null, 0);
        ::dup2(null, 1);
        std::vector<int> keep = st_->tree->descriptors();
        keep.insert(keep.end(), {0, 1, 2, null, st_->dev.get()});
        close_fds_except(keep);
        serve_here(*st_, readers, confine, null);
    }
    st_->server = pid;
    st_->dev.reset(); // the server's copy is the only one
}

} // namespace gantry::fuse
