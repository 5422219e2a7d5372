// engine/squashfs: a squashfs file opened for a run or a description, parsed only by confined
// processes. The image is held unparsed (sqsh::Image::Deferred); what gantry needs before it
// mounts or describes it is read by a process of its own (sqsh/facts.hpp), and the FUSE server
// (fuse/server.hpp) is another; both get squashfs_confinement(): nobody when root, no
// capabilities, no_new_privs, the seccomp allow-list of the calls they make
// (sandbox/thread_confinement.hpp).
#pragma once

#include "sqsh/facts.hpp"
#include "sqsh/image.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace gantry::engine {

struct SquashfsFile {
    std::shared_ptr<sqsh::Image> image; // unparsed: for the server, or the kernel's mount
    sqsh::Facts facts;
};

// Opens PATH and reads its facts (etc/passwd only when WANT_PASSWD), from FACTS_CACHE
// (STORE/sqsh-facts: sqsh/facts_cache.hpp) when given and it has them. Errors as
// sqsh::read_facts.
SquashfsFile open_squashfs(const std::string& path, bool want_passwd);
SquashfsFile open_squashfs(const std::string& path, bool want_passwd,
                           const std::filesystem::path& facts_cache);

// What a process that parses a squashfs image calls first (compiled once per gantry process).
// A process that also fetches what it reads from a registry (a lazily pulled image's server, the
// reader of a squashfs artifact's facts) is confined by sandbox::confinement(lazy::server_calls()),
// in `gantry run` and `gantry oci` alike (docs/lazy-pull.md, Confinement).
std::function<void()> squashfs_confinement();

} // namespace gantry::engine
