// apptainer/inspect: `gantry apptainer inspect` and `run-help`, as Apptainer prints them
// (cmd/internal/cli/inspect.go, run_help_linux.go): a SIF's labels, definition file, runscript,
// startscript, test script, help and environment scripts. The files are read from the SIF's
// partition by a confined process (sqsh::SquashFiles), the definition file from its Deffile
// object, the labels as a run reads them (the JSON.Labels object, then labels.json); a sandbox
// directory's inside it (rootfs::DirFiles: a symlink never leads out of the tree).
#pragma once

#include <string>

namespace gantry::apptainer {

// What to show; none of them set: the labels (Apptainer's default).
struct InspectWhat {
    bool labels = false, deffile = false, runscript = false, startscript = false, test = false,
         environment = false, helpfile = false;
    bool json = false;      // Apptainer's JSON document ({"data":{"attributes":{...}},"type":...})
    bool all = false;       // everything, as JSON
    std::string app;        // --app NAME: the SCIF app's files (/scif/apps/NAME/scif) instead
    bool list_apps = false; // --list-apps: the SCIF apps' names, one a line
};

// The text `apptainer inspect` prints for the SIF or sandbox directory FILE. Errors as opening it
// for a run does (not_found, invalid, unsupported).
std::string inspect(const std::string& file, InspectWhat what);

// What `apptainer run-help [--app APP] FILE` prints: its %help (APP's %apphelp), else "No help
// sections were defined for this image". Error(not_found) naming an APP the image lacks.
std::string run_help(const std::string& file, const std::string& app = {});

} // namespace gantry::apptainer
