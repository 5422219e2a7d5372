// docker cp: files between a container's root and the host, or a tar stream (`-`), for
// `gantry cp` (cli/cmd_lifecycle.cpp registers its flags and calls copy) and the Docker Engine
// API's archive endpoints (copy_out_tar, copy_in_tar).
//
// A container's root is reached through its running process (/proc/PID/root, which the caller
// may open: its own container, rootless or not), or, stopped, mounted from its kept layer in a
// child process (engine/stopped_root.hpp); every path in it is resolved in-root
// (openat2 RESOLVE_IN_ROOT: a symbolic link or ".." there cannot lead outside), and below the
// resolved directory the tree is read and written one name at a time without following links
// (engine/copy_tree.hpp). A stopped container without a layer on disk: Error(conflict).
// Files written take the copying user's owner (in a rootless container: its root), as docker's
// cp without -a; -a is refused.
#pragma once

#include <string>

namespace gantry::engine {

// One side of `gantry cp`: CONTAINER:PATH, or a local PATH (docker's rule: an argument that
// begins with "/" or ".", or has no ":", is local). "-" is a tar stream.
struct CopyEndpoint {
    std::string container; // empty: local
    std::string path;
};
CopyEndpoint copy_endpoint(const std::string& arg);

struct CopyOptions {
    bool follow_link = false; // -L: SRC itself is followed when it is a link
    bool archive = false;     // -a: refused (Error(unsupported))
};

// `gantry cp SRC DEST`: docker's semantics for where a copy lands (into an existing directory
// under SRC's name; SRC/. copies a directory's contents). IN and OUT are the tar streams of "-".
// Error(usage) unless exactly one side is a container.
void copy(const std::string& src, const std::string& dest, const CopyOptions& options, int in = 0,
          int out = 1);

// The tar stream of PATH in the container (its entries named after PATH's last component).
void copy_out_tar(const std::string& container, const std::string& path, int out,
                  bool follow_link = false);
// A tar stream extracted into the container's directory DIR.
void copy_in_tar(const std::string& container, const std::string& dir, int in);

} // namespace gantry::engine
