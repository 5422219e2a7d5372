// The keeper: takes the teardown of a container's mount namespace off the caller's path.
//
// When the container's last process exits, the kernel unmounts everything in its mount
// namespace (the overlay, /proc, /dev, the tmpfs layer, a /sys tree ...) before the exit is
// reported: a few hundred microseconds during which `gantry run` waits for nothing it needs.
// The keeper is a process that holds a reference to that namespace until gantry has exited,
// so the namespace dies with the keeper instead, after gantry returned the exit status.
//
// (A rootless run's early start makes its container process through a helper that then stays
// as this keeper: runtime::EarlyStart.) It costs no copy of gantry: it is cloned with CLONE_VM
// (gantry's memory, shared, on a stack of its own) and runs only raw system calls: block signals,
// close every descriptor but the namespace's and a pidfd of gantry, poll that pidfd, exit. It
// touches no memory gantry uses and no libc state (not even errno), so gantry may exit or free
// anything meanwhile. Killing it at any time only moves the teardown back into its own exit.
#pragma once

#include <sys/types.h>

namespace gantry::runtime {

// Starts a keeper for the mount namespace of `container` (a child of ours that has not been
// reaped). Returns null, having changed nothing, when it cannot: the container already exited,
// no pidfd (Linux < 5.3), or an architecture without the raw system calls below. Else a word
// that becomes 1 once the keeper has closed its copies of gantry's descriptors.
const int* keep_mount_namespace(pid_t container);

// Waits, at most TIMEOUT_MS, until the keeper that DROPPED belongs to has closed its copies of
// gantry's descriptors (at once when it has, as it almost always has by a container's exit):
// until then it holds what they hold, the flock on the image a run uses among them, and a
// command run right after gantry (system reset, rmi) would see the image still in use. A null
// DROPPED (no keeper) is true at once.
bool await_keeper_dropped(const int* dropped, int timeout_ms = 2000);

} // namespace gantry::runtime
