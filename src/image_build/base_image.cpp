#include "image_build/base_image.hpp"

#include "store/platforms.hpp"
#include "util/error.hpp"

namespace gantry::image_build {

store::Image base_image(store::Store& store, const std::string& ref, bool pull,
                        const registry::PullOptions& pull_options, const oci::Platform* platform,
                        const std::function<void(const std::string&)>& say) {
    std::string stored;      // the platform of the store's image of another platform
    if (!pull && platform) { // a name holding several platforms: the stage's (store/platforms.hpp)
        try {
            if (auto md = store::name_image_for(store, store::normalize(ref), *platform))
                return store::read_image(store, *md);
        } catch (const Error& e) {
            if (e.code() != Errc::not_found && e.code() != Errc::usage && e.code() != Errc::invalid)
                throw;
        }
    }
    if (!pull) {
        try {
            auto found = store::find_image(store, ref);
            const auto& pl = found.config.platform;
            if (!platform || pl.architecture.empty() || platform->accepts(pl)) return found;
            stored = pl.str();
            say(ref + " in the store is a " + stored + " image: pulling it for " + platform->str());
        } catch (const Error& e) {
            if (e.code() != Errc::not_found) throw;
        }
    }
    say("pulling " + ref);
    auto po = pull_options;
    if (platform) po.platform = *platform;
    try {
        auto r = registry::pull(store, ref, po); // added to the name beside its other platforms
        return store::read_image(store, r.manifest);
    } catch (const Error& e) {
        if (stored.empty()) throw;
        throw Error(e.code(),
                    ref + " in the store is a " + stored + " image, and pulling it for " +
                        platform->str() + " failed: " + e.message(),
                    "build for " + stored + " (--platform " + stored + "), or name an image of " +
                        platform->str());
    }
}

} // namespace gantry::image_build
