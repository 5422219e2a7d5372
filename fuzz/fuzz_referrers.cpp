// Fuzzes what a registry answers about a manifest's referrers (registry/artifacts: the referrers
// API's index or the tag schema's) and a kernel cache artifact's manifest as a node reads it
// before fetching (engine/kernel_cache_artifacts). The input is the document; every failure is
// an Error(invalid), and what passes holds valid digests and sizes within the bounds.
#include "engine/kernel_cache_artifacts.hpp"
#include "fuzz_support.hpp"
#include "registry/artifacts.hpp"
#include "util/error.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(referrers) {
    const std::string body(fuzz::bytes(data, size));
    try {
        auto found = registry::referrers_in_index(body, engine::kKernelCacheArtifactType, "fuzz");
        FUZZ_CHECK(found.size() <= 10000);
        for (const auto& d : found) {
            FUZZ_CHECK(oci::Digest::valid(d["digest"].get<std::string>()));
            FUZZ_CHECK(d["size"].is_number_unsigned());
            FUZZ_CHECK(d["artifactType"] == engine::kKernelCacheArtifactType);
        }
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == Errc::invalid);
    }
    try {
        auto layers = engine::kernel_cache_layers(body, "fuzz");
        FUZZ_CHECK(!layers.facts.empty() && !layers.tree.empty());
        FUZZ_CHECK(layers.facts_size <= (1u << 20));
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == Errc::invalid);
    }
    return 0;
}
