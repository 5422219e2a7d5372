// The build plan of `gantry build`: a parsed Dockerfile turned into stages before anything runs.
// It owns the BuildKit rules that decide what a build will do: ARG before the first FROM (global
// build arguments, their defaults expanded in order), the predefined platform arguments
// (TARGETPLATFORM, TARGETOS, TARGETARCH, BUILDPLATFORM...), each FROM's base (an image reference,
// `scratch`, or an earlier stage by name or index), and the stages the target needs (FROM,
// COPY --from and RUN --mount from= references, transitively), and each stage's platform (FROM
// --platform, else the build's --platform, else the host's). Unknown instructions, malformed
// platforms and unknown targets are refused with "FILE:LINE:COL: ..." before any step runs.
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "dockerfile/words.hpp"
#include "oci/image.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::image_build {

using Env = dockerfile::Env;

struct Stage {
    int index = 0;
    std::string name;       // the AS name, lower case ("" when unnamed)
    std::string base;       // the FROM reference, expanded
    int base_stage = -1;    // index of the stage FROM names, or -1 (image or scratch)
    bool scratch = false;   // FROM scratch
    int line = 0;           // the FROM line
    oci::Platform platform; // FROM --platform, else the build's (its base is pulled for it)
    std::vector<dockerfile::Instruction> steps; // the instructions after FROM, in order
    std::vector<int> deps; // stages this one reads (FROM, COPY --from, RUN --mount from=)
};

struct PlanOptions {
    std::string file = "Dockerfile";               // the name used in error messages
    std::string target;                            // --target ("" = the last stage)
    std::map<std::string, std::string> build_args; // --build-arg K=V
    std::string platform;                          // --platform OS/ARCH[/VARIANT] ("": the host's)
};

struct Plan {
    std::vector<Stage> stages;
    Env global_args;        // ARGs declared before the first FROM, with their values
    Env predefined;         // TARGETPLATFORM, BUILDPLATFORM, ...
    oci::Platform platform; // the build's target platform (--platform, else the host's)
    int target = -1;        // index of the target stage
    std::vector<int> order; // the stages to build, dependencies first, target last
    char escape = '\\';
};

// The predefined platform arguments, docker's: TARGETPLATFORM, TARGETOS, TARGETARCH,
// TARGETVARIANT of TARGET, BUILDPLATFORM, BUILDOS, BUILDARCH, BUILDVARIANT of this host.
Env predefined_args(const oci::Platform& target);

// Parses the Dockerfile text; a syntax error becomes Error(invalid, "FILE:LINE:COL: ...").
dockerfile::Dockerfile parse(std::string_view text, const PlanOptions& opt);

// Throws Error(usage) for a malformed --platform (Error(invalid) with "FILE:LINE:COL: ..." for a
// FROM --platform), Error(unsupported) for several platforms in one value, Error(invalid) with
// "FILE:LINE:COL: ..." for an unknown instruction or a malformed FROM, Error(not_found) for an
// unknown --target or stage reference.
Plan make_plan(const dockerfile::Dockerfile& df, const PlanOptions& opt);

// Resolves a stage reference (name, case-insensitive, or index) among the first `before` stages;
// -1 when ref names no stage (it is then an image reference).
int find_stage(const std::vector<Stage>& stages, std::string_view ref, int before);

} // namespace gantry::image_build
