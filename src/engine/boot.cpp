// `gantry system boot` (engine/boot.hpp).
#include "engine/boot.hpp"

#include "engine/lifecycle.hpp"
#include "records/boot.hpp"
#include "records/state.hpp"
#include "util/error.hpp"

namespace gantry::engine {

BootStarts start_after_boot(const std::filesystem::path& store_root, Caller caller) {
    BootStarts out;
    records::StateDir states;
    for (auto& kept : records::kept_for_boot(store_root)) {
        if (!records::wanted_after_boot(kept)) continue;
        if (auto now = states.find(kept.id); now && now->id == kept.id) {
            out.present.push_back(now->name);
            continue;
        }
        try {
            kept.status = "exited";
            kept.startable = true;
            {
                auto owner = states.create(kept); // its name, as before the boot: released at
            }                                     // once, the start takes it over
            start(kept.id, caller);
            out.started.push_back(kept.name);
        } catch (const Error& e) {
            out.failed.push_back(kept.name + ": " + e.message() +
                                 (e.hint().empty() ? "" : " (" + e.hint() + ")"));
        }
    }
    return out;
}

} // namespace gantry::engine
