// sqsh/image_tar: a squashfs image written out as a tar stream (pax, libarchive), what `load
// FILE.sqsh` makes a store layer of. It runs in the confined reader process (sqsh/confined.hpp:
// stream_confined), so the image is parsed there only; gantry reads the tar as it reads every
// layer (layer::TarReader, the same hostile-tar checks).
//
// Every entry under the root, parents before children, each directory's entries sorted by
// name (the root itself is not written, as squashfs-tools-ng's sqfs2tar does not): owners,
// permissions (setuid included), mtimes, xattrs, symlink targets, device numbers, fifos; a
// second name of an inode is a hard link to the first one; names are bytes (one that is not
// UTF-8 is recorded as pax hdrcharset=BINARY). A socket has no tar form: Error(unsupported)
// naming it (sqfs2tar --no-skip refused it too). A directory reached twice (a loop) or nested
// deeper than kMaxTarDepth is Error(invalid), as every damage the reader finds.
#pragma once

#include "sqsh/image.hpp"

#include <cstddef>

namespace gantry::sqsh {

inline constexpr std::size_t kMaxTarDepth = 2048; // PATH_MAX holds no deeper path

// Writes IMAGE (its tables opened here) as a tar to FD; returns the number of entries.
std::uint64_t write_tar(Image& image, int fd);

} // namespace gantry::sqsh
