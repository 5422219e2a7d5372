#include "cli/context.hpp"
#include "dispatch/command_line.hpp"
#include "lazy/store_layers.hpp"
#include "oci/reference.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "util/error.hpp"

#include <cstdio>

namespace gantry::cli {

namespace {

// Removes one image reference (or, by ID, the whole image), saying so, and returns the manifest
// whose content may now be unreferenced.
std::optional<oci::Digest> remove_one(store::Store& store, const std::string& arg, bool force) {
    auto r = store::remove_image(store, arg, force);
    for (auto& n : r.untagged) std::printf("Untagged: %s\n", n.c_str());
    if (r.deleted) std::printf("Deleted: %s\n", r.deleted->str().c_str());
    return r.deleted;
}

} // namespace

void register_rmi(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> refs;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("rmi", "Remove images");
    cmd->add_option("image", o->refs, "Images (names or IDs)")->required();
    cmd->add_flag("-f,--force", o->force,
                  "Remove an image even if several names or a container use it");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            std::set<oci::Digest> freed;
            int status = 0;
            std::optional<Error> only; // one image: its error is reported once, by main
            for (auto& r : o->refs) {
                try {
                    // a lazily pulled image: its record and local copies (lazy/store_layers.hpp)
                    if (lazy::remove_named(ctx.store(), r)) {
                        std::printf("Removed lazily pulled image: %s\n", r.c_str());
                        if (!lazy::in_store(ctx.store(), r)) continue;
                    }
                    if (auto md = remove_one(ctx.store(), r, o->force)) freed.insert(*md);
                } catch (const Error& e) {
                    if (o->refs.size() == 1) {
                        only = e;
                        break;
                    }
                    std::fputs(dispatch::command_error(e).message.c_str(), stderr);
                    status = exit_status(e.code());
                }
            }
            if (!freed.empty()) store::collect(ctx.store(), freed);
            if (only) throw *only;
            return status;
        };
    });
}

} // namespace gantry::cli
