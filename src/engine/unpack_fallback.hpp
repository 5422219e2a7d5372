// engine/unpack_fallback: a squashfs image file (`run FILE.sqsh`) on a host where FUSE cannot
// serve it to the caller (/dev/fuse mode 0600 where no udev rule opened it to users, or no fuse
// module): the file is unpacked into the store once (as `gantry load FILE` does), under a name
// made from the file's path and identity, and runs from there, with a line saying so; later
// runs of the same file start from that copy. --no-unpack refuses instead. Root is never
// sent here: it mounts the file with the kernel's squashfs.
#pragma once

#include "store/store.hpp"

#include <string>

namespace gantry::engine {

// Why this process cannot open /dev/fuse read-write; "" when it can.
std::string fuse_unusable();

// The store reference of FILE's unpacked copy ("localhost/sqsh-unpacked/NAME:KEY", KEY from
// the file's real path, device, inode, size and modification time), unpacked now when the
// store lacks it. Errors as sqsh::load.
std::string unpacked_copy(store::Store& store, const std::string& file, const std::string& why);

} // namespace gantry::engine
