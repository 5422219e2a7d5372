// apptainer/sandbox: Apptainer's sandbox directories (`apptainer build --sandbox DIR SOURCE`):
// an image's root file system as a plain directory tree the user owns, /.singularity.d in it,
// which `gantry apptainer run|exec|shell|test|inspect DIR` runs (engine/apptainer_sandbox.cpp)
// and `build OUT.sif DIR` packs back into a SIF.
//
// Every source becomes a SIF first and the SIF's squashfs partition is unpacked, so one path
// reads hostile input: gantry's confined squashfs reader streams the tree as a tar
// (sqsh/image_tar.hpp) and layer::extract_tar writes it (names with "..", entries through a
// planted symlink and hard links out of the tree refused; openat2 RESOLVE_IN_ROOT). Rootless,
// every file is the caller's (its image owner not applied, not recorded) and setuid bits are
// dropped, as Apptainer's unprivileged sandbox build leaves them; as real root the image's
// owners are kept. The tree is written beside DIR under a temporary name and renamed into place
// when complete: an error or a kill leaves no DIR half-written.
#pragma once

#include <string>
#include <vector>

namespace gantry::apptainer {

// Whether PATH is a directory (Apptainer reads any directory as a sandbox image).
bool is_sandbox(const std::string& path);

// Apptainer's refusal of an existing build target (Error(conflict)) unless FORCE.
void refuse_existing_target(const std::string& target, bool force);

struct SandboxSource {
    std::string spec;                    // what `build` was given
    std::vector<std::string> build_args; // NAME=VALUE, for a definition file
    bool notest = false;                 // a definition file's %test not run
    bool no_https = false;               // oras:// over plain http
    // gantry's own command line (its path, and --root DIR when given): the definition file,
    // docker:// image and store image are written as a SIF by the gantry command that does it
    std::vector<std::string> gantry;
};

// `gantry apptainer build --sandbox DIR SOURCE`: SOURCE a SIF or squashfs file, a sandbox
// directory, a definition file, docker://REF, oras://REF or an image in gantry's store (a name
// that is no file). FORCE replaces an existing DIR (refuse_existing_target first). Errors: the
// source's (as the gantry command writing the SIF says them, exit status kept in Error(run_failed)
// when it fails), Error(invalid) for a hostile tree, Error(io) when DIR cannot be written.
void build_sandbox(const std::string& dir, const SandboxSource& source, bool force);

// The gantry command that writes SOURCE as a SIF at OUT: `build -f SPEC -o OUT` for a
// definition file (a path that exists, or ends in .def), `pull REF --format sif -o OUT` for
// docker://REF, `save NAME --format sif -o OUT` for a store image; Error(usage) for the schemes
// gantry does not read (library:// with a sentence naming oras://).
std::vector<std::string> sif_line(const SandboxSource& source, const std::string& out);

// `gantry apptainer build OUT.sif DIR`: the sandbox DIR packed as a squashfs (gensquashfs from
// squashfs-tools-ng; symlinks stored as links, never followed; rootless, every file root's, as
// Apptainer's unprivileged mksquashfs -all-root) and written as a SIF's primary system partition
// built for this host (sif/write.hpp), beside OUT, then renamed over it. Error(unsupported)
// naming the package when gensquashfs is missing; its message when it fails.
void sif_from_sandbox(const std::string& dir, const std::string& out);

// `gantry apptainer build OUT.sif SOURCE` (no --sandbox): a sandbox directory packed
// (sif_from_sandbox), a SIF or squashfs file unpacked as a sandbox beside OUT and packed again
// (Apptainer rebuilds an image it is given), an oras:// SIF pulled to OUT: written here, {}
// returned. A definition file, docker://REF or an image of gantry's store: the gantry command
// that writes it (sif_line without source.gantry), for the caller to run. An existing OUT is
// refused unless FORCE (refuse_existing_target).
std::vector<std::string> build_sif(const std::string& out, const SandboxSource& source, bool force);

// The squashfs file or SIF FILE unpacked into DIR (which must not exist) as above.
void unpack_sandbox(const std::string& file, const std::string& dir);

} // namespace gantry::apptainer
