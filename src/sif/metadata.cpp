#include "sif/metadata.hpp"

#include "util/error.hpp"
#include "util/json.hpp"

namespace gantry::sif {

void add_labels(nlohmann::json& into, std::string_view text, const std::string& what) {
    if (text.size() > kMaxLabels)
        throw Error(Errc::invalid,
                    what + " is over " + std::to_string(kMaxLabels >> 20) + " MiB of labels",
                    "write smaller labels");
    auto doc = safe_json::parse(text, what);
    if (!doc.is_object())
        throw Error(Errc::invalid, what + " is not a JSON object of labels",
                    "write it as {\"name\": \"value\", ...}");
    for (auto& [k, v] : doc.items()) into[k] = v.is_string() ? v.get<std::string>() : v.dump();
}

nlohmann::json env_entrypoint() {
    return {"/bin/sh", "-c",
            "for f in /.singularity.d/env/*.sh; do if [ -f \"$f\" ]; then . \"$f\"; fi; done; "
            "exec \"$@\"",
            "/.singularity.d/actions/exec"};
}

nlohmann::json image_config(const Metadata& md, const std::string& arch) {
    nlohmann::json config = {
        {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}};
    if (!md.labels.empty()) config["Labels"] = md.labels;
    if (md.shell && md.env_scripts) config["Entrypoint"] = env_entrypoint();
    if (md.runscript)
        config["Cmd"] = {kRunscript};
    else if (md.shell)
        config["Cmd"] = {"/bin/sh"}; // `apptainer run` of an image without one starts a shell
    nlohmann::json doc = {{"os", "linux"}, {"config", config}};
    if (arch != "unknown") doc["architecture"] = arch;
    return doc;
}

} // namespace gantry::sif
