// pull: an image from a registry into the store. The name goes through the site's rules first
// (site/: registries.conf's short names, blocked tables, mirrors and rewritten locations,
// tried in podman's order; then policy.json's requirements, checked on the top manifest before
// anything is stored); the image keeps the logical name whichever location served it. The manifest
// (or index: one platform picked) is fetched and verified against a @sha256 pin or the registry's
// Docker-Content-Digest; layers stream download -> sha256 -> decompress -> extract, several at
// once, through the importer shared with `load`; blobs and layers already in the store are not
// fetched. The image is added to the name (store/platforms.hpp: in place of the one of its
// platform, the name's others kept) only when the whole image is in.
#pragma once

#include "oci/image.hpp"
#include "oci/reference.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "site/signature.hpp"
#include "store/store.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gantry::registry {

struct PullOptions {
    ClientOptions client;
    std::optional<oci::Platform> platform; // default: the host's
    // every platform of an index (not its attestations), each added to the name as a pull of
    // that platform adds it (store/platforms.hpp); an image of one platform is pulled as it is
    bool all_platforms = false;
    unsigned jobs = 0; // layers at once (0: 3, or more CPUs)
    bool privileged = false;
    bool quiet = false;
    bool tty = false;             // progress bars instead of lines
    bool interactive = false;     // stdin and stdout are terminals (short-name-mode)
    std::string signature_policy; // --signature-policy FILE ("" : the default policy.json)
    ProgressObserver observer;    // told of each layer's progress (the Engine API's stream)
};

struct PullResult {
    std::string ref;      // normalised reference now pointing at the image (the logical name)
    std::string source;   // the location that served it (a mirror's, a rewritten one), or ref
    oci::Digest manifest; // the last image pulled (of several with all_platforms)
    oci::Digest config;
    std::vector<oci::Platform> platforms; // of the images pulled, in order
    std::int64_t fetched_bytes = 0;       // layer bytes transferred in this run
    std::size_t layers = 0, layers_fetched = 0;
    site::Verdict verdict; // what policy.json said, and under which file
};

PullResult pull(store::Store& store, const std::string& ref, const PullOptions& opt);

// The top of a pull without its layers (`gantry pull --lazy`, lazy/image.hpp): the name through
// the site's rules and policy as pull() does, the platform's manifest and its config fetched and
// verified (by digest), nothing stored.
struct ImageMetadata {
    std::shared_ptr<Client> client; // the location that served it
    std::string ref;                // normalised logical name
    oci::Reference source;          // the location (a mirror's, a rewritten one)
    bool insecure = false;          // that location's registries.conf insecure (a mirror's own)
    oci::Digest manifest_digest;
    std::string manifest_text, config_text;
    oci::Manifest manifest;
};
ImageMetadata fetch_metadata(const std::string& ref, const PullOptions& opt);

// Accept header for manifests and indexes of both OCI and Docker schema 2.
extern const char* const kManifestAccept;

// Picks the manifest for `want` from an index (no platform = usable anywhere).
const oci::Descriptor& choose_platform(const oci::Index& idx, const oci::Platform& want,
                                       const std::string& what);

} // namespace gantry::registry
