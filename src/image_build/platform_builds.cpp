// image_build/platform_builds: `gantry build --platform A,B`: the platforms of the flag, one
// build each (build_one_platform, builder.cpp), the tags then naming all of them
// (store/platforms.hpp). Declared in image_build/builder.hpp.
#include "image_build/builder.hpp"
#include "image_build/options.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <set>

namespace gantry::image_build {

std::vector<std::string> build_platforms(const std::string& text) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    std::size_t at = 0;
    for (;;) {
        auto comma = text.find(',', at);
        std::string one(
            text::trim(text.substr(at, comma == std::string::npos ? comma : comma - at)));
        if (one.empty())
            throw Error(Errc::usage, "--platform " + text + " names an empty platform",
                        "give OS/ARCH[/VARIANT] values separated by commas: "
                        "--platform linux/amd64,linux/arm64");
        auto p = oci::Platform::parse(one).str();
        if (!seen.insert(p).second)
            throw Error(Errc::usage, "--platform " + text + " names " + p + " twice",
                        "name each platform once");
        out.push_back(one);
        if (comma == std::string::npos) return out;
        at = comma + 1;
    }
}

BuildResult build(store::Store& store, const BuildOptions& opt, engine::Caller caller) {
    require_utf8(opt.instructions ? "" : opt.dockerfile, opt.dockerfile_name, opt.build_args,
                 opt.labels);
    auto writer = store.writer_lock(); // gc waits: the intermediate states are named by nothing
    auto platforms =
        opt.platform.empty() ? std::vector<std::string>{} : build_platforms(opt.platform);
    if (platforms.size() < 2) return build_one_platform(store, opt, std::move(caller));
    // several platforms: one build each (the step cache keyed by each stage's base, so a
    // FROM --platform=$BUILDPLATFORM stage is built once), then one name for them all
    BuildResult all;
    std::vector<oci::Digest> manifests;
    for (const auto& p : platforms) {
        BuildOptions one = opt;
        one.platform = p;
        one.tags.clear();
        if (opt.progress) opt.progress("[" + oci::Platform::parse(p).str() + "]");
        BuildResult r = build_one_platform(store, one, caller);
        manifests.push_back(r.manifest);
        all.platforms.push_back({oci::Platform::parse(p), r.manifest});
        all.mode = r.mode;
        all.steps += r.steps;
        all.cached += r.cached;
        all.ran += r.ran;
    }
    std::string index = store::index_text(store, manifests);
    all.manifest = all.id = store.put_blob(index); // named below, else collected by prune
    for (const auto& t : opt.tags) {
        all.tags.push_back(store::normalize(t));
        store::set_images(store, all.tags.back(), manifests);
    }
    return all;
}

} // namespace gantry::image_build
