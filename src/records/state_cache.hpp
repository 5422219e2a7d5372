// Parsed container states by their state.json, for a process that lists them again and again
// (the Engine API's service: `docker ps` of 100 containers parsed 100 documents per request).
// An entry is used while the file is the same one (a save replaces it: another inode) with the
// same size and mtime. Each entry is an immutable snapshot shared with its readers: a hit costs
// a stat and a reference count, not a copy of the state (a copy of 100 states, and freeing
// them, was a quarter of the service's time for `docker ps`). A replaced file gets a new
// snapshot; readers holding the old one keep it unchanged. Thread-safe and fork-safe: its
// mutex is taken with try_lock, and a thread that finds it held (or a child forked while
// another thread held it) parses the file instead.
#pragma once

#include "records/state.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace gantry::records {

// The state in FILE, parsed by PARSE (which throws on a damaged document) or taken from the
// cache; null when the file is missing, unreadable or damaged.
std::shared_ptr<const ContainerState>
cached_state(const std::filesystem::path& file,
             const std::function<ContainerState(const std::string&)>& parse);

} // namespace gantry::records
