#include "engine/removal.hpp"

#include "engine/volumes.hpp"
#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace gantry::engine {

void remove_whole_container(records::StateDir& states, const records::ContainerState& s,
                            bool volumes) {
    records::remove_container(states, s);
    if (!s.container_dir.empty()) store::remove_owned_tree(s.container_dir);
    if (s.store_root.empty()) return;
    store::Store store(s.store_root);
    store.remove_hold(s.id);
    if (volumes) remove_anonymous_volumes(store, s.anonymous_volumes);
}

PrunedContainers
prune_containers(records::StateDir& states,
                 const std::function<bool(const records::ContainerState&)>& selected) {
    PrunedContainers out;
    for (auto& s : states.list()) {
        // a created record whose monitor lives is being started (StateDir::find_started)
        if (s.running() || s.monitor_alive() || !selected(s)) continue;
        std::uint64_t bytes = 0;
        if (!s.container_dir.empty()) {
            try {
                bytes = fs::disk_usage(s.container_dir);
            } catch (const Error&) { // gone already: counted as nothing
            }
        }
        remove_whole_container(states, s);
        out.ids.push_back(s.id);
        out.bytes += bytes;
    }
    return out;
}

} // namespace gantry::engine
