// engine/kernel_cache_artifacts: a kernel cache's key in a registry, as an OCI artifact that
// refers to its image's manifest (docs/kernel-caches.md, "Several nodes: registries"), so a
// node's first start of a key starts from another node's work where no shared store is:
//
//   manifest  application/vnd.oci.image.manifest.v1+json, artifactType kArtifactType,
//             subject = the image's manifest (the key's `image` fact), in the image's repository,
//             annotations io.gantry.kernel-cache.key (the key) and org.opencontainers.image.created
//   config    the empty descriptor (application/vnd.oci.empty.v1+json, `{}`)
//   layers    facts.json (kFactsType), the generation's tree as a tar (kTreeType)
//
// found through the registry's referrers API or its tag fallback (registry/artifacts.hpp).
// What a registry sends is hostile: the facts must make the key asked for, the tree is unpacked
// by docker cp's extraction (nothing outside the new directory, links never followed), set-id
// bits and anything but directories, files and links are dropped, and a tree larger than the
// caches' cap is not fetched.
#pragma once

#include "kernel_cache/key.hpp"
#include "oci/digest.hpp"
#include "registry/client.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace gantry::engine {

inline constexpr const char* kKernelCacheArtifactType = "application/vnd.gantry.kernel-cache.v1";
inline constexpr const char* kKernelCacheFactsType =
    "application/vnd.gantry.kernel-cache.facts.v1+json";
inline constexpr const char* kKernelCacheTreeType =
    "application/vnd.gantry.kernel-cache.tree.v1.tar";
inline constexpr const char* kKernelCacheArtifactKey = "io.gantry.kernel-cache.key";

struct KernelCacheArtifact {
    std::string key;
    std::string repository;     // "localhost:5000/team/model"
    std::string manifest;       // the artifact's digest
    std::uint64_t bytes = 0;    // the tree's tar
    bool referrers_api = false; // the registry indexed it; else the tag fallback holds it
};

// The two layers of a kernel cache artifact's manifest BODY (the facts, the tree): Error(invalid)
// naming WHAT when it is not one (not two layers of those media types with digests and sizes,
// or facts above 1 MiB).
struct KernelCacheLayers {
    oci::Digest facts, tree;
    std::uint64_t facts_size = 0, tree_size = 0;
};
KernelCacheLayers kernel_cache_layers(const std::string& body, const std::string& what);

// The repository KEY's artifact goes to: REPOSITORY when given, else the repository of the one
// store image whose manifest is the key's image. Error(usage) when none or several qualify.
std::string kernel_cache_repository(const store::Store& store, const kernel_cache::KeyFacts& facts,
                                    const std::string& repository);

// `gantry kernel-cache push KEY --repository REPO`: KEY's current generation under ROOT pushed to
// REPOSITORY as the artifact above. Error(not_found) when the image's manifest is not in it.
KernelCacheArtifact push_kernel_cache_artifact(const std::filesystem::path& root,
                                               const std::string& key,
                                               const std::string& repository,
                                               const registry::ClientOptions& options);

// The tree of FACTS' key from REPOSITORY (the image's, as the run names it) unpacked into INTO
// (an empty directory): true when an artifact of that key was found and unpacked, false when
// there is none. A tree above MAX_BYTES is not fetched (false, with a note). Errors throw; the
// caller leaves INTO empty then.
bool fetch_kernel_cache_artifact(const kernel_cache::KeyFacts& facts, const std::string& repository,
                                 const std::filesystem::path& into, std::uint64_t max_bytes,
                                 const registry::ClientOptions& options);

} // namespace gantry::engine
