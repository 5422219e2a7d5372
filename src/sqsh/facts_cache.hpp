// sqsh/facts_cache: the facts of a squashfs file (sqsh/facts.hpp) kept in the store, so that the
// next `run FILE.sqsh` of an unchanged file forks no confined reader (the reader, its
// confinement and its loading of the tables were about a tenth of a FUSE start's CPU time).
//
// An entry is STORE/sqsh-facts/<key>: the confined reader's answer as it came, after its
// sha256. The key digests the file's identity (device, inode, size, and its modification and
// change times in nanoseconds: rewriting the file in place changes its ctime, which no user can
// set), its superblock's bytes, and whether passwd was asked. A hit is checked exactly as a
// fresh answer is (facts_from: the header verified again, passwd bounded), so the cache is as
// trusted as the store that holds it. It is a pure speed-up: written atomically and not synced
// (docs/storage.md); a missing, torn or damaged entry is a miss (the reader runs and the entry
// is written again), and a store it cannot write to only costs the next run the reader. At most
// 1,024 entries are kept, the most recently written (a changed or removed file leaves its entry).
#pragma once

#include "sqsh/facts.hpp"

#include <filesystem>
#include <functional>
#include <string>

namespace gantry::sqsh {

// read_facts(IMAGE, WANT_PASSWD, CONFINE), answered from DIR (STORE/sqsh-facts) when it holds
// the answer for this very file. Errors as read_facts.
Facts read_facts_cached(Image& image, bool want_passwd, const std::function<void()>& confine,
                        const std::filesystem::path& dir);

} // namespace gantry::sqsh
