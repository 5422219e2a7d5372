#include "engine/squashfs.hpp"

#include "fuse/server.hpp"
#include "sandbox/thread_confinement.hpp"
#include "sqsh/facts_cache.hpp"

namespace gantry::engine {

std::function<void()> squashfs_confinement() {
    return sandbox::confinement(fuse::Server::syscalls());
}

SquashfsFile open_squashfs(const std::string& path, bool want_passwd) {
    return open_squashfs(path, want_passwd, {});
}

SquashfsFile open_squashfs(const std::string& path, bool want_passwd,
                           const std::filesystem::path& facts_cache) {
    SquashfsFile f;
    f.image = sqsh::open_deferred(path);
    f.facts = facts_cache.empty() ? sqsh::read_facts(*f.image, want_passwd, squashfs_confinement())
                                  : sqsh::read_facts_cached(*f.image, want_passwd,
                                                            squashfs_confinement(), facts_cache);
    return f;
}

} // namespace gantry::engine
