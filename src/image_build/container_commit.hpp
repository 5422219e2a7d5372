// image_build/container_commit: `gantry commit` and the Engine API's POST /commit, docker's way to
// make an image of a container. The container's disk writable layer (its upper directory, read as
// image_build/upper_layer.hpp reads a RUN step's: whiteouts as `.wh.NAME` and `.wh..wh..opq`, the
// runtime's mount stubs left out) becomes one new layer on its image's layers, unpacked into the
// store as any layer is; the container keeps its layer. The config is the image's with the
// container's own settings over it, as docker's commit merges them (what the run gave: command,
// --entrypoint, -e, -w, -u, labels, --expose and published ports, the health check), then the body
// of POST /commit (docker's Config fields), then the --change instructions (docker commit's
// list); plus docker's fields of a committed image: container, container_config, author, comment,
// parent, and a history entry. Named REPO[:TAG], or kept untagged (store::Store::untagged). A
// running container is paused while its layer is read (docker's --pause default) where it has a
// freezer.
#pragma once

#include "oci/digest.hpp"
#include "records/state.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::image_build {

struct CommitRequest {
    std::string ref; // REPO[:TAG]; "" keeps the image untagged
    std::vector<std::string> changes;
    // POST /commit's body: docker's Config fields that override the container's (Cmd,
    // Entrypoint, Env, ExposedPorts, Labels, OnBuild, User, Volumes, WorkingDir); another one
    // set is Error(usage) naming it
    nlohmann::json config = nlohmann::json::object();
    std::string message, author;
    bool pause = true;
    bool privileged = false; // real root: the layer unpacked with owners and devices
};

struct Committed {
    oci::Digest manifest, config;
    std::string ref; // normalised; "" when untagged
    bool new_layer = false;
};

// The image of container S as REQ asks, written into S's store. Error(usage) for a change or body
// field not applied (before anything is written); Error(unsupported) for a container whose
// writable layer is in memory or whose image is not layers in the store (a squashfs file, a lazy
// pull), and for --pause on a running container without a freezer.
Committed commit_container(const records::ContainerState& s, const CommitRequest& req);

// The config object docker's commit starts from for S: its image's CONFIG with what S's run set
// over it (a container made before request.json was kept: the image's, with S's command).
nlohmann::json container_config(const records::ContainerState& s, nlohmann::json config);

} // namespace gantry::image_build
