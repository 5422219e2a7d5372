// docker's `run --mount` grammar: comma-separated KEY=VALUE fields, read as one CSV record as
// docker reads them (a field in double quotes may hold commas: "source=/a,b",target=/x).
//   type=bind|tmpfs|volume     (docker's default is volume)
//   source|src=PATH            bind: the host path (absolute or ./relative; it must exist)
//   target|destination|dst=PATH  inside the container, absolute
//   readonly|ro[=true|false|1|0]
//   bind-propagation=shared|slave|private|rshared|rslave|rprivate   (bind only)
//   bind-nonrecursive[=true|false]                                  (bind only: refused when true)
//   consistency=consistent|cached|delegated|default  (docker for Mac's; meaningless on Linux, as
//                                                      docker documents, and accepted as such)
//   tmpfs-size=SIZE (docker's units: 64m), tmpfs-mode=OCTAL        (tmpfs only)
//   type=volume: source=NAME (a named volume, engine/volumes.hpp makes it on first use; no
//   source: an anonymous volume, VolumeMount's name empty), volume-nocopy (gantry never copies the
//   image's files into a new volume: =false is refused), volume-driver=local, volume-label=K[=V]
//   (repeatable: the labels of the volume the run makes; an existing one must have them); other
//   volume-* keys refused.
// An unknown key, a key of another type, a bad value: Error(usage) naming it.
#pragma once

#include "runspec/builder.hpp"

#include <map>
#include <optional>
#include <string>

namespace gantry::runspec {

struct VolumeMount {
    std::string name, target; // name "": an anonymous volume
    bool readonly = false;
    std::map<std::string, std::string> labels; // volume-label
};

struct MountFlag {
    std::optional<BindMount> bind;     // type=bind
    std::optional<VolumeMount> volume; // type=volume
    // type=tmpfs: the same text a --tmpfs flag gives, "DST:nosuid,nodev,size=N,mode=M[,ro]"
    std::string tmpfs;
};

MountFlag parse_mount_flag(const std::string& text);

} // namespace gantry::runspec
