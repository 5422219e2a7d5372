// Who this process is on the host: the one question every module that writes files owned by
// other ids (layers, bundles, container roots) asks before choosing how to write them.
#pragma once

#include <string>
#include <sys/types.h>

namespace gantry {

// Whether this process is the host's real root: uid 0 in the initial user namespace (full
// uid_map), not uid 0 of a user namespace (`unshare -r`), which cannot keep owners or devices.
bool running_as_real_root();

// The host's name for group GID (/etc/group, NSS), or "" when it has none.
std::string group_name(gid_t gid);

} // namespace gantry
