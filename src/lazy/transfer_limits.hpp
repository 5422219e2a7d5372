// lazy/transfer_limits: the bounds on every transfer of the lazy path (the manifest, config and
// TOC fetch of `pull --lazy` and `run --pull lazy`, each chunk and read-ahead request, the
// prefetch's, a squashfs artifact's block runs), so that a container's read never waits on a
// registry for longer than they allow: it fails with EIO naming the layer and the registry.
//
//   GANTRY_LAZY_MIN_RATE      bytes a second (1024): a transfer slower than this over
//   GANTRY_LAZY_RATE_WINDOW   seconds (10) is abandoned (a registry dripping bytes, or silent)
//   GANTRY_LAZY_REQUEST_TIME  seconds (30), and GANTRY_LAZY_REQUEST_RATE bytes a second
//                             (16384): a request of N bytes may take at most REQUEST_TIME +
//                             N / REQUEST_RATE seconds in all (a 4 MiB read-ahead: 286 s; a
//                             512 KiB read: 62 s), whatever its rate
//
// A transfer abandoned for either bound is not tried again (the container waits on it);
// connections refused or dropped still are (ClientOptions::retries). Each value is a whole
// number above 0; anything else is Error(usage) naming the variable.
#pragma once

#include "registry/client.hpp"

namespace gantry::lazy {

struct TransferLimits {
    long min_rate = 1024;      // bytes a second
    long rate_window = 10;     // seconds
    long request_time = 30;    // seconds
    long request_rate = 16384; // bytes a second
    long connect_timeout = 10; // seconds
};

// The limits, the environment's variables over the defaults above.
TransferLimits transfer_limits();

// OPT with the limits on its transport, and no retry of a transfer they abandoned.
registry::ClientOptions with_transfer_limits(registry::ClientOptions opt);

} // namespace gantry::lazy
