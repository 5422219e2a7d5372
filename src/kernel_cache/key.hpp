// kernel_cache/key: what a kernel cache is keyed on, and the key. Code a JIT or an autotuner
// writes into its on-disk cache is valid only for the image that compiled it (its frameworks'
// versions and sources), the GPUs it was compiled for (their architectures), the driver and
// runtime that compiled it, and the user whose processes trust it: KeyFacts holds each of them,
// and the key is the SHA-256 of their canonical JSON, so a change of any one of them gives a new
// key and never a stale hit (docs/kernel-caches.md, "Keys").
#pragma once

#include "util/json.hpp"

#include <string>
#include <vector>

namespace gantry::kernel_cache {

// The version of the key's format: a later gantry that keys differently starts new keys.
inline constexpr const char* kKeyFormat = "gantry-kernel-cache-v1";

struct KeyFacts {
    std::string image;  // the image's manifest digest ("sha256:..."), or its config's
    std::string vendor; // the GPU vendor the container gets ("nvidia", "amd", "intel"); "cpu"
    // The vendor's facts a compiled kernel depends on, "name=value", in the vendor's order
    // (gpu_vendors::Backend::kernel_cache_facts: "driver=580.95.05", "cuda=13.0",
    // "targets=sm_90"); for "cpu", the host's machine and x86-64 level ("machine=x86_64",
    // "cpu=x86-64-v3"), or aarch64 version and features ("cpu=armv9-a", "cpu-features=...").
    std::vector<std::string> host;
    unsigned user = 0; // the host uid whose containers write and read it

    nlohmann::json to_json() const;
    static KeyFacts from_json(const nlohmann::json& j); // Error(invalid) naming the field
};

// 32 lower-case hex digits: the first half of the SHA-256 of FACTS' JSON (with kKeyFormat).
std::string key_of(const KeyFacts& facts);

} // namespace gantry::kernel_cache
