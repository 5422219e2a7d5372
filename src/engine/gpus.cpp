#include "engine/gpus.hpp"

#include "engine/gpu_share.hpp"
#include "engine/squashfs.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lazy/tree_files.hpp"
#include "records/state.hpp"
#include "rootfs/dir_files.hpp"
#include "rootfs/image_files.hpp"
#include "sqsh/image_ref.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <optional>

namespace gantry::engine {

void add_gpus(Prepared& p) {
    const auto& r = p.request;
    const auto& env = *p.options.environment;
    const gpu_vendors::Roots& roots = r.gpu_roots;
    if (!gpu_vendors::for_run(roots, r.gpu_vendor, env, r.gpus)) { // reads nothing
        apply_gpu_share(p, {}); // a GPU limit without GPUs is refused
        return;
    }
    gpu_vendors::CallerIds caller{p.caller.real_root, p.caller.uid, p.caller.gid, false};
    for (auto& m : p.spec.gid_mappings)
        if (!caller.real_root && m.size > 1) caller.subid_maps = true;
    rootfs::LayerFiles layers(*p.store, p.view.image.config.diff_ids);
    std::optional<sqsh::SquashFiles> squash;
    if (p.sqsh) squash.emplace(*p.sqsh, squashfs_confinement());
    // a lazily pulled image: its files read through its tree (fetched on first read)
    std::optional<lazy::TreeFiles> lazy;
    if (auto tree = std::dynamic_pointer_cast<lazy::Tree>(p.lazy)) lazy.emplace(*tree);
    // an Apptainer sandbox directory: its files read inside it
    std::optional<rootfs::DirFiles> dir;
    if (!p.sandbox.empty()) dir.emplace(p.sandbox);
    const rootfs::ImageFiles& files = squash ? static_cast<const rootfs::ImageFiles&>(*squash)
                                      : lazy ? static_cast<const rootfs::ImageFiles&>(*lazy)
                                      : dir  ? static_cast<const rootfs::ImageFiles&>(*dir)
                                             : layers;
    gpu_vendors::ImageContext image{*p.store, p.view.image, files, r.image};
    gpu_vendors::GpuContext ctx{
        gpu_vendors::Door::run,          env,           r.gpus, roots, &image, caller, r.no_require,
        records::runtime_dir().string(), fs::self_exe()};
    std::vector<std::string> warnings;
    gpu_vendors::AddedGpus added;
    gpu_vendors::add_gpus(p.spec, ctx, r.gpu_vendor, p.scratch->dir().string(), &warnings, &added);
    for (auto& w : warnings) log::debug("GPU description: " + w);
    apply_gpu_share(p, added);
}

} // namespace gantry::engine
