// sif/metadata: what Apptainer keeps beside a SIF's root file system, as the run defaults it
// becomes: the labels (a JSON.Labels object, /.singularity.d/labels.json), the environment
// scripts (/.singularity.d/env/*.sh) and the runscript (/.singularity.d/runscript).
//
// The environment scripts are sourced, not evaluated by gantry: they are shell (Apptainer's own
// 99-base.sh has conditionals, a %environment section may hold any shell), and only a shell
// gives them their meaning. So a SIF whose root has /bin/sh and env scripts gets an entrypoint
// that sources them in Apptainer's order (the glob's, as Apptainer's action scripts do) and then
// execs the command, as `apptainer exec` does; the runscript is the default command, as
// `apptainer run` runs it. docs/apptainer.md says what differs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::sif {

inline constexpr const char* kLabelsFile = ".singularity.d/labels.json";
inline constexpr const char* kEnvDir = ".singularity.d/env";
inline constexpr const char* kRunscript = "/.singularity.d/runscript";
inline constexpr const char* kStartscript = "/.singularity.d/startscript";
inline constexpr const char* kTestscript = "/.singularity.d/test";
inline constexpr std::size_t kMaxLabels = 1u << 20; // bytes of one labels document

// What a run needs from a SIF's root and objects.
struct Metadata {
    nlohmann::json labels = nlohmann::json::object(); // names to strings
    bool runscript = false;                           // /.singularity.d/runscript is there
    bool startscript = false;                         // /.singularity.d/startscript is there
    bool shell = false;                               // /bin/sh is there
    bool env_scripts = false;                         // /.singularity.d/env holds a *.sh
};

// Adds the labels of the JSON document TEXT (an object; a value that is not a string is kept
// as its JSON text) to INTO, later documents overriding earlier ones. Error(invalid) naming WHAT
// when TEXT is not a JSON object or is larger than kMaxLabels.
void add_labels(nlohmann::json& into, std::string_view text, const std::string& what);

// The entrypoint that sources the environment scripts, then execs its arguments.
nlohmann::json env_entrypoint();

// The entrypoint of Apptainer's `test` and `instance start` actions (ACTION "test" or
// "start"), as its action script runs them: the environment scripts sourced, then
// /.singularity.d/test (startscript) exec'd with the entrypoint's arguments when it is
// executable; without one, `test` says so on stderr and exits 0, `start` exits 0. With
// $SINGULARITY_APPNAME (--app), the app's own test or startscript (/scif/apps/NAME/scif/), and
// "No Apptainer test|startscript for contained app: NAME" with status 1 without one. ACTION "run"
// and "shell" are Apptainer's run.sh and shell.sh (internal/pkg/build/sources/): the runscript
// with the arguments, else "No Apptainer runscript found, executing /bin/sh"; $SINGULARITY_SHELL,
// else /bin/bash --norc with PS1 "Apptainer NAME:\w> ", else /bin/sh.
nlohmann::json action_entrypoint(std::string_view action);

// The variables Apptainer's runtime sets in a container of the image file PATH (absolute):
// APPTAINER_CONTAINER (the path) and APPTAINER_NAME (its base name), each also as SINGULARITY_,
// and APPTAINER_ENVIRONMENT / SINGULARITY_ENVIRONMENT (/.singularity.d/env/91-environment.sh),
// which its action script exports.
std::vector<std::string> runtime_env(const std::string& path);

// The OCI image config (the whole document: architecture, os, config) of a SIF whose partition
// is built for ARCH ("unknown": none is recorded) with metadata MD.
nlohmann::json image_config(const Metadata& md, const std::string& arch);

// /.singularity.d/env/10-docker2singularity.sh as Apptainer's build writes it for an image of
// the docker kind before %post (internal/pkg/build/sources/conveyorPacker_oci.go, insertEnv):
// each of ENV's NAME=VALUE (an OCI config's Env) as `export NAME="${NAME:-"VALUE"}"` (PATH:
// `export PATH="VALUE"`), VALUE with \ " $ ` escaped; a NAME that is not a shell name skipped.
std::string docker_env_script(const nlohmann::json& env);

// A file of the root Apptainer reads (a path relative to the root, its content and mode).
struct File {
    std::string path;
    std::string content;
    unsigned mode = 0644;
    bool dir = false; // a directory (no content)
};

// What `save --format sif` adds to the root so that Apptainer runs the image as its OCI
// config DOC (the whole config document) says, as Apptainer's own conversion of a docker image
// writes them: labels.json (the Labels), env/10-docker2singularity.sh (each Env entry exported,
// single-quoted), the runscript (Entrypoint then Cmd, or Entrypoint then the runscript's
// arguments when it is given any; in WorkingDir when one is set); no runscript when the command
// is the image's own /.singularity.d/runscript (an image built from a definition file).
// Error(invalid) for an Env entry that is not NAME=VALUE with a shell-safe NAME.
std::vector<File> apptainer_files(const nlohmann::json& doc);

} // namespace gantry::sif
