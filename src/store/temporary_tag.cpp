#include "store/temporary_tag.hpp"

namespace gantry::store {

TemporaryTag::TemporaryTag(Store& store, const Digest& manifest)
    : store_(store), temporary_(store.temporary_ref()) {
    const std::string& name = temporary_.first;
    store_.update_refs([&](RefMap& m) { m[name] = manifest; });
}

TemporaryTag::~TemporaryTag() {
    try {
        remove();
    } catch (...) { // prune removes a name whose lock nobody holds
    }
}

void TemporaryTag::remove() {
    if (removed_) return;
    const std::string& name = temporary_.first;
    store_.update_refs([&](RefMap& m) { m.erase(name); });
    removed_ = true;
}

} // namespace gantry::store
