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
std::vector<oci::Digest> remove_one(store::Store& store, const std::string& arg, bool force,
                                    const std::optional<oci::Platform>& platform) {
    auto r = store::remove_image(store, arg, force, platform);
    for (auto& n : r.untagged) std::printf("Untagged: %s\n", n.c_str());
    for (auto& d : r.deleted) std::printf("Deleted: %s\n", d.str().c_str());
    return r.deleted;
}

} // namespace

void register_rmi(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> refs;
        bool force = false;
        std::string platform;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("rmi", "Remove images");
    cmd->add_option("image", o->refs, "Images (names or IDs)")->required();
    cmd->add_flag("-f,--force", o->force,
                  "Remove an image even if several names or a container use it");
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT]: remove only this platform's image of each name, the "
                    "name's other platforms kept (docs/platforms.md)");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            std::optional<oci::Platform> platform;
            if (!o->platform.empty()) platform = oci::Platform::parse(o->platform);
            std::set<oci::Digest> freed;
            int status = 0;
            std::optional<Error> only; // one image: its error is reported once, by main
            for (auto& r : o->refs) {
                try {
                    // a lazily pulled image: its record and local copies (lazy/store_layers.hpp)
                    if (!platform && lazy::remove_named(ctx.store(), r)) {
                        std::printf("Removed lazily pulled image: %s\n", r.c_str());
                        if (!lazy::in_store(ctx.store(), r)) continue;
                    }
                    for (auto& md : remove_one(ctx.store(), r, o->force, platform))
                        freed.insert(md);
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
