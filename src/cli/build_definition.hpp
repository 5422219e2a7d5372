// cli/build_definition: `gantry build -f FILE.def`'s part in the CLI: a definition file read
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

namespace gantry::cli {

// Whether FILE (its name, TEXT its content) is an Apptainer definition file: a `.def` name, or
// a first line that is `Bootstrap: ...`.
bool is_definition(const std::string& file, const std::string& text);

class DefinitionBuild {
  public:
    // Fills BO from the definition in BO.dockerfile (named BO.dockerfile_name); BO.build_args
    // are its variables (and no Docker ARGs). Prints a warning for a --build-arg no {{ }} used.
    DefinitionBuild(store::Store& store, image_build::BuildOptions& bo, bool test, bool quiet);
    ~DefinitionBuild();
    DefinitionBuild(const DefinitionBuild&) = delete;
    DefinitionBuild& operator=(const DefinitionBuild&) = delete;

  private:
    void plan(store::Store& store, image_build::BuildOptions& bo, bool test, bool quiet);
    std::filesystem::path meta_;
};

} // namespace gantry::cli
