#include "sqsh/flatten.hpp"

namespace gantry::sqsh {

Flattener::Marker Flattener::marker(std::string_view path, std::string& target) {
    auto slash = path.rfind('/');
    std::string_view dir = slash == std::string_view::npos ? "" : path.substr(0, slash);
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (!base.starts_with(".wh.")) return Marker::none;
    if (base == ".wh..wh..opq") {
        target = std::string(dir);
        return Marker::opaque;
    }
    if (base.starts_with(".wh..wh.")) { // AUFS bookkeeping (.wh..wh.plnk, ...): dropped
        target.clear();
        return Marker::whiteout;
    }
    target = std::string(dir);
    if (!target.empty()) target += '/';
    target += base.substr(4);
    return Marker::whiteout;
}

bool Flattener::hidden_by_upper(const std::string& path) const {
    if (hidden_.count(path)) return true;
    for (std::size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1)) {
        std::string anc = path.substr(0, i);
        if (hidden_.count(anc) || opaque_.count(anc)) return true;
        auto it = kept_.find(anc);
        if (it != kept_.end() && !it->second) return true;
    }
    return opaque_.count("") != 0; // an opaque root hides every lower entry
}

bool Flattener::keep(const std::string& path, bool is_dir) {
    if (kept_.count(path) || hidden_by_upper(path)) return false;
    kept_.emplace(path, is_dir);
    here_.insert(path);
    return true;
}

void Flattener::next_layer() {
    hidden_.merge(pending_hidden_);
    opaque_.merge(pending_opaque_);
    pending_hidden_.clear();
    pending_opaque_.clear();
    here_.clear();
}

} // namespace gantry::sqsh
