// The run view: what `gantry run` reads of an image, kept in one small file per manifest.
//
// Starting a container needs the image's config (platform, diff IDs, Env, Entrypoint, Cmd,
// WorkingDir, User ...) and its etc/passwd (to resolve -u NAME). Read from scratch that is the
// manifest and the config blob, each hashed and parsed (the config with its whole build
// history: a 12 KB config shaped like a CUDA image's takes ~65 us to parse), then a search of
// the layers, top down, for etc/passwd. The view holds the config without its history and the
// passwd text, in STORE/views/<manifest hex>.json, written atomically the first time the image
// runs. It is derived from verified blobs and from layers, all immutable for a manifest digest; a
// view that is missing, unreadable, of another format or of another manifest is rebuilt, and gc
// removes the views of images no longer in the store.
#pragma once

#include "store/images.hpp"

#include <string>

namespace gantry::rootfs {

struct RunView {
    store::Image image; // manifest_digest and config (no history); the manifest is not read
    std::string passwd; // etc/passwd as the layers give it ("" when the image has none)
};

// The run view of the image `ref_or_id` names (resolved in refs.json as find_image does);
// errors as find_image's. A view that cannot be saved (read-only store) is only not saved.
RunView find_run_view(const store::Store& store, const std::string& ref_or_id);

} // namespace gantry::rootfs
