// registry/transfer_bounds: the bounds on every registry transfer that is not the lazy path's
// (lazy/transfer_limits.hpp has those): manifests, indexes, configs, layer blobs, tokens, pushes'
// uploads, `gantry pull`, `run`'s pull, `build`'s, `push`, `sign`, `verify`. Session::perform
// (http.hpp) applies them to every curl handle whose Transport leaves them unset, so that a
// registry that drips bytes, or sends nothing, never holds a command for longer than they allow.
//
//   min_rate       bytes a second (1024): a transfer that moved fewer bytes than this a second
//   rate_window    over the last rate_window seconds (30) is abandoned: a 2 bytes/s drip after
//                  30 s, a silent connection after 30 s; a real link at 8 kbit/s passes
//   document_time  seconds (60): the overall bound on a request for a document (a manifest, an
//                  index, a config, a token, the registry's answer to an upload), plus its size
//                  at min_rate when the size is known beforehand. Layer blobs (downloaded or
//                  uploaded) have no overall bound: they are bounded by the rate alone, so a big
//                  layer on a slow but steady link still arrives.
//
// They come from config.yaml's `registry_transfer:` mapping (util/config_file.hpp), then the
// environment's GANTRY_REGISTRY_MIN_RATE, GANTRY_REGISTRY_RATE_WINDOW and
// GANTRY_REGISTRY_DOCUMENT_TIME over it. Each is a whole number from 1 up (seconds: at most a
// day); anything else is Error(usage) (the environment) or Error(invalid) (the file) naming it.
#pragma once

#include "util/yaml.hpp"

#include <string>

namespace gantry::registry {

struct TransferBounds {
    long min_rate = 1024;    // bytes a second
    long rate_window = 30;   // seconds
    long document_time = 60; // seconds
};

// The bounds: DOC (the config file FILE's parsed document, or a null node) over the defaults,
// then the environment's variables over that.
TransferBounds transfer_bounds(const yaml::Node& doc, const std::string& file);

// The bounds of this process: the config file's and the environment's, read once (a bad value
// throws each time it is asked for).
TransferBounds transfer_bounds();

// Whether a transfer that moved BYTES in the last SECONDS (at least the window) is too slow.
bool too_slow(const TransferBounds& b, double bytes, double seconds);

// The fix named when a bound abandons a transfer (and in docs/registry.md, Slow registries).
extern const char* const kTransferBoundsHint;

} // namespace gantry::registry
