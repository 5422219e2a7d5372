// ocirt/kernel_cache_use: a bundle's kernel cache (docs/kernel-caches.md, "gantry oci"): the
// annotation io.gantry.kernel-cache (auto or off; a pod's annotations pass it where containerd's
// or CRI-O's runtime handler allows it), the key made as `gantry run --kernel-cache` makes it
// (engine/kernel_caches.hpp) from what the bundle says of its image (CRI-O's image-ref,
// containerd's image name when it holds a digest, else the layers under the container's root),
// the key attached to the spec before the container is made, and a monitor that holds the key's
// locks while the container runs and publishes a writer's additions once it has exited: `gantry
// oci create` returns while the container lives on.
#pragma once

#include "gpu_vendors/backend.hpp"
#include "kernel_cache/caches.hpp"
#include "oci/runtime_spec.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>

namespace gantry::ocirt {

inline constexpr const char* kKernelCacheAnnotation = "io.gantry.kernel-cache";

// The image a bundle's container runs, as far as a key needs it.
struct BundleImage {
    // "sha256:..." (a manifest digest or an image ID), or "rootfs:sha256:..." (the identity of the
    // layers under the root on this node: an image named by a tag); "" when nothing tells it
    std::string digest;
    std::string repository; // where its registry artifacts live; "" when unknown
};
// ANNOTATIONS' image (io.kubernetes.cri-o.ImageRef, io.kubernetes.cri.image-name), else the
// overlay mount ROOTFS is (its lower directories: the image's layers as the snapshotter or
// containers/storage unpacked them).
BundleImage bundle_image(const std::map<std::string, std::string>& annotations,
                         const std::filesystem::path& rootfs);

// Checks the annotation's value: Error(invalid) naming it unless auto or off.
void check_kernel_cache_annotation(const std::string& value);

class KernelCacheUse {
  public:
    // The key of the container ID attached when SPEC's annotation asks for one (null when it
    // does not, or says off): SPEC gains the mount, the variables and the key's annotations.
    // BACKEND: the vendor whose GPUs the container got (null: none, the CPU's key) on ROOTS' host.
    // Error(invalid) when the image cannot be told (no digest, a root that is no overlay).
    static std::unique_ptr<KernelCacheUse> attach(oci::RuntimeSpec& spec, const std::string& id,
                                                  const std::filesystem::path& rootfs,
                                                  const gpu_vendors::Backend* backend,
                                                  const gpu_vendors::Roots& roots);
    // The container's first process PID, started at START: a monitor forked to hold the key's
    // locks until it exits, then to publish what a writer added. Returns the monitor's pid.
    pid_t watch(pid_t pid, unsigned long long start);

  private:
    explicit KernelCacheUse(std::shared_ptr<kernel_cache::Attachment> a) : a_(std::move(a)) {}
    std::shared_ptr<kernel_cache::Attachment> a_;
};

} // namespace gantry::ocirt
