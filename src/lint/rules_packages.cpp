// Package-manager rules: GL002 toolchain (or a vendor stack's SDK) shipped, GL005 apt recommends,
// GL006 apt lists left by the RUN that runs apt-get update, GL007 pip/uv cache (once per RUN),
// GL012 conda cache.
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "lint/stacks.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace gantry::lint {

namespace {

std::string package_name(std::string_view p) {
    // apt "pkg=1.2", "pkg:amd64"; pip "pkg==1.2", "pkg[extra]>=1"; conda "pkg=1.2"
    return text::lower(p.substr(0, p.find_first_of("=:<>[~!; ")));
}

// A compiler toolchain's package, or a declared stack's SDK package (Stack::sdk_package).
bool is_toolchain(const std::string& pkg, const std::vector<const Stack*>& stacks) {
    static const Rx re(
        R"(^(build-essential|build-base|gcc|g\+\+|gcc-c\+\+|gfortran|clang|cc|c\+\+)(-\d+(\.\d+)*)?$|)"
        R"(^devtoolset-\d+(-gcc.*)?$)");
    if (rx_match(pkg, re)) return true;
    for (const Stack* s : stacks)
        if (s->sdk_package && s->sdk_package(pkg)) return true;
    return false;
}

bool env_true(const Env& env, const std::vector<std::string>& assigns, const std::string& name) {
    std::string v;
    if (auto it = env.find(name); it != env.end()) v = it->second;
    for (auto& a : assigns)
        if (a.starts_with(name + "=")) v = a.substr(name.size() + 1);
    v = text::lower(v);
    return !v.empty() && v != "0" && v != "false" && v != "no" && v != "off";
}

std::string list3(const std::vector<std::string>& v) {
    std::vector<std::string> head(
        v.begin(), v.begin() + static_cast<long>(std::min<std::size_t>(3, v.size())));
    return join(head, ", ") + (v.size() > 3 ? ", ..." : "");
}

// A path that is dir, inside dir, or an ancestor of dir ending in "/" or "/*" (so
// "/var/lib/apt/*" and "/var/lib/apt" cover "/var/lib/apt/lists").
bool covers(std::string_view path, std::string_view dir) {
    if (path.ends_with("/*")) path.remove_suffix(2);
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    if (path.empty()) return false;
    if (path.starts_with(dir)) return path.size() == dir.size() || path[dir.size()] == '/';
    return dir.starts_with(path) && dir[path.size()] == '/' && path.find('/', 1) != path.npos;
}

// The RUN deletes dir: `rm ... dir/*`, or `find dir ... -delete` / `-exec rm` (the starting
// points are the operands before the first expression word).
bool removes(const Step& s, const std::string& dir) {
    for (auto& c : s.commands) {
        if (c.name() == "rm") {
            for (std::size_t i = 1; i < c.argv.size(); ++i)
                if (covers(c.argv[i], dir)) return true;
        } else if (c.name() == "find") {
            bool start = false, deletes = false;
            std::size_t i = 1;
            for (; i < c.argv.size(); ++i) {
                const auto& a = c.argv[i];
                if (a.starts_with("-") || a == "(" || a == "!") break;
                start |= covers(a, dir);
            }
            for (; i < c.argv.size(); ++i)
                deletes |=
                    c.argv[i] == "-delete" || ((c.argv[i] == "-exec" || c.argv[i] == "-execdir") &&
                                               i + 1 < c.argv.size() && c.argv[i + 1] == "rm");
            if (start && deletes) return true;
        }
    }
    return false;
}

std::string shown_list(const std::vector<std::string>& v, const Env& env) {
    std::vector<std::string> r;
    for (auto& w : v) r.push_back(shown_word(w, env));
    return list3(r);
}

// "APT::Install-Recommends false" configured by an earlier instruction of the chain.
bool recommends_off_before(const RuleContext& cx, const Stage& st, const Step& step) {
    static const Rx re(R"(Install-Recommends\W{0,4}(false|0)\b)", RxCase::insensitive);
    for (int s = st.index; s >= 0; s = cx.build.stages[s].base.stage_ref)
        for (auto& other : cx.build.stages[s].steps) {
            if (s == st.index && other.index >= step.index) break;
            std::string text = other.in->original;
            for (auto& h : other.in->heredocs) text += "\n" + h.content;
            for (auto at = text.find("Install-Recommends"); at != std::string::npos;
                 at = text.find("Install-Recommends", at + 1))
                if (rx_search(text.substr(at, 40), re)) return true;
        }
    return false;
}

// GL002's fix: the stage's stack's own (Stack::multistage_fix), else the generic one.
std::string multistage_fix(const Build& b, int stage, const std::vector<const Stack*>& stacks) {
    const Stack* s = stage_stack(b, stage, stacks);
    if (s && s->multistage_fix) return s->multistage_fix;
    return "use a multi-stage build: compile in a builder stage (FROM ...-devel AS build) and "
           "COPY --from=build only the artifacts into a runtime stage";
}

} // namespace

void rules_packages(const RuleContext& cx) {
    static const Rx recommends_opt(R"(Install-Recommends=(false|0))", RxCase::insensitive);
    const auto& stages = cx.build.stages;
    const auto declared = stacks(cx.opt);
    for (const auto& st : stages) {
        for (const auto& step : st.steps) {
            if (step.in->keyword != "RUN") continue;
            bool apt_used = false;
            std::vector<std::string> tools;
            bool conda_used = false, conda_cleaned = false;
            std::vector<PipCall> uncached[2]; // pip, uv
            for (const auto& c : step.commands) {
                for (const Stack* s : declared)
                    if (s->sdk_command)
                        for (auto& u : s->sdk_command(c)) tools.push_back(u);
                if (auto a = parse_apt(c)) {
                    // only update downloads the lists; an install in a RUN without it uses
                    // (and adds nothing to) the lists of the RUN that did, reported there
                    if (a->sub == "update") apt_used = true;
                    if (a->sub == "install") {
                        for (auto& p : a->packages)
                            if (is_toolchain(package_name(shown_word(p, step.env)), declared))
                                tools.push_back(p);
                        bool ok = false;
                        for (auto& o : a->options)
                            if (o == "--no-install-recommends" || rx_search(o, recommends_opt))
                                ok = true;
                        if (!ok && !recommends_off_before(cx, st, step))
                            cx.add("GL005", st, &step,
                                   c.name() + " install of " +
                                       (a->packages.empty() ? std::string("packages")
                                                            : shown_list(a->packages, step.env)) +
                                       " without --no-install-recommends also installs every "
                                       "recommended package",
                                   "add --no-install-recommends (and list what you need "
                                   "explicitly)");
                    }
                } else if (auto other = parse_other_install(c)) {
                    for (auto& p : *other)
                        if (is_toolchain(package_name(shown_word(p, step.env)), declared))
                            tools.push_back(p);
                } else if (auto sub = parse_conda(c)) {
                    std::vector<std::string> args;
                    parse_conda(c, &args);
                    if (*sub == "install" || *sub == "create" || *sub == "update" ||
                        *sub == "env create" || *sub == "env update") {
                        conda_used = true;
                        for (auto& p : args)
                            if (p[0] != '-' &&
                                is_toolchain(package_name(shown_word(p, step.env)), declared))
                                tools.push_back(p);
                    }
                    if (*sub == "clean") conda_cleaned = true;
                } else if (auto pip = parse_pip(c)) {
                    for (auto& p : pip->packages)
                        if (is_toolchain(package_name(shown_word(p, step.env)), declared))
                            tools.push_back(p);
                    if (!st.ships) continue;
                    bool ok = pip->no_cache ||
                              (pip->uv ? env_true(step.env, c.assigns, "UV_NO_CACHE") ||
                                             has_cache_mount(step, ".cache/uv")
                                       : env_true(step.env, c.assigns, "PIP_NO_CACHE_DIR") ||
                                             has_cache_mount(step, ".cache/pip"));
                    if (!ok) uncached[pip->uv].push_back(*pip);
                }
            }
            // GL007 once per RUN (and tool): the fix is per RUN, and the branches of an
            // if/else are one install, not two
            for (auto& calls : uncached) {
                if (calls.empty()) continue;
                bool uv = calls[0].uv;
                std::vector<std::string> what;
                for (auto& p : calls)
                    for (auto& w : p.packages.empty() ? p.requirements : p.packages)
                        if (w.find("{}") == std::string::npos && // find -exec's files
                            std::find(what.begin(), what.end(), w) == what.end())
                            what.push_back(w);
                std::string msg = calls[0].verb;
                if (!what.empty()) msg += " of " + shown_list(what, step.env);
                if (calls.size() > 1)
                    msg += " (" + std::to_string(calls.size()) + " " + (uv ? "uv" : "pip") +
                           " commands in this RUN)";
                cx.add(
                    "GL007", st, &step,
                    msg + " keeps " + (uv ? "uv's" : "its download") +
                        " cache (often hundreds of MB for " +
                        stack_name(cx.build, st.index, declared) + " wheels) in the layer",
                    uv ? "add --no-cache, or RUN --mount=type=cache,target=/root/.cache/uv, or "
                         "ENV UV_NO_CACHE=1"
                       : "add --no-cache-dir, or RUN --mount=type=cache,target=/root/.cache/pip, "
                         "or ENV PIP_NO_CACHE_DIR=1");
            }
            if (!st.ships) continue;
            if (apt_used && !removes(step, "/var/lib/apt/lists") &&
                !has_cache_mount(step, "/var/lib/apt/lists"))
                cx.add("GL006", st, &step,
                       "this RUN runs apt-get but leaves /var/lib/apt/lists (tens of MB) in its "
                       "layer; removing it in a later RUN does not shrink the image",
                       "end the same RUN with && rm -rf /var/lib/apt/lists/*, or use RUN "
                       "--mount=type=cache,target=/var/lib/apt/lists");
            if (conda_used && !conda_cleaned && !removes(step, "/opt/conda/pkgs") &&
                !has_cache_mount(step, "/opt/conda/pkgs"))
                cx.add("GL012", st, &step,
                       "conda install without conda clean leaves the package tarballs and "
                       "extracted packages (/opt/conda/pkgs, often GBs with " +
                           std::string(stack_name(cx.build, st.index, declared)) + ") in the layer",
                       "end the same RUN with && conda clean -afy, or use RUN "
                       "--mount=type=cache,target=/opt/conda/pkgs");
            if (!tools.empty() && !step.onbuild) {
                bool single = stages.size() == 1;
                cx.add("GL002", st, &step,
                       "compiler toolchain " + shown_list(tools, step.env) + " installed in " +
                           (single
                                ? std::string("a single-stage build")
                                : "stage " + st.label() + ", which the final image is built from") +
                           ": it ships in the final image",
                       multistage_fix(cx.build, st.index, declared));
            }
        }
    }
}

} // namespace gantry::lint
