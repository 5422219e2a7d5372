// write_bundle(): `gantry bundle`, the spec of a run written for another OCI runtime (runc,
// crun) beside a flattened copy of the image; GPUs as the vendor's CDI edits. With --pull lazy,
// an empty root and the io.gantry.lazy.* annotations that `gantry oci` serves it from.
#include "engine/engine.hpp"
#include "engine/options.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lazy/image.hpp"
#include "lazy/store_layers.hpp"
#include "lazy/tree.hpp"
#include "oci/image.hpp"
#include "records/state.hpp"
#include "rootfs/rootfs.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

namespace {

// What the bundle's spec is made from: the image's config and /etc/passwd, and for a lazily
// pulled image (--pull lazy) its record, read through its tree (fetched on first read).
struct Source {
    nlohmann::json config;
    std::vector<oci::Digest> diff_ids; // the store's layers (none: lazy)
    std::string passwd;
    std::optional<lazy::Record> lazy;
};

Source read_source(store::Store& store, const RunRequest& r, const Caller& caller) {
    if (!r.pull.empty() && r.pull != "never" && r.pull != "lazy")
        throw Error(Errc::usage, "--pull " + r.pull + ": gantry bundle pulls only lazily",
                    "use --pull lazy (an eStargz or zstd:chunked image), or `gantry pull " +
                        r.image + "` first");
    Source s;
    if (r.pull != "lazy" || lazy::in_store(store, r.image)) {
        auto img = store::find_image(store, r.image);
        s.config = img.config.raw;
        s.diff_ids = img.config.diff_ids;
        s.passwd = rootfs::read_image_file(store, s.diff_ids, "etc/passwd");
        return s;
    }
    registry::PullOptions po;
    po.client.tls_verify = r.tls_verify;
    po.quiet = true;
    auto rec = lazy::find(store, r.image);
    std::vector<lazy::Toc> tocs;
    if (!rec) rec = lazy::pull(store, r.image, po, &tocs);
    if (lazy::is_squashfs(*rec))
        throw Error(Errc::unsupported,
                    r.image + " is a squashfs artifact: gantry oci serves eStargz and "
                              "zstd:chunked images lazily",
                    "run it with `gantry run --pull lazy " + r.image +
                        "`, or write the bundle from a plain pull");
    s.config = oci::ImageConfig::parse(store.read_blob(rec->config)).raw;
    auto tree = lazy::open(store, *rec, po.client, caller.real_root, std::move(tocs));
    s.passwd = tree->read_file("etc/passwd", 4u << 20).value_or("");
    tree->keep_no_layers();
    tree->after_serving(); // nothing was served: no working set recorded, no layer kept
    s.lazy = std::move(rec);
    return s;
}

} // namespace

void write_bundle(store::Store& store, const RunRequest& r, const std::string& dir, Caller caller) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0 && !(S_ISDIR(st.st_mode) && fs::stdfs::is_empty(dir)))
        throw Error(Errc::conflict, dir + " already exists and is not empty",
                    "give a new directory for the bundle");
    runspec::RunOptions ro;
    ro.command = r.command;
    ro.env = r.env;
    ro.workdir = r.workdir;
    ro.user = r.user;
    for (auto& v : r.volumes) ro.binds.push_back(runspec::parse_volume(v));
    ro.rlimits = runspec::parse_ulimits(r.ulimits);
    if (!r.shm_size.empty()) ro.shm_size = shm_size(r.shm_size);
    ro.privileged_user = caller.real_root;
    ro.host_uid = caller.uid;
    ro.host_gid = caller.gid;
    ro.hostname = "gantry";
    Source src = read_source(store, r, caller);
    ro.environment = runspec::environment(src.config, ro);
    auto spec = runspec::build(src.config, ro, src.passwd);
    if (src.lazy) { // `gantry oci` serves the root from the registry (ocirt/lazy_root.hpp)
        spec.annotations[oci::kLazyImageAnnotation] = src.lazy->ref;
        spec.annotations[oci::kLazyStoreAnnotation] = store.root().string();
        if (r.tls_verify == false) spec.annotations[oci::kLazyTlsVerifyAnnotation] = "false";
    }
    // GPUs: the GPU layer's step for every door (policy, then the vendor's CDI edits, hooks
    // included: runc and crun run them). The image's files are not read: the policy is what
    // the host and the container's environment say.
    std::vector<std::string> warnings;
    gpu_vendors::CallerIds ids{caller.real_root, caller.uid, caller.gid, false};
    gpu_vendors::GpuContext gpus{gpu_vendors::Door::bundle,
                                 *ro.environment,
                                 r.gpus,
                                 r.gpu_roots,
                                 nullptr,
                                 ids,
                                 r.no_require,
                                 records::runtime_dir().string(),
                                 fs::self_exe()};
    gpu_vendors::add_gpus(spec, gpus, r.gpu_vendor, {}, &warnings);
    for (auto& w : warnings) log::warn(w);
    // runc and crun provide the default device nodes themselves (bind-mounted when rootless);
    // gantry's own launcher binds them, so drop those mounts here.
    std::erase_if(spec.mounts, [](const oci::Mount& m) {
        return m.type == "bind" && m.source == m.destination && m.destination.starts_with("/dev/");
    });
    if (ro.privileged_user) { // runc/crun as root: no user namespace, like docker
        std::erase(spec.namespaces, "user");
        spec.uid_mappings.clear();
        spec.gid_mappings.clear();
    }
    if (!spec.has_namespace("uts")) spec.hostname.clear(); // --uts host: runc refuses one
    std::string config = safe_json::dump_or_refuse(        // refused before the tree is written
        spec.to_json(), 2, "the bundle", "an OCI runtime config.json", "give it as UTF-8");
    std::string tmp = dir + ".tmp-" + fs::unique_name();
    try {
        if (src.lazy)
            fs::make_dirs(fs::stdfs::path(tmp) / "rootfs", 0755);
        else
            rootfs::flatten(store, src.diff_ids, tmp + "/rootfs", ro.privileged_user);
        fs::write_atomic(fs::stdfs::path(tmp) / "config.json", config + "\n");
        if (::lstat(dir.c_str(), &st) == 0) ::rmdir(dir.c_str());
        if (::rename(tmp.c_str(), dir.c_str()) != 0) throw_errno("cannot create " + dir);
    } catch (...) {
        fs::remove_tree(tmp);
        throw;
    }
}

} // namespace gantry::engine
