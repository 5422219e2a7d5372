// image_build/import: `gantry import`, docker's and podman's way to make an image of a root
// filesystem tar: the tarball (a file, standard input or an http(s) URL; plain, gzip, bzip2, xz,
// lzma or zstd) becomes the one layer of a new image, its entries copied as they are and then
// unpacked by the store's importer (safe extraction: the tarball is hostile input like any
// layer), with the config docker writes (this host's platform or --platform, a history entry
// "Imported from SOURCE" or the --message) and the config-only Dockerfile instructions of
// --change applied (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME,
// WORKDIR: docker's list; any other is refused before anything is read).
#pragma once

#include "oci/digest.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::image_build {

struct ImportRequest {
    std::string source;               // a file, "-" (standard input), or an http(s) URL
    std::string ref;                  // the name to tag: required (import makes no untagged image)
    std::vector<std::string> changes; // Dockerfile instructions, one each
    std::string message;              // the history entry's comment
    std::string platform;             // OS/ARCH[/VARIANT]; empty: this host's
    bool privileged = false;          // real root: owners, devices and setuid bits kept
};

struct Imported {
    oci::Digest manifest, config;
    std::string ref; // normalised
    std::uint64_t entries = 0;
};

// The image REQ describes, made in STORE. Error(usage) for a --change gantry does not apply (before
// anything is read), Error(not_found/io) for a source that cannot be read, Error(network) for a
// URL that cannot be fetched, Error(invalid) for data that is not a (compressed) tar.
Imported import_rootfs(store::Store& store, const ImportRequest& req);

// The config-only instructions CHANGES applied to an empty image config's "config" object, as
// `import --change` applies them; Error(usage) naming one that is not allowed or does not parse.
nlohmann::json apply_changes(const std::vector<std::string>& changes);
// CHANGES applied to CONFIG (an image config's "config" object) as `gantry commit --change`
// applies them: docker commit's list (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
// VOLUME, WORKDIR), words expanded against CONFIG's Env; Error(usage) as apply_changes.
nlohmann::json apply_commit_changes(const std::vector<std::string>& changes, nlohmann::json config);

} // namespace gantry::image_build
