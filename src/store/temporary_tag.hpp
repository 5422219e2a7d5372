// store/temporary_tag: an image not tagged yet, named for as long as a container of it runs (a
// build's RUN step, slim's --check): a reference from Store::temporary_ref, held while this object
// lives and removed when it goes. `system prune` removes one whose command died.
#pragma once

#include "store/store.hpp"

#include <string>
#include <utility>

namespace gantry::store {

class TemporaryTag {
  public:
    // Names MANIFEST in STORE by a new temporary reference.
    TemporaryTag(Store& store, const Digest& manifest);
    TemporaryTag(const TemporaryTag&) = delete;
    TemporaryTag& operator=(const TemporaryTag&) = delete;
    ~TemporaryTag(); // remove(), errors ignored: the name is prune's then
    const std::string& ref() const { return temporary_.first; }
    // Removes the name now (throws as Store::update_refs does); the destructor then does nothing.
    void remove();

  private:
    Store& store_;
    std::pair<std::string, FileLock> temporary_;
    bool removed_ = false;
};

} // namespace gantry::store
