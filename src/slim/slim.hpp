// slim: a smaller image from an analysed one. The plan removes chosen finding classes and paths
// (--keep always wins), optionally strips debug sections (strip --strip-debug: .dynsym and
// .symtab stay, so Python extension modules and dlopen users keep working), and squashes every
// layer into one: files deleted or overwritten in later layers are gone. The new layer is
// streamed from the original compressed blobs (no unpacked tree is read), keeping owners, modes,
// xattrs and hard links; it is then imported like a loaded layer (digest and diffID verified,
// safe extraction), and the config and manifest are written. Nothing is tagged here.
#pragma once

#include "analyze/analyze.hpp"
#include "store/images.hpp"
#include "tailor/tailor.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::slim {

// Finding classes slim knows, and the default set (everything but model caches).
const std::vector<std::string>& all_classes();
const std::vector<std::string>& default_classes();

struct SlimOptions {
    std::set<std::string> remove;          // classes (see analyze::path_class)
    std::vector<std::string> remove_paths; // paths or globs (fnmatch), leading "/" optional
    std::vector<std::string> keep;         // paths or globs; a match is never removed
    bool strip = false;
    std::string strip_tool = "strip"; // found on PATH
    std::string note;                 // the command line, for the history entry
    bool privileged = false;          // unpack the new layer as real root
    // Keep only the device code these GPUs run in ELF files' fat binaries (tailor/), in place.
    std::optional<tailor::KeepSet> keep_arch;
};

struct ClassStats {
    std::uint64_t files = 0, bytes = 0;
};

struct SlimResult {
    oci::Digest manifest, config, layer_blob, diff_id;
    std::uint64_t before_compressed = 0, after_compressed = 0;
    std::uint64_t before_bytes = 0, after_bytes = 0; // regular-file bytes of the merged view
    std::uint64_t before_layers = 0;
    std::uint64_t dropped_layer_bytes = 0;     // deleted/overwritten bytes the squash dropped
    std::map<std::string, ClassStats> removed; // by class ("path" for --remove-path)
    std::uint64_t kept_by_rule = 0;            // files --keep saved from removal
    std::uint64_t stripped_files = 0, stripped_bytes = 0, strip_failures = 0;
    std::string keep_arch;                    // KeepSet::str() of a tailoring
    std::vector<tailor::FileReport> tailored; // with keep_arch: every file with device code
    std::vector<std::string> warnings;
};

// Validates class names (Error(usage) listing the known ones).
void check_classes(const std::set<std::string>& classes);

// The classes a --remove list names: "default" and "all" expanded, "none" dropped; an empty list
// is "default" for `gantry slim` and "none" for `gantry tailor` (tailor removes no files unless
// asked). Error(usage) for an unknown class (check_classes).
std::set<std::string> removal_classes(const std::vector<std::string>& words, bool tailor);

// Whether `path` (normalised, no leading "/") matches a --keep / --remove-path pattern.
bool matches(const std::string& pattern, const std::string& path);

// Decides, for one final-view entry, the class that removes it ("" = kept). Exposed for tests.
std::string removal_class(const SlimOptions& opt, const std::string& path, analyze::Kind kind,
                          bool* kept_by_rule = nullptr);

// The dry-run plan: {"remove": {class: {files, bytes}}, "paths": [{path, class}] (first 1000)},
// plus "tailor" (analyze's prediction) when the analysis was made with keep_arch.
nlohmann::json plan(const SlimOptions& opt, const analyze::Analysis& analysis);

SlimResult slim_image(store::Store& store, const store::Image& image,
                      const analyze::Analysis& analysis, const SlimOptions& opt);

nlohmann::json to_json(const SlimResult& r);

} // namespace gantry::slim
