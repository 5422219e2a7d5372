// What lint's rules and the GPU vendors' (lint::RuleSet) share: the context they report
// through and the command recognisers; and lint's own rule groups.
#pragma once

#include "lint/lint.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::lint {

struct RuleContext {
    const Build& build;
    const Options& opt;
    std::vector<Finding>& out;
    const std::vector<RuleInfo>& table; // every rule, for the severity of a code

    // A finding of CODE (its severity from the table) at STEP's instruction, or at ST's FROM
    // without a step.

    void add(const char* code, const Stage& st, const Step* step, std::string message,
             std::string fix) const;
};

void rules_base(const RuleContext& cx);     // GL001 GL003 GL004
void rules_packages(const RuleContext& cx); // GL002 GL005 GL006 GL007 GL012
void rules_gpu(const RuleContext& cx);      // GL008 GL014 GL016 (the vendors' variables)
void rules_copy(const RuleContext& cx);     // GL010 GL011
void rules_licence(const RuleContext& cx);  // GL018

// apt-get / apt / aptitude: subcommand, options and operands.
struct AptCall {
    std::string sub; // "install", "update", ...
    std::vector<std::string> options;
    std::vector<std::string> packages;
};
std::optional<AptCall> parse_apt(const Command& c);

// Other system package managers' installs (apk add, dnf/yum/microdnf install, zypper in).
std::optional<std::vector<std::string>> parse_other_install(const Command& c);

// pip install / python -m pip install / uv pip install / uv pip sync / uv sync.
struct PipCall {
    std::string verb; // "pip install", "uv pip install", "uv pip sync", "uv sync"
    bool uv = false;
    bool no_cache = false;
    std::vector<std::string> packages;     // requirement specifiers and paths
    std::vector<std::string> requirements; // -r files
    std::vector<std::string> index_urls;   // -i, --index-url, --extra-index-url, -f
};
std::optional<PipCall> parse_pip(const Command& c);

// conda / mamba / micromamba: subcommand ("install", "create", "env create", "clean").
std::optional<std::string> parse_conda(const Command& c, std::vector<std::string>* args = nullptr);

// A cache (or tmpfs) mount of RUN whose target is path or contains it.
bool has_cache_mount(const Step& s, std::string_view target_suffix);

// A word of a RUN command as the shell will see it: ARG/ENV values in effect substituted
// (${VAR}, $VAR, ${VAR:-x}) when every variable has one, else the word as written.
std::string shown_word(const std::string& w, const Env& env);

// Not text::join: empty words at the front add no separator ({"", "a"} -> "a"), which the GL007
// message of `pip install --editable= x` shows.
std::string join(const std::vector<std::string>& v, const char* sep = " ");

} // namespace gantry::lint
