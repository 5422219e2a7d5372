#include "cli/context.hpp"
#include "lazy/store_layers.hpp"
#include "oci/reference.hpp"
#include "store/gc.hpp"
#include "store/images.hpp"
#include "util/error.hpp"

#include <cstdio>

namespace gantry::cli {

namespace {

// Removes one image reference (or, by ID, the whole image) and returns the manifest whose
// content may now be unreferenced.
std::optional<oci::Digest> remove_one(store::Store& store, const std::string& arg, bool force) {
    std::string as_ref;
    try {
        auto r = oci::Reference::parse(arg);
        if (store.refs().count(r.str())) as_ref = r.str();
    } catch (const Error&) {
    }
    oci::Digest md = as_ref.empty() ? store::resolve(store, arg) : store.refs().at(as_ref);
    for (auto& [holder, d] : store.holds())
        if (d == md && !force)
            throw Error(Errc::conflict, "image " + arg + " is used by container " + holder,
                        "remove the container first (`gantry rm " + holder + "`), or use --force");
    if (!force && store.images_in_use().count(md))
        throw Error(Errc::conflict, "image " + arg + " is used by a running container",
                    "wait for it to exit (`gantry ps` lists named ones), or use --force");
    std::vector<std::string> names;
    for (auto& [k, v] : store.refs())
        if (v == md) names.push_back(k);
    if (as_ref.empty() && names.size() > 1 && !force)
        throw Error(Errc::conflict,
                    "image " + arg + " is referenced by " + std::to_string(names.size()) +
                        " names (" + names[0] + ", " + names[1] +
                        (names.size() > 2 ? ", ..." : "") + ")",
                    "remove the names one by one, or use --force to remove them all");
    std::vector<std::string> doomed = as_ref.empty() ? names : std::vector<std::string>{as_ref};
    bool last = false;
    store.update_refs([&](store::RefMap& m) {
        for (auto& n : doomed) m.erase(n);
        last = true;
        for (auto& [k, v] : m)
            if (v == md) last = false;
    });
    for (auto& n : doomed) std::printf("Untagged: %s\n", n.c_str());
    if (!last) return std::nullopt;
    std::printf("Deleted: %s\n", md.str().c_str());
    return md;
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
                    std::fprintf(stderr, "gantry: error: %s\n", e.message().c_str());
                    if (!e.hint().empty()) std::fprintf(stderr, "hint: %s\n", e.hint().c_str());
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
