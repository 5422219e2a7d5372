// sqsh/flatten: which entries of an image's layer tars make its flattened root, decided while
// the layers stream top layer first (each layer read once, nothing unpacked).
//
// Overlay semantics, as the store's overlay mount gives them: an upper entry hides the same
// path below; a whiteout (".wh.NAME") hides NAME and its subtree in the layers below its own;
// an opaque marker (".wh..wh..opq") hides what lower layers hold inside its directory; a
// non-directory hides whatever lower layers hold beneath its path. A path repeated inside one
// layer keeps its first entry. The root directory ("") is the caller's to handle.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace gantry::sqsh {

class Flattener {
  public:
    enum class Marker { none, whiteout, opaque };
    // What a (normalised, non-empty) entry name is: NAME's whiteout, its directory's opaque
    // marker, or neither. `target` is set to the path it hides (whiteout) or the directory.
    static Marker marker(std::string_view path, std::string& target);

    // Whether the entry PATH (a directory when IS_DIR) of the current layer is part of the
    // flattened root; records it when it is.
    bool keep(const std::string& path, bool is_dir);
    // Whether PATH was kept from the current layer (a hard link's target can be linked to).
    bool kept_here(const std::string& path) const { return here_.count(path) != 0; }
    // A whiteout or an opaque marker of the current layer: applies to the layers below it.
    void whiteout(const std::string& path) { pending_hidden_.insert(path); }
    void opaque(const std::string& dir) { pending_opaque_.insert(dir); }
    // The current layer is done: its markers now apply.
    void next_layer();

  private:
    bool hidden_by_upper(const std::string& path) const;
    std::unordered_map<std::string, bool> kept_;      // path -> is a directory
    std::unordered_set<std::string> hidden_, opaque_; // from layers above the current one
    std::unordered_set<std::string> pending_hidden_, pending_opaque_, here_;
};

} // namespace gantry::sqsh
