// gpu_host/host_cache: the mechanism every vendor's host cache shares
// (gpu_vendors/nvidia/host_cache.hpp, gpu_vendors/amd/cache.hpp), so that a GPU container start
// does not discover the host each time: the key of an entry (CacheKey: a SHA-256 over what
// discovery reads that can change while gantry is installed) and the step that reads an entry back
// or discovers and stores one. Entries are JSON files named by the key; a missing or damaged entry
// is discovered afresh, and no error of the cache is the caller's (caching is an optimisation
// only).
#pragma once

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace gantry::gpu_host {

class CacheKey {
  public:
    explicit CacheKey(const std::string& salt) { h_.update(salt + "\n"); } // vendor + format
    void text(const std::string& s) { h_.update(s + "\n"); }
    // A path's identity, type, numbers, mode, owner, size and times (chmod and chown change
    // ctime, not mtime); "missing" when it is not there.
    void stat(const std::string& path);
    // A small file's contents (up to max bytes); "missing" when it cannot be read.
    void file(const std::string& path, std::uint64_t max);
    // stat() of each entry of DIR whose name starts with one of PREFIXES, in name order (at
    // most 4096: a hostile tree keeps the key bounded); "missing" when DIR cannot be read.
    void dir(const std::string& dir, const std::vector<std::string_view>& prefixes);
    std::string hex() { return h_.hex_final(); }

  private:
    Sha256 h_;
};

// The host of the entry PATH: read back with from_json when it is there, else discover(),
// stored with to_json when keep(host) says it is worth it (CACHE_DIR made with DIR_MODE).
template <class Host, class Discover, class Keep>
Host cached_host(const std::string& cache_dir, const std::string& path, std::uint64_t max,
                 Host (*from_json)(const std::string&), std::string (*to_json)(const Host&),
                 Discover discover, Keep keep, mode_t dir_mode) {
    try {
        return from_json(fs::read_file(path, max));
    } catch (const Error&) { // missing or damaged: discover afresh
    }
    Host h = discover();
    if (keep(h)) {
        try {
            fs::make_dirs(cache_dir, dir_mode);
            fs::write_atomic(path, to_json(h), 0600);
        } catch (const Error&) { // caching is an optimisation only
        }
    }
    return h;
}

// An entry's text: HOST through nlohmann::json's conversions (the vendor defines them, e.g. with
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE), and back. Reading throws Error(invalid) "damaged WHAT: ..."
// for text that does not parse or lacks a member.
template <class Host>
std::string entry_text(const Host& host) {
    return nlohmann::json(host).dump();
}
template <class Host>
Host entry_from_text(const std::string& text, const char* what) {
    try {
        return nlohmann::json::parse(text).get<Host>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::invalid, std::string("damaged ") + what + ": " + e.what());
    }
}

} // namespace gantry::gpu_host
