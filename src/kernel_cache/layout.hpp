// kernel_cache/layout: the names inside a key's directory (caches.hpp draws them) and the
// `current` symlink's reads and swaps. Internal to kernel_cache/.
#pragma once

#include <filesystem>
#include <string>

namespace gantry::kernel_cache {

inline constexpr const char* kRootLock = ".lock"; // ROOT/.lock: rm and prune against attaches
inline constexpr const char* kFacts = "facts.json";
inline constexpr const char* kUsed = "used";
inline constexpr const char* kCurrent = "current";
inline constexpr const char* kWriterLock = "writer.lock";
inline constexpr const char* kKeyLock = "key.lock";
inline constexpr const char* kRuns = "runs";

// "gen-N"
std::string generation_name(unsigned long n);
// N of "gen-N"; nullopt-like -1 for any other name.
long generation_number(const std::string& name);
// The generation `current` names ("gen-3"); Error(invalid) when it names anything else.
std::string current_generation(const std::filesystem::path& key_dir);
// `current` pointed at GEN: a symlink made under a temporary name, renamed over it, the
// directory synced.
void swap_current(const std::filesystem::path& key_dir, const std::string& gen);
// Whether a 32-hex-digit key's name.
bool is_key_name(const std::string& name);

} // namespace gantry::kernel_cache

namespace gantry::kernel_cache {
// TO (an existing directory) made as FROM's tree: directories with their modes, files hard links
// of FROM's where they can be (a generation is never written) else copies, symlinks as they are;
// anything else left out.
void link_tree(const std::filesystem::path& from, const std::filesystem::path& to);
// Removes the generations of KEY_DIR other than the current one that no container reads, and
// temporaries whose writer has exited. The caller holds KEY_DIR's key.lock.
void remove_unread(const std::filesystem::path& key_dir);
} // namespace gantry::kernel_cache
