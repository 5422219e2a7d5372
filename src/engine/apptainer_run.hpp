// engine/apptainer_run: what a run takes from Apptainer beyond the image's defaults
// (docs/apptainer.md). A SIF file's run (named, or found in a store as NAME.sif) gets the
// variables Apptainer's runtime sets (APPTAINER_CONTAINER, APPTAINER_NAME, their SINGULARITY_
// twins, APPTAINER_ENVIRONMENT); `run -d FILE.sif` without a command runs the image's
// startscript, as `apptainer instance start` does (with --name, APPTAINER_INSTANCE); `gantry
// test IMAGE [ARGS]` runs /.singularity.d/test as `apptainer test` does. The caller's
// APPTAINERENV_X=V (and SINGULARITYENV_X=V, which an APPTAINERENV_X of the same name overrides)
// set X in a SIF's run after the image's environment and before -e, as Apptainer's precedence
// has them; APPTAINERENV_PREPEND_PATH and _APPEND_PATH extend the image's PATH.
#pragma once

#include "engine/run_request.hpp"
#include "rootfs/run_view.hpp"
#include "sqsh/facts.hpp"

#include <string>
#include <vector>

namespace gantry::engine {

// The APPTAINERENV_ / SINGULARITYENV_ entries of ENVIRON ("K=V" strings, as environ(7)), in the
// order they apply: the SINGULARITYENV_ ones, then the APPTAINERENV_ ones, each as "X=V" with
// the prefix removed (PREPEND_PATH and APPEND_PATH kept as named). A name left empty by the
// prefix is skipped.
std::vector<std::string> apptainer_env_from(const char* const* environ);

// Applies the above to VIEW's config for the request R. FACTS and FILE: the squashfs file the
// run mounts (null and "" for a store image). Error(usage) for `test` with --entrypoint;
// Error(run_failed) for `test` of a SIF without /bin/sh (the action runs through it).
void apply_apptainer(rootfs::RunView& view, const RunRequest& r, const sqsh::Facts* facts,
                     const std::string& file);

// `gantry apptainer` of a sandbox directory (Apptainer's `build --sandbox`): whether P's image
// names a directory; if so it is read as a SIF's partition is (its /.singularity.d metadata and
// /etc/passwd, every path resolved inside it: rootfs/dir_files.hpp) into P's view, and
// P.sandbox set. Error(usage) for --writable of anything but a directory the caller may write.
struct Prepared;
bool read_apptainer_sandbox(Prepared& p);

// `gantry apptainer`'s /etc/passwd, as Apptainer's (`config passwd = yes`,
// internal/pkg/util/fs/files/passwd.go): the image's, the entry of the uid the process runs as
// given the caller's name and the run's HOME (root keeps its own name), or the caller's entry
// appended; written into the container's scratch directory and bound read-only. Nothing for
// other doors, or an image without /etc/passwd.
void add_apptainer_passwd(Prepared& p);

} // namespace gantry::engine
