// The GPU user space a Dockerfile installs itself, as opposed to the one its base image brings:
// a package whose name carries a stack's release, or a word of a RUN (a repository URL) that
// names it (each vendor's Stack::package_version and word_version), with the ARG and ENV values
// in effect. GL008 compares a framework wheel's build with it before the base image's
// (rules_gpu.cpp).
#pragma once

#include "lint/stacks.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gantry::lint {

struct InstalledStack {
    const Stack* stack = nullptr;
    Version version{0, 0};
    std::string evidence; // the package or URL that says so, as expanded
    int line = 0;         // the RUN instruction's first line
};

// What one command installs or configures, or nullopt: a versioned package of an install
// (apt-get, dnf, ...), else a word that names a release. ENV holds the values in effect.
std::optional<InstalledStack> installed_by(const Command& c, const Env& env,
                                           const std::vector<const Stack*>& stacks);

// The last stack installed by a RUN of STAGE before the instruction at BEFORE (a position in
// Dockerfile::instructions), or of the stages it is built FROM; nullopt when the Dockerfile
// installs none there.
std::optional<InstalledStack> installed_stack(const Build& b, int stage, std::size_t before,
                                              const std::vector<const Stack*>& stacks);

} // namespace gantry::lint
