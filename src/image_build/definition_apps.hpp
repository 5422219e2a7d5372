// image_build/definition_apps: a definition file's SCIF apps (%appinstall, %apprun, %appenv,
// %applabels, %appfiles, %apptest, %apphelp, %appstart NAME), laid out as Apptainer's build
// lays them out (internal/pkg/build/apps/apps.go): /scif/apps/NAME/{bin,lib} and its metadata
// in /scif/apps/NAME/scif (env/01-base.sh with the SCIF_ variables, env/90-environment.sh,
// runscript, startscript, test, runscript.help, labels.json with SCIF_APP_NAME), the data
// directories /scif/data/NAME/{input,output}, and /.singularity.d/env/94-appsbase.sh exporting
// each app's SCIF_APP*_NAME paths. definition.cpp copies these files in before %post, each
// %appfiles into /scif/apps/NAME, and runs each %appinstall after %post in /scif/apps/NAME with
// its 01-base.sh sourced, as Apptainer appends it to %post.
#pragma once

#include "deffile/deffile.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gantry::image_build {

struct StageApps {
    std::vector<std::string> order; // the apps, in the order their first section appears
    // app -> section kind ("install", "run", ...) -> its section
    std::map<std::string, std::map<std::string, const deffile::Section*>> sections;
    const deffile::Section* section(const std::string& app, const std::string& kind) const;
};

StageApps stage_apps(const deffile::Stage& st);

// Writes the apps' files and directories under ROOT (a directory copied over /); FILE names the
// definition file in %applabels' errors.
void write_app_files(const StageApps& apps, const std::filesystem::path& root,
                     const std::string& file);

// The shell of NAME's %appinstall BODY, as Apptainer appends it to %post (scifInstallBase).
std::string app_install_script(const std::string& name, const std::string& body);

} // namespace gantry::image_build
