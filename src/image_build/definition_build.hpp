// image_build/definition_build: what `gantry build -f FILE.def` does before the builder runs: a
// definition file read
// (deffile/), its {{ var }} substituted from --build-arg, each stage's base made a reference the
// builder takes (docker: the registry image; docker-daemon: an image of gantry's store, never
// pulled; localimage: a .sif or .sqsh file loaded as `gantry load` loads it; oci, oci-archive,
// docker-archive: an OCI layout or archive loaded as `gantry load` loads it) and the plan
// handed to the builder as instructions (image_build/definition.hpp). Its metadata directory
// lives in the store's tmp/ while the build runs.
#pragma once

#include "image_build/builder.hpp"
#include "store/store.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace gantry::image_build {

// Whether FILE (its name, TEXT its content) is an Apptainer definition file: a `.def` name, or
// a first line that is `Bootstrap: ...`.
bool is_definition(const std::string& file, const std::string& text);

class DefinitionBuild {
  public:
    // Fills BO from the definition in BO.dockerfile (named BO.dockerfile_name); BO.build_args
    // are its variables (and no Docker ARGs afterwards). TEST: run %test at the end.
    DefinitionBuild(store::Store& store, BuildOptions& bo, bool test);
    ~DefinitionBuild();
    DefinitionBuild(const DefinitionBuild&) = delete;
    DefinitionBuild& operator=(const DefinitionBuild&) = delete;

    // the --build-arg names no {{ }} used (the CLI warns about them)
    const std::vector<std::string>& unused_args() const { return unused_; }

  private:
    void plan(store::Store& store, BuildOptions& bo, bool test);
    std::filesystem::path meta_;
    std::vector<std::string> unused_;
};

} // namespace gantry::image_build
