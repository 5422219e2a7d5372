#include "image_build/finish.hpp"

#include <algorithm>

namespace gantry::image_build {

void finish_target(store::Store& store, WorkImage& image, const BuildOptions& opt,
                   RunSettings& run) {
    auto& config = image.run_config();
    for (const auto& [k, v] : opt.labels) config["Labels"][k] = v;
    if (!opt.entrypoint_prefix.empty()) {
        std::vector<std::string> entry;
        if (config.contains("Entrypoint") && config["Entrypoint"].is_array())
            entry = config["Entrypoint"].get<std::vector<std::string>>();
        const auto& pre = opt.entrypoint_prefix;
        if (entry.size() < pre.size() || !std::equal(pre.begin(), pre.end(), entry.begin()))
            entry.insert(entry.begin(), pre.begin(), pre.end());
        config["Entrypoint"] = entry;
    }
    if (opt.test_argv.empty()) return;
    if (opt.progress) opt.progress("[test] " + opt.test_argv.back());
    RunStep rs;
    rs.argv = opt.test_argv;
    rs.network = opt.network;
    rs.what = "the test (" + opt.test_argv.back() + ")";
    run_step(store, image, rs, run); // its layer, if it wrote any, is not the image's
    if (opt.progress) opt.progress("  passed");
}

} // namespace gantry::image_build
