// image_build/definition: an Apptainer definition file (deffile/, parsed and substituted) as
// gantry build's own plan: the same instructions a Dockerfile gives the builder, numbered with
// the definition file's lines, so stages, the step cache, RUN steps and COPY layers are the
// Dockerfile path's (builder.hpp). Per stage, in Apptainer's order:
//   Bootstrap/From   FROM (the reference BASE gives: docker's registry image, a store image, a
//                    loaded .sif/.sqsh file or archive) or FROM scratch; Stage: is AS NAME
//   %files from S    COPY --from=S SRC DST (DST defaults to SRC)
//   %files           COPY SRC DST from the build context (a relative SRC as Apptainer reads it
//                    from the current directory; an absolute one must lie inside the context)
//   %post            RUN ["/bin/sh","-ex","-c",PRELUDE BODY] (Apptainer: /bin/sh -ex, in /),
//                    or `%post -c SHELL ARGS`: [SHELL, ARGS..., "-c", PRELUDE BODY]; PRELUDE
//                    is `cd /`, /.singularity.d/env made, $APPTAINER_ENVIRONMENT (and
//                    $SINGULARITY_ENVIRONMENT) exported as env/91-environment.sh, as Apptainer's
//   %environment, %runscript, %startscript, %test, %help, %labels
//                    Apptainer's files under /.singularity.d (env/90-environment.sh, runscript,
//                    startscript, test, runscript.help, labels.json), written into a directory
//                    of their own and copied in as one layer (a named context)
//   %labels          LABEL (the image's labels)
//   %runscript       ENTRYPOINT: the env-sourcing entrypoint (sif::env_entrypoint), CMD the
//                    runscript: `gantry run IMAGE` runs it, `gantry run IMAGE CMD` runs CMD,
//                    each after /.singularity.d/env/*.sh, as `apptainer run`/`exec`
// The last stage is the image. With %environment and no %runscript its Entrypoint is prefixed
// by the env-sourcing one (its Cmd kept); %test runs on it at the end (test_argv).
#pragma once

#include "deffile/deffile.hpp"
#include "dockerfile/dockerfile.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gantry::image_build {

// RUN's flag of the step a definition file's stage of the docker kind runs before %post: the
// builder gives it $GANTRY_DOCKER_ENV_SCRIPT, sif::docker_env_script of the stage's Env then
inline constexpr const char* kDockerEnvFlag = "gantry-docker-env";

struct DefinitionOptions {
    std::string file;               // the definition file's name in messages
    std::filesystem::path context;  // absolute: where %files sources are read
    std::filesystem::path meta_dir; // an empty directory for the /.singularity.d files
    bool test = true;               // run %test at the end (false: --notest)
    // the definition file as written: /.singularity.d/Singularity of each stage's image, as
    // Apptainer's build writes it (internal/pkg/build/metadata.go, insertDefinition)
    std::string text;
    // %pre and %setup (the section's name): run the section's script on the host with ROOTFS
    // (an empty directory) as $APPTAINER_ROOTFS; what it leaves there is added over the stage's
    // image. Throws its error.
    std::function<void(const deffile::Section&, const std::filesystem::path& rootfs)> setup;
    // A stage's base image as a reference FROM takes (not called for scratch)
    std::function<std::string(const deffile::Stage&)> base;
};

struct DefinitionPlan {
    dockerfile::Dockerfile instructions;
    std::map<std::string, std::string> contexts; // named contexts: COPY --from=NAME reads DIR
    std::vector<std::string> entrypoint_prefix;  // before the image's Entrypoint
    std::vector<std::string> test_argv;          // %test, run on the image at the end
};

// Error(invalid) "FILE:LINE: ..." for a %files from naming no earlier stage, a pattern outside
// the context that is not in its last part, a pattern without a destination.
DefinitionPlan plan_definition(const deffile::Definition& def, const DefinitionOptions& opt);

} // namespace gantry::image_build
