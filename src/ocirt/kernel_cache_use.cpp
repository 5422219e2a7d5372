#include "ocirt/kernel_cache_use.hpp"

#include "engine/kernel_caches.hpp"
#include "oci/reference.hpp"
#include "records/state.hpp"
#include "runtime/monitor.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::ocirt {

namespace stdfs = std::filesystem;

namespace {

constexpr const char* kCriOImageRef = "io.kubernetes.cri-o.ImageRef";
constexpr const char* kContainerdImageName = "io.kubernetes.cri.image-name";

// A reference that names its manifest by digest ("repo@sha256:..."): its digest and repository.
std::optional<BundleImage> digested(const std::string& s) {
    try {
        auto ref = oci::Reference::parse(s);
        if (!ref.digest.empty()) return BundleImage{ref.digest, ref.repository()};
    } catch (const Error&) {
    }
    return std::nullopt;
}

// CRI-O's image-ref without a repository digest: the image's ID (its config's digest)
std::optional<BundleImage> image_id(const std::string& s) {
    std::string hex = s.starts_with("sha256:") ? s.substr(7) : s;
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
        return std::nullopt;
    return BundleImage{"sha256:" + hex, ""};
}

// The lower directories of the overlay mounted at ROOTFS, as mountinfo's super options name them
// ("lowerdir=A:B", or one "lowerdir+=A" each); "" when ROOTFS is not an overlay's root.
std::string overlay_lowers(const stdfs::path& rootfs) {
    struct statx sx {};
    if (::statx(AT_FDCWD, rootfs.c_str(), 0, STATX_MNT_ID, &sx) != 0 ||
        !(sx.stx_mask & STATX_MNT_ID))
        return "";
    std::error_code ec;
    const std::string where = stdfs::canonical(rootfs, ec).string();
    if (ec) return "";
    std::string info;
    try {
        info = fs::read_file("/proc/self/mountinfo");
    } catch (const Error&) {
        return "";
    }
    const std::string id = std::to_string(sx.stx_mnt_id) + " ";
    for (auto line : text::split(info, '\n')) {
        if (!line.starts_with(id)) continue;
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
        auto f = text::words(line);
        std::size_t dash = 6;
        while (dash < f.size() && f[dash] != "-") ++dash;
        if (f.size() < 6 || dash + 3 >= f.size() || f[3] != "/" || f[dash + 1] != "overlay")
            return "";
        // mountinfo escapes a space, tab, newline or backslash in a mount point (\040)
        std::string point;
        for (std::size_t i = 0; i < f[4].size(); ++i)
            if (f[4][i] == '\\' && i + 3 < f[4].size()) {
                point +=
                    static_cast<char>(std::stoi(std::string(f[4].substr(i + 1, 3)), nullptr, 8));
                i += 3;
            } else {
                point += f[4][i];
            }
        if (point != where) return "";
        std::string lowers;
        for (auto opt : text::split(f[dash + 3], ','))
            if (opt.starts_with("lowerdir=") || opt.starts_with("lowerdir+="))
                lowers += std::string(opt) + "\n";
        return lowers;
    }
    return "";
}

// The uid of the host this process's effective uid is (rootless podman's user namespace maps
// its root to the user's own uid): a key is a host user's.
unsigned host_uid() {
    const unsigned mine = ::geteuid();
    try {
        for (auto line : text::split(fs::read_file("/proc/self/uid_map"), '\n')) {
            auto w = text::words(line);
            if (w.size() != 3) continue;
            unsigned inside = std::stoul(std::string(w[0])),
                     outside = std::stoul(std::string(w[1])), count = std::stoul(std::string(w[2]));
            if (mine >= inside && mine - inside < count) return outside + (mine - inside);
        }
    } catch (const std::exception&) {
    }
    return mine;
}

} // namespace

BundleImage bundle_image(const std::map<std::string, std::string>& annotations,
                         const stdfs::path& rootfs) {
    if (auto it = annotations.find(kCriOImageRef); it != annotations.end()) {
        if (auto d = digested(it->second)) return *d;
        if (auto d = image_id(it->second)) return *d;
    }
    if (auto it = annotations.find(kContainerdImageName); it != annotations.end())
        if (auto d = digested(it->second)) return *d;
    // a tag (containerd's image name) or nothing: the layers this node unpacked for the image.
    // The same image on this node is the same snapshots; another image, or the same tag moved
    // and pulled again, is other ones: a new key, never a stale hit (and no other node's)
    std::string lowers;
    try {
        lowers = overlay_lowers(rootfs);
    } catch (const std::exception&) { // a mountinfo line gantry cannot read: no identity
    }
    if (lowers.empty()) return {};
    return BundleImage{"rootfs:sha256:" + Sha256::hex_of(lowers), ""};
}

void check_kernel_cache_annotation(const std::string& value) {
    if (value == "auto" || value == "off") return;
    throw Error(Errc::invalid,
                "the annotation " + std::string(kKernelCacheAnnotation) + " is \"" + value +
                    "\": gantry oci takes auto or off",
                "a pod's annotation cannot choose a host directory: write `kernel_cache: DIR` "
                "in gantry's config file, which auto then uses");
}

std::unique_ptr<KernelCacheUse>
KernelCacheUse::attach(oci::RuntimeSpec& spec, const std::string& id, const stdfs::path& rootfs,
                       const gpu_vendors::Backend* backend, const gpu_vendors::Roots& roots) {
    auto it = spec.annotations.find(kKernelCacheAnnotation);
    if (it == spec.annotations.end() || it->second == "off") return nullptr;
    check_kernel_cache_annotation(it->second);
    // a pod's annotation reaches its sandbox too (the pause container): it compiles nothing
    for (const char* type :
         {"io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"})
        if (auto t = spec.annotations.find(type);
            t != spec.annotations.end() && t->second == "sandbox")
            return nullptr;
    auto image = bundle_image(spec.annotations, rootfs);
    if (image.digest.empty())
        throw Error(Errc::invalid,
                    "the annotation " + std::string(kKernelCacheAnnotation) +
                        " asks for a kernel cache, but nothing tells which image the container "
                        "runs: no digest in " +
                        kContainerdImageName + " or " + kCriOImageRef + ", and its root " +
                        rootfs.string() + " is not an overlay of the image's layers",
                    "name the image by digest (image: REPO@sha256:...), or remove the annotation");
    // auto: the config file's kernel_cache directory, else the store's kernel-caches/
    auto root = engine::kernel_cache_root(store::default_root(), "");
    kernel_cache::Setting setting{kernel_cache::Setting::Kind::dir, root.string()};
    auto facts = engine::key_facts(image.digest, host_uid(), backend, roots);
    return std::unique_ptr<KernelCacheUse>(new KernelCacheUse(engine::attach_kernel_cache(
        spec, setting, facts, store::default_root(), id, {}, image.repository)));
}

pid_t KernelCacheUse::watch(pid_t pid, unsigned long long start) {
    pid_t monitor = runtime::fork_monitor({.null_output = true, .keep_only = a_->descriptors()});
    if (monitor < 0) throw_errno("cannot start the monitor of the kernel cache " + a_->key);
    if (monitor == 0) {
        try {
            records::await_exit(pid, start);
            a_->finish(); // a writer's additions published, the run's layer and locks gone
        } catch (...) {
        }
        ::_exit(0);
    }
    a_->hand_over(); // the monitor holds the locks and removes the run's directory
    return monitor;
}

} // namespace gantry::ocirt
