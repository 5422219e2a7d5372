// kernel_cache/caches: the kernel caches on disk, one directory per key under a root (the store's
// kernel-caches/, or the DIR of --kernel-cache=DIR), and a container's use of one.
//
//   ROOT/KEY/facts.json     what the key was made of (key.hpp), written once
//   ROOT/KEY/used           its mtime: the key's last attach (least-recently-used eviction)
//   ROOT/KEY/current        a symlink to the published generation, gen-N
//   ROOT/KEY/gen-N/         a published generation: never written again, removed once no
//                           container reads it (gen-N.lock, held shared by each one that does)
//   ROOT/KEY/writer.lock    held exclusively by the one container that writes the key
//   ROOT/KEY/key.lock       held while a generation is published or removed
//   ROOT/KEY/runs/ID/       a container's own layer over its generation (upper/, work/),
//                           ID.lock held while it runs
//
// Every container of a key mounts an overlay: its generation below, its own upper layer above.
// The first one to take writer.lock writes: when it exits (or at `gantry kernel-cache commit`),
// a new generation is made from the current one (hard links: a generation is never written) with
// its upper layer applied on top, and `current` is swapped to it by a rename. The others read:
// their additions are discarded with their upper layer at exit. A gantry killed on the way holds
// no lock (the kernel drops flocks) and leaves a run directory that prune removes.
#pragma once

#include "kernel_cache/key.hpp"
#include "util/lock.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gantry::kernel_cache {

// --kernel-cache's value (and the config file's kernel_cache, the io.gantry.kernel-cache label):
// off, auto (the store's kernel-caches/ directory) or an absolute DIR holding the keys.
struct Setting {
    enum class Kind { off, automatic, dir } kind = Kind::off;
    std::string dir;
    // WORD as given by WHERE ("--kernel-cache"); "" is off. Error(usage) naming WHERE.
    static Setting parse(const std::string& word, const std::string& where);
    std::string word() const; // "off", "auto" or the DIR
};

// The root the keys of SETTING live under (STORE_ROOT/kernel-caches for auto).
std::filesystem::path root_of(const Setting& setting, const std::filesystem::path& store_root);

enum class Role { writer, reader };
const char* to_string(Role r);

// A container's use of a key, from attach to finish.
class Attachment {
  public:
    Attachment() = default;
    Attachment(Attachment&&) = default;
    Attachment& operator=(Attachment&&) = default;
    ~Attachment(); // removes the run directory unless handed over or finished

    std::string key;
    std::filesystem::path key_dir;
    Role role = Role::reader;
    std::filesystem::path generation; // the lower layer: ROOT/KEY/gen-N
    std::filesystem::path upper, work;

    // The overlay mount's options ("lowerdir=...,upperdir=...,workdir=...").
    std::vector<std::string> mount_options() const;
    // The container ended: a writer's upper layer, unless empty, published as a new generation;
    // then the run's directory removed and the locks released. Errors are logged, never thrown: the
    // container's own exit status is what the run reports.
    void finish();
    // This process no longer owns the run (the -d monitor, a fork, does): the destructor leaves
    // the run directory to it.
    void hand_over() { handed_over_ = true; }
    // The descriptors of the locks it holds: a process forked to finish it (a monitor that
    // closes everything else) keeps these.
    std::vector<int> descriptors() const;

  private:
    friend Attachment attach(const std::filesystem::path&, const KeyFacts&, const std::string&,
                             const struct AttachOptions&);
    FileLock writer_lock_, generation_lock_, run_lock_;
    bool handed_over_ = false, finished_ = false;
    std::filesystem::path root_, run_dir_;
    std::uint64_t max_bytes_ = 0;
};

// The default of the config file's kernel_cache_max_size: what ROOT may hold before the least
// recently used keys are evicted, after each publication.
inline constexpr std::uint64_t kDefaultMaxBytes = 20ull << 30;

struct AttachOptions {
    // the pointed variables' directories, made in a new key writable by every user of the
    // container
    std::vector<std::string> directories;
    // the root's cap, enforced after the writer publishes (least recently used keys no container
    // uses evicted)
    std::uint64_t max_bytes = kDefaultMaxBytes;
    // shared image stores (kernel_cache/shared.hpp): a new key starts as the first one's copy
    std::vector<std::string> shared_stores;
    // where no shared store has a new key: fills the empty directory it is given with the key's
    // tree from elsewhere (a registry's artifact: engine/kernel_cache_artifacts.hpp) and returns
    // true, or false when there is none. Called once per new key, under the key's lock (a
    // concurrent first start waits for it); an Error it throws is a warning, the key starts empty.
    std::function<bool(const KeyFacts&, const std::filesystem::path&)> fetch;
};

// The key of FACTS under ROOT made if new (as OPTIONS say), its generation locked shared, and a
// run directory for CONTAINER_ID; the writer's role when no other container holds it.
Attachment attach(const std::filesystem::path& root, const KeyFacts& facts,
                  const std::string& container_id, const AttachOptions& options);

// A new generation of KEY_DIR: the current one with UPPER (an overlay upper directory) applied,
// made under a temporary name, synced, renamed into place, then `current` swapped to it; the
// generations no container reads any more removed. MOVE: UPPER's files are renamed (the writer
// has exited), else copied (`commit` of a running writer). Returns the new generation's name.
std::string publish(const std::filesystem::path& key_dir, const std::filesystem::path& upper,
                    bool move);

// A key on disk, for `gantry kernel-cache ls/inspect`, `system df`.
struct KeyInfo {
    std::string key;
    std::filesystem::path dir;
    std::optional<KeyFacts> facts; // none when facts.json is unreadable
    std::string generation;        // "gen-3"
    std::uint64_t bytes = 0;       // on disk, hard links counted once
    std::int64_t used = 0;         // last attach, seconds since the epoch
    bool in_use = false;           // a container runs on it
    bool writing = false;          // one of them writes it
};
std::vector<KeyInfo> list(const std::filesystem::path& root);
// The key named KEY (or a unique prefix of it, 4 hex digits at least); Error(not_found).
KeyInfo find(const std::filesystem::path& root, const std::string& key);
// Removes a key no container uses; Error(conflict) naming the key when one does.
void remove(const std::filesystem::path& root, const std::string& key);

// What prune removed: keys (all unused ones, or the least recently used until ROOT holds at most
// MAX_BYTES), leftover run directories, old generations.
struct Pruned {
    std::vector<std::string> keys;
    std::uint64_t bytes = 0;
};
// Removes leftovers (runs of dead gantry processes, unread generations) and then ALL unused keys
// or, without ALL, the least recently used unused keys until ROOT holds at most MAX_BYTES
// (nullopt: no cap).
Pruned prune(const std::filesystem::path& root, bool all, std::optional<std::uint64_t> max_bytes);

} // namespace gantry::kernel_cache
