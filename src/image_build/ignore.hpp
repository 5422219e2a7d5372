// The .dockerignore of a build context, read as BuildKit's patternmatcher reads it: one pattern
// a line, `#` comment lines and blank lines skipped, surrounding whitespace trimmed, a leading
// `!` making an exception, each pattern cleaned (leading "/" and "./" dropped, "a/../b" -> "b").
// Segments match with fnmatch(3) (`*`, `?`, `[...]`, no "/" crossed), `**` matches any number of
// directories, and a pattern matching a directory excludes everything under it. The last
// pattern that matches a path decides. The file is untrusted input (fuzz/fuzz_dockerignore.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::image_build {

// Splits a "/"-separated path and cleans it: "" and "." dropped, ".." removes the previous
// segment (never above the start: the context is the root). Shared with context.cpp's globs.
std::vector<std::string> clean_segments(std::string_view path);

struct IgnorePattern {
    std::vector<std::string> segments;
    bool exception = false; // "!pattern"
};

class Ignore {
  public:
    Ignore() = default;
    // Parses the text of a .dockerignore.
    static Ignore parse(std::string_view text);
    // DIR/.dockerignore parsed; none when DIR has none.
    static Ignore read(const std::string& dir);

    // True when path (relative to the context, "/"-separated) is excluded.
    bool excluded(std::string_view path) const;

    const std::vector<IgnorePattern>& patterns() const { return patterns_; }

  private:
    std::vector<IgnorePattern> patterns_;
};

} // namespace gantry::image_build
