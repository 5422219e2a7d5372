#include "engine/apptainer_run.hpp"

#include "sif/metadata.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace gantry::engine {

namespace {

nlohmann::json& apptainer_config_of(rootfs::RunView& view) {
    auto& raw = view.image.config.raw;
    if (!raw.is_object()) raw = nlohmann::json::object();
    if (!raw.contains("config") || !raw["config"].is_object())
        raw["config"] = nlohmann::json::object();
    return raw["config"];
}

void apptainer_add_env(nlohmann::json& config, const std::vector<std::string>& entries) {
    if (!config.contains("Env") || !config["Env"].is_array())
        config["Env"] = nlohmann::json::array();
    for (auto& e : entries) config["Env"].push_back(e);
}

} // namespace

void apply_apptainer(rootfs::RunView& view, const RunRequest& r, const sqsh::Facts* facts,
                     const std::string& file) {
    // a SIF file: classic (Apptainer's metadata read) or OCI-SIF (its OCI config the run's)
    const bool sif = facts && (facts->sif || facts->oci_sif);
    if (r.apptainer_test && r.entrypoint)
        throw Error(Errc::usage,
                    "gantry test runs the image's /.singularity.d/test: --entrypoint would "
                    "replace it",
                    "drop --entrypoint, or run the command with gantry run");
    if (!sif && !r.apptainer_test) return;
    auto& config = apptainer_config_of(view);
    if (sif)
        apptainer_add_env(config,
                          sif::runtime_env(fs::stdfs::absolute(file).lexically_normal().string()));
    if (r.apptainer_test) {
        if (sif && facts->sif && !facts->sif->shell)
            throw Error(Errc::run_failed,
                        file + " has no /bin/sh, which gantry test runs the image's " +
                            sif::kTestscript + " through (as Apptainer's action script)",
                        "run the test as a command: gantry run --rm " + file + " " +
                            sif::kTestscript);
        config["Entrypoint"] = sif::action_entrypoint("test");
        config["Cmd"] = nlohmann::json::array();
        return;
    }
    // `apptainer instance start`: a detached run with no command of an image with a startscript
    if (!r.detach || !r.command.empty() || r.entrypoint || !facts->sif || !facts->sif->startscript)
        return;
    if (!facts->sif->shell)
        throw Error(Errc::run_failed,
                    file + " has no /bin/sh, which runs its " + sif::kStartscript +
                        " (as Apptainer's action script)",
                    "give the command to run: gantry run -d " + file + " COMMAND");
    log::note("running " + file + "'s " + sif::kStartscript +
              " (a detached run without a command, as `apptainer instance start`)");
    config["Entrypoint"] = sif::action_entrypoint("start");
    config["Cmd"] = nlohmann::json::array();
    if (!r.name.empty())
        apptainer_add_env(config,
                          {"APPTAINER_INSTANCE=" + r.name, "SINGULARITY_INSTANCE=" + r.name});
}

} // namespace gantry::engine
