// write_bundle(): `gantry bundle`, the spec of a run written for another OCI runtime (runc,
// crun) beside a flattened copy of the image; GPUs as the vendor's CDI edits.
#include "engine/engine.hpp"
#include "engine/options.hpp"
#include "gpu_vendors/backend.hpp"
#include "rootfs/rootfs.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

void write_bundle(store::Store& store, const RunRequest& r, const std::string& dir, Caller caller) {
    auto img = store::find_image(store, r.image);
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
    auto passwd = rootfs::read_image_file(store, img.config.diff_ids, "etc/passwd");
    ro.environment = runspec::environment(img.config.raw, ro);
    auto spec = runspec::build(img.config.raw, ro, passwd);
    // GPUs: the chosen vendor's CDI edits, hooks included (runc and crun run them).
    std::vector<std::string> warnings;
    gpu_vendors::add_to_bundle(spec, r.gpu_roots, r.gpu_vendor, *ro.environment, r.gpus,
                               fs::self_exe(), &warnings);
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
    std::string tmp = dir + ".tmp-" + fs::unique_name();
    try {
        rootfs::flatten(store, img.config.diff_ids, tmp + "/rootfs", ro.privileged_user);
        fs::write_atomic(fs::stdfs::path(tmp) / "config.json", spec.to_json().dump(2) + "\n");
        if (::lstat(dir.c_str(), &st) == 0) ::rmdir(dir.c_str());
        if (::rename(tmp.c_str(), dir.c_str()) != 0) throw_errno("cannot create " + dir);
    } catch (...) {
        fs::remove_tree(tmp);
        throw;
    }
}

} // namespace gantry::engine
