// sqsh_pull/pull: `gantry pull REF --format squashfs`, a registry image as one squashfs file,
// without adding it to the store: into -o FILE, into a shared store (--image-store DIR), or into
// the node-local squashfs cache (sqsh/cache.hpp) that `run REF` reads after the store.
//
// The image is pulled into a temporary store under STORE/tmp (layers verified, decompressed and
// unpacked once, several at once: registry/pull), flattened from its verified blobs by
// sqsh::save, published, and the temporary store removed, whatever happens. Concurrent pulls of
// one reference into the cache wait on a node-local lock (STORE/locks), so a node downloads an
// image once however many jobs ask for it; the second finds it cached. `--format sif -o FILE`
// writes the image as a SIF (sqsh::save_sif) from the same temporary store.
#pragma once

#include "oci/digest.hpp"
#include "registry/pull.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>

namespace gantry::sqsh_pull {

struct PullTarget {
    std::string file;        // -o FILE
    std::string image_store; // --image-store DIR
    // neither: the node's squashfs cache
    bool sif = false; // --format sif: FILE is a SIF (sqsh::save_sif); FILE is then required
};

struct SqshPulled {
    std::string ref;      // normalised
    oci::Digest manifest; // the image's manifest digest
    std::string file;     // where the squashfs file is
    bool cached = false;  // the cache already had it: nothing was fetched
    std::uint64_t bytes = 0;
};

SqshPulled pull(store::Store& store, const std::string& ref, const registry::PullOptions& opt,
                const PullTarget& target);

} // namespace gantry::sqsh_pull
