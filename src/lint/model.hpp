// The build seen by the rules: stages with their resolved base images (global ARGs substituted
// in FROM), which stage ships (the final one, or --target, and the stages it is built FROM), and
// each instruction with the ARG/ENV values in effect, its RUN commands and its mounts.
#pragma once

#include "dockerfile/dockerfile.hpp"
#include "dockerfile/words.hpp"
#include "lint/shell.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::lint {

// The rules read the Dockerfile model of dockerfile/ (parser, instructions, words): its names
// as the rules use them.
using dockerfile::Dockerfile;
using dockerfile::Env;
using dockerfile::expand_word;
using dockerfile::Flag;
using dockerfile::Heredoc;
using dockerfile::Instruction;
using dockerfile::Mount;
using dockerfile::parse_mount;
using dockerfile::split_words;

struct BaseImage {
    std::string written;  // as in the Dockerfile ("nvidia/cuda:${CUDA}-devel-ubuntu22.04")
    std::string resolved; // after ARG substitution
    bool known = true;    // every variable had a value
    int stage_ref = -1;   // index of the earlier stage it names, or -1
    bool scratch = false;
    std::string name;   // repository without registry defaults: "nvidia/cuda", "ubuntu"
    std::string tag;    // "" when untagged
    std::string digest; // "" when not pinned
};

struct Step {
    const Instruction* in = nullptr; // the instruction (ONBUILD: the wrapped one)
    std::size_t index = 0;           // position in Dockerfile::instructions
    bool onbuild = false;
    Env env;                       // ARG and ENV values in effect at this instruction
    std::vector<Command> commands; // RUN: the shell commands (heredoc scripts included)
    std::vector<Mount> mounts;     // RUN --mount
};

struct Stage {
    int index = 0;
    std::string name; // lower case, "" when unnamed
    const Instruction* from = nullptr;
    BaseImage base;
    bool ships = false; // the target stage or an ancestor of it through FROM <stage>
    std::vector<Step> steps;
    std::string label() const { return name.empty() ? std::to_string(index) : name; }
};

struct Build {
    const Dockerfile* file = nullptr;
    std::vector<Stage> stages;
    int target = -1;
    // The chain of stages from the target down to its external base (target first).
    std::vector<int> chain() const;
};

// A version component as written in a tag or a pin: 1 to 6 decimal digits (so no overflow, no
// exception); nullopt otherwise. Tags and pins are hostile input ("4294967296.1.0-devel").
std::optional<int> version_number(std::string_view digits);
// Both components, or nullopt when either is not a version_number.
std::optional<std::pair<int, int>> version_pair(std::string_view major, std::string_view minor);

// The version (major, minor) a stage's chain states: the first base image whose repository and
// tag TAG_FORMS reads a version from, else the last ENV ENV_NAME in the chain ("12.1.0" ->
// 12.1); nullopt if unknown. What a vendor's stack (lint/stacks.hpp) reads base images with.
using TagVersion = std::optional<std::pair<int, int>> (*)(const std::string& repository,
                                                          const std::string& tag);
std::optional<std::pair<int, int>> chain_version(const Build& b, int stage, const char* env_name,
                                                 TagVersion tag_forms);

struct BuildOptions {
    Env build_args;     // --build-arg NAME=VALUE
    std::string target; // --target STAGE (default: the last stage)
};

// Resolves stages and per-instruction environments. Throws Error(invalid) for an unknown
// --target or a FROM that resolves to an invalid reference; Error(usage) for a bad --target.
Build model_build(const Dockerfile& df, const BuildOptions& opt);

// The KEY=VALUE pairs an ENV instruction sets (values expanded against env), in order.
std::vector<std::pair<std::string, std::string>> env_pairs(const Instruction& in, char esc,
                                                           const Env& env);

// The script RUN executes, for analysis: the shell form with heredoc bodies that are shell
// scripts (RUN <<EOF, RUN bash <<EOF), or the exec form's argv.
std::vector<Command> run_commands(const Instruction& in);

} // namespace gantry::lint
