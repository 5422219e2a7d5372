// prepare's kernel cache step (docs/kernel-caches.md): the run's setting (--kernel-cache, else
// the container's io.gantry.kernel-cache label, which docker's CLI, compose and the Engine API
// set, else the config file's kernel_cache; off by default), the key of this image on this host
// (kernel_cache/key.hpp: the image's digest, the GPU vendor the container gets with its driver,
// runtime and GPU targets, or the CPU without one, the user), the key's cache attached
// (kernel_cache/caches.hpp: writer or reader), mounted at kernel_cache::kMountPath, and every
// cache variable the container's environment leaves unset pointed into it.
#pragma once

#include "engine/engine.hpp"
#include "gpu_vendors/backend.hpp"
#include "kernel_cache/caches.hpp"
#include "oci/runtime_spec.hpp"

#include <string>

namespace gantry::engine {

// The label that asks for a kernel cache where no flag can (compose, the Engine API).
inline constexpr const char* kKernelCacheLabel = "io.gantry.kernel-cache";
// The annotations a run's spec records its cache in (inspect's GantryKernelCache).
inline constexpr const char* kKernelCacheKeyAnnotation = "io.gantry.kernel-cache.key";
inline constexpr const char* kKernelCacheDirAnnotation = "io.gantry.kernel-cache.dir";
inline constexpr const char* kKernelCacheRoleAnnotation = "io.gantry.kernel-cache.role";

// REQUEST's setting: the flag, the container's label (-l, --label-file), the config file's
// kernel_cache, else off. Error(usage)/(invalid) naming where a bad value came from.
kernel_cache::Setting kernel_cache_setting(const RunRequest& request);
// The config file's kernel_cache_max_size (kernel_cache::kDefaultMaxBytes without one).
std::uint64_t kernel_cache_max_bytes();

// The host facts of the key for a container whose final environment is ENV (vendor, driver,
// targets; or the CPU).
kernel_cache::KeyFacts kernel_cache_facts(const Prepared& p);
// The facts of a key for a container of IMAGE (a digest) run by the host uid USER: the GPUs of
// BACKEND on the host ROOTS name (driver, runtime, targets), or the host's CPU when BACKEND is
// null. Every door's key (run's above, gantry oci's) is made here.
kernel_cache::KeyFacts key_facts(const std::string& image, unsigned user,
                                 const gpu_vendors::Backend* backend,
                                 const gpu_vendors::Roots& roots);

// The key of FACTS under SETTING's root (not off; STORE_ROOT for auto) attached for the
// container ID: SPEC gains its overlay mount at kernel_cache::kMountPath, every cache variable
// its environment leaves unset, and the key/dir/role annotations. A key this node lacks starts
// from IMAGE_STORES' copy, else (where the config file asks) from REPOSITORY's artifact ("":
// none). The attachment holds the key's locks until the container ends.
std::shared_ptr<kernel_cache::Attachment>
attach_kernel_cache(oci::RuntimeSpec& spec, const kernel_cache::Setting& setting,
                    const kernel_cache::KeyFacts& facts, const std::filesystem::path& store_root,
                    const std::string& id, const std::vector<std::string>& image_stores,
                    const std::string& repository);

// The cache attached to P (after its spec, scratch and GPUs): the mount, the variables and the
// annotations added to p.spec, the attachment kept in p.kernel_cache. Nothing when off.
void attach_kernel_cache(Prepared& p);

// The root `gantry kernel-cache` and `system df/prune` work on: DIR (--dir) when given, else the
// config file's kernel_cache when it names a directory, else STORE_ROOT/kernel-caches.
std::filesystem::path kernel_cache_root(const std::filesystem::path& store_root,
                                        const std::string& dir);

// `gantry kernel-cache commit CONTAINER`: the running writer's additions so far published as a
// new generation of its key (copied: it goes on writing); the generation's name. Error(not_found)
// for a container not running, Error(usage) for one without a cache or reading its key.
std::string commit_kernel_cache(const std::string& container);

// A kept container started again (`gantry start`): the cache its spec mounted at create let go,
// and the key attached again (the current generation, a fresh layer, the writer's role when free).
void reattach_kernel_cache(Prepared& p);

} // namespace gantry::engine
