// A GPU vendor's software stack (its toolkit: the libraries a framework build links and a base
// image carries) as the rules that compare stacks see it: GL001's development images, GL002's
// SDK packages, the stack GL003/GL007/GL012 name, GL008's framework builds against the stack the
// base image has or the Dockerfile installs. Each vendor declares its own (RuleSet::stack, in its
// folder under gpu_vendors/); these rules iterate over the declared stacks and name none.
#pragma once

#include "lint/lint.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gantry::lint {

using Version = std::pair<int, int>; // major, minor

// What GL001 says of a development image a stack recognises by name whatever its tag: the words
// after "is built on IMAGE" and the fix.
struct DevelImage {
    std::string what; // ", a ... development image: ..."
    std::string fix;
};

struct Stack {
    const char* name = "";   // "CUDA": "the base image X has CUDA 12.1"
    const char* vendor = ""; // "NVIDIA": "it cannot use NVIDIA GPUs"

    // -- base images --
    // The variable its images set to the release (ENV CUDA_VERSION), the last in a stage's chain.
    const char* version_env = "";
    // The release a base image's repository and tag name ("nvidia/cuda", "12.1.0-devel"),
    // before the variable. Required.
    std::optional<Version> (*tag_version)(const std::string& repository,
                                          const std::string& tag) = nullptr;
    // A repository of this stack whatever its tag says ("rocm/pytorch"); checked before any
    // stack's versions when lint tells which stack a stage has. nullptr: none by name.
    bool (*repository)(const std::string& repository) = nullptr;
    // Words that make a repository a GPU image, for GL001's devel tags ("cuda", "nvidia").
    std::vector<const char*> image_words;
    // GL001 for a development image known by name (nullptr: only a devel tag says it).
    std::optional<DevelImage> (*devel_image)(const BaseImage& base) = nullptr;

    // -- what a Dockerfile installs --
    // The release a package's name carries (cuda-toolkit-12-1), or nullopt.
    std::optional<Version> (*package_version)(const std::string& package) = nullptr;
    // The release a word of a RUN command names (a repository URL), or nullopt. nullptr: none.
    std::optional<Version> (*word_version)(const std::string& word) = nullptr;
    // GL002: an SDK package of this stack (compilers, headers: not its run-time packages).
    bool (*sdk_package)(const std::string& package) = nullptr;
    // GL002: what a command of the vendor's own installer puts the SDK in with, as reported
    // ("tool --usecase=sdk"); empty when nothing. nullptr: no such installer.
    std::vector<std::string> (*sdk_command)(const Command& c) = nullptr;
    // GL002's fix when the stage has this stack (nullptr: the generic multi-stage fix).
    const char* multistage_fix = nullptr;

    // -- GL008: framework wheels (torch, jaxlib) --
    // A regular-expression fragment matching this stack's local version tags ("cu\\d{2,4}").
    const char* wheel_tag = "";
    // The release a local version tag names ("cu121" -> 12.1), or nullopt.
    std::optional<Version> (*wheel_version)(const std::string& tag) = nullptr;
    // The tag of a release's build ({12, 1} -> "cu121").
    std::string (*tag_of)(Version v) = nullptr;
    // The build a wheel index or a wheel's directory names ("cu121"), "" for none of this stack.
    std::string (*index_build)(const std::string& url) = nullptr;
    // How to install the build for release V, the fix's first half: for a wheel of this stack
    // of another release (same_stack), or of another stack or CPU-only.
    std::string (*install_build)(Version v, bool same_stack) = nullptr;
    // "CPU-only build": what a CPU-only wheel is called on a base of this stack.
    const char* cpu_only = "CPU-only build";
    // What two releases of this stack in one image mean: WHEEL's and the base's.
    std::string (*two_releases)(Version wheel, Version base) = nullptr;
    // The release of a torch version's default wheel on PyPI (nullptr: PyPI's torch is no build
    // of this stack).
    std::optional<Version> (*pypi_torch)(const std::string& version) = nullptr;
    // conda packages pinned to this stack's release ("pytorch-cuda|cudatoolkit"), as a regular
    // expression alternation; "" for none.
    const char* conda_pins = "";
};

// The declared stacks of the rule sets, in their order (registry order: the first is the one
// named where a stage's stack is unknown).
std::vector<const Stack*> stacks(const Options& opt);

// "12.1"
std::string version_text(Version v);

// The release STACK has in a stage's chain: its base image's tag, else the last ENV of its
// version variable; nullopt if unknown.
std::optional<Version> stack_version(const Build& b, int stage, const Stack& stack);

// The stack a stage has: the one whose repository the external base is, else the first (in
// STACKS' order) whose release is known there; nullptr when none.
const Stack* stage_stack(const Build& b, int stage, const std::vector<const Stack*>& stacks);

// The stack's name for a stage's messages: stage_stack's, else the first declared ("GPU" when
// none is).
const char* stack_name(const Build& b, int stage, const std::vector<const Stack*>& stacks);

} // namespace gantry::lint
