// The build context as COPY/ADD read it: source patterns resolved inside the context directory,
// and a content digest of what they select for the step cache. A pattern is cleaned with the
// context as its root ("../x" and "/x" both mean CONTEXT/x, as BuildKit does), matched segment by
// segment with fnmatch(3), never through a symbolic link (lstat: a link is selected as itself,
// so nothing outside the context is read), and .dockerignore'd paths are left out.
#pragma once

#include "image_build/ignore.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace gantry::image_build {

class Context {
  public:
    Context(std::filesystem::path dir, Ignore ignore)
        : dir_(std::move(dir)), ignore_(std::move(ignore)) {}

    // The context-relative paths (sorted; "" for the whole context) one source pattern selects.
    // Throws Error(not_found) naming the pattern when it selects nothing.
    std::vector<std::string> resolve(std::string_view pattern) const;

    // SHA-256 ("sha256:...") over every selected entry and what lies under it, not ignored:
    // path, type, mode, size, and the file's bytes or the link's target.
    std::string digest(const std::vector<std::string>& paths) const;

    const std::filesystem::path& dir() const { return dir_; }
    const Ignore& ignore() const { return ignore_; }

  private:
    std::filesystem::path dir_;
    Ignore ignore_;
};

} // namespace gantry::image_build
