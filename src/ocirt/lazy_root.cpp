#include "ocirt/lazy_root.hpp"

#include "fuse/server.hpp"
#include "gpu_limits/apply.hpp"
#include "lazy/image.hpp"
#include "ocirt/kernel_cache_use.hpp"
#include "records/state.hpp"
#include "runtime/fd_passing.hpp"
#include "runtime/monitor.hpp"
#include "sandbox/thread_confinement.hpp"
#include "store/store.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace gantry::ocirt {

namespace {

struct Watched {
    pid_t pid;
    unsigned long long start;
};

// The monitor: serves the descriptor the launch hands it, then waits for the container.
int monitor(int sock, const std::shared_ptr<lazy::Tree>& tree, const fuse::IdView& ids) {
    Fd dev(runtime::detail::recv_fd(sock));
    if (!dev) return 0; // the create failed before the mount
    fuse::Server server(tree, ids);
    server.serve(std::move(dev), sandbox::confinement(lazy::server_calls()));
    tree->keep_no_layers(); // gone with the container: nothing holds the store's files after
    if (::write(sock, "s", 1) != 1) return 1;
    Watched w{};
    std::size_t got = 0;
    while (got < sizeof w) {
        ssize_t n = ::read(sock, reinterpret_cast<char*>(&w) + got, sizeof w - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0; // the create failed: the server is stopped (~Server)
        got += static_cast<std::size_t>(n);
    }
    records::await_exit(w.pid, w.start);
    return 0; // ~Server: the serving process stopped, the working set published
}

} // namespace

void check_gantry_annotations(const std::map<std::string, std::string>& annotations) {
    for (const auto& [key, value] : annotations) {
        if (!key.starts_with("io.gantry.") || gpu_limits::is_share_annotation(key)) continue;
        if (key == kKernelCacheAnnotation) {
            check_kernel_cache_annotation(value);
            continue;
        }
        if (key != oci::kLazyImageAnnotation && key != oci::kLazyStoreAnnotation &&
            key != oci::kLazyTlsVerifyAnnotation) {
            const auto& n = gpu_limits::annotation_names();
            throw Error(Errc::invalid,
                        "the bundle's config.json has the annotation " + key +
                            ", which gantry oci does not know",
                        "remove it (gantry's bundle annotations: " +
                            std::string(oci::kLazyImageAnnotation) + ", " +
                            oci::kLazyStoreAnnotation + ", " + oci::kLazyTlsVerifyAnnotation +
                            ", " + n.memory + ", " + n.memory_reservation + ", " + n.compute +
                            ", " + n.numa + ", " + n.mps + ", " + kKernelCacheAnnotation + ")");
        }
        if (key == oci::kLazyTlsVerifyAnnotation && value != "false" && value != "true")
            throw Error(Errc::invalid, "the annotation " + key + " is \"" + value + "\"",
                        "use true or false");
    }
    bool image = annotations.count(oci::kLazyImageAnnotation) > 0;
    bool store = annotations.count(oci::kLazyStoreAnnotation) > 0;
    bool tls = annotations.count(oci::kLazyTlsVerifyAnnotation) > 0;
    if (image != store || (tls && !image))
        throw Error(Errc::invalid,
                    std::string("the bundle's config.json has ") +
                        (image   ? oci::kLazyImageAnnotation
                         : store ? oci::kLazyStoreAnnotation
                                 : oci::kLazyTlsVerifyAnnotation) +
                        " without " +
                        (image ? oci::kLazyStoreAnnotation : oci::kLazyImageAnnotation),
                    "write the bundle again: gantry bundle --pull lazy IMAGE DIR");
}

std::unique_ptr<LazyRoot> LazyRoot::open(const oci::RuntimeSpec& spec) {
    auto image = spec.annotations.find(oci::kLazyImageAnnotation);
    if (image == spec.annotations.end()) return nullptr;
    const std::string& root = spec.annotations.at(oci::kLazyStoreAnnotation);
    if (root.empty() || root[0] != '/')
        throw Error(Errc::invalid,
                    "the annotation " + std::string(oci::kLazyStoreAnnotation) +
                        " is not an absolute path: \"" + root + "\"",
                    "write the bundle again: gantry bundle --pull lazy IMAGE DIR");
    store::Store store(root);
    auto rec = lazy::find(store, image->second);
    if (!rec)
        throw Error(Errc::not_found,
                    "the lazily pulled image " + image->second + " is not in the store " + root +
                        " (removed, or made a store image by a pull)",
                    "write the bundle again: gantry bundle --pull lazy " + image->second + " DIR");
    registry::ClientOptions co;
    auto tls = spec.annotations.find(oci::kLazyTlsVerifyAnnotation);
    if (tls != spec.annotations.end()) co.tls_verify = tls->second == "true";
    return std::unique_ptr<LazyRoot>(
        new LazyRoot(lazy::open(store, *rec, co, ::geteuid() == 0, {})));
}

LazyRoot::~LazyRoot() {
    sock_.reset();
    if (monitor_ > 0 && !watching_)
        while (::waitpid(monitor_, nullptr, 0) < 0 && errno == EINTR) {
        }
}

void LazyRoot::prepare(runtime::Launch& l) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        throw_errno("cannot make the socket to the lazy image's monitor");
    Fd mine(sv[0]), theirs(sv[1]);
    fuse::IdView ids{l.spec.uid_mappings, l.spec.gid_mappings};
    // nothing of the caller's: its pipes (conmon waits for their end), the gate, the locks
    std::vector<int> keep = tree_->descriptors();
    keep.push_back(theirs.get());
    pid_t pid = runtime::fork_monitor({.null_output = true, .keep_only = std::move(keep)});
    if (pid < 0) throw_errno("cannot start the monitor of " + tree_->name());
    if (pid == 0) {
        int rc = 1;
        try {
            rc = monitor(theirs.get(), tree_, ids);
        } catch (...) {
        }
        ::_exit(rc);
    }
    monitor_ = pid;
    theirs.reset();
    sock_ = std::move(mine);
    l.rootfs.clear();
    l.overlay = runtime::Overlay{l.mount_point, {"lower"}, "", "", true, 0};
    l.fuse_options = [](int fd) { return fuse::Server::mount_options(fd); };
    l.fuse_serve = [this](Fd dev) {
        runtime::detail::send_fd(sock_.get(), dev.get(), "the FUSE descriptor");
        char ok = 0;
        if (::read(sock_.get(), &ok, 1) != 1 || ok != 's')
            throw Error(Errc::run_failed, "the process serving " + tree_->name() + " ended",
                        "see the registry's and the store's messages above");
    };
}

pid_t LazyRoot::watch(pid_t pid, unsigned long long start) {
    Watched w{pid, start};
    if (::write(sock_.get(), &w, sizeof w) != static_cast<ssize_t>(sizeof w))
        throw_errno("cannot hand the container to the monitor of " + tree_->name());
    watching_ = true;
    sock_.reset();
    return monitor_;
}

} // namespace gantry::ocirt
