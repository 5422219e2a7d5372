#include "image_build/plan.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace gantry::image_build {
namespace {

// constexpr: a global std::set would be one more static initializer in every `gantry run`
constexpr std::string_view kSupported[] = {
    "FROM",    "RUN",        "COPY",        "ADD",     "ENV",        "ARG",
    "WORKDIR", "USER",       "LABEL",       "EXPOSE",  "ENTRYPOINT", "CMD",
    "VOLUME",  "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "SHELL",      "MAINTAINER"};

bool supported(std::string_view keyword) {
    return std::find(std::begin(kSupported), std::end(kSupported), keyword) != std::end(kSupported);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

[[noreturn]] void fail(Errc code, const PlanOptions& opt, int line, const std::string& what,
                       std::string hint = {}) {
    throw Error(code, opt.file + ":" + std::to_string(line) + ":1: " + what, std::move(hint));
}

std::string expand(const std::string& raw, const Env& env, char escape) {
    return dockerfile::expand_word(raw, env, escape).value;
}

// The platform TEXT names (--platform when LINE is 0, else a FROM --platform's value).
oci::Platform read_platform(const std::string& text, const PlanOptions& opt, int line) {
    auto where = [&](const std::string& what) {
        return line ? opt.file + ":" + std::to_string(line) + ":1: " + what : what;
    };
    if (text.find(',') != std::string::npos)
        throw Error(Errc::unsupported, where("several platforms in one stage: " + text),
                    "a stage builds for one platform; `gantry build --platform A,B` builds the "
                    "Dockerfile once for each");
    try {
        return oci::Platform::parse(text);
    } catch (const Error& e) {
        throw Error(line ? Errc::invalid : Errc::usage, where(e.message()), e.hint());
    }
}

} // namespace

Env predefined_args(const oci::Platform& target) {
    const auto build = oci::Platform::host();
    return {{"TARGETPLATFORM", target.str()},    {"TARGETOS", target.os},
            {"TARGETARCH", target.architecture}, {"TARGETVARIANT", target.variant},
            {"BUILDPLATFORM", build.str()},      {"BUILDOS", build.os},
            {"BUILDARCH", build.architecture},   {"BUILDVARIANT", build.variant}};
}

int find_stage(const std::vector<Stage>& stages, std::string_view ref, int before) {
    std::string l = lower(std::string(ref));
    for (int i = 0; i < before && i < static_cast<int>(stages.size()); ++i)
        if (!stages[i].name.empty() && stages[i].name == l) return i;
    if (!l.empty() &&
        std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        l.size() < 6) {
        int n = std::stoi(l);
        if (n < before) return n;
    }
    return -1;
}

dockerfile::Dockerfile parse(std::string_view text, const PlanOptions& opt) {
    try {
        return dockerfile::parse_dockerfile(text);
    } catch (const Error& e) {
        // The parser says "line N: what"; the build names the file as compilers do.
        const std::string& m = e.message();
        if (m.rfind("line ", 0) == 0) {
            auto colon = m.find(": ");
            if (colon != std::string::npos)
                throw Error(e.code(),
                            opt.file + ":" + m.substr(5, colon - 5) + ":1: " + m.substr(colon + 2),
                            e.hint());
        }
        throw Error(e.code(), opt.file + ": " + m, e.hint());
    }
}

Plan make_plan(const dockerfile::Dockerfile& df, const PlanOptions& opt) {
    Plan p;
    p.platform = opt.platform.empty() ? oci::Platform::host() : read_platform(opt.platform, opt, 0);
    p.escape = df.escape;
    p.predefined = predefined_args(p.platform);
    for (const auto& ins : df.instructions) {
        if (!supported(ins.keyword))
            fail(Errc::invalid, opt, ins.line, "unknown instruction " + ins.keyword,
                 "see docs/build.md for the instructions gantry build supports");
        if (ins.keyword == "ONBUILD" && ins.child &&
            (ins.child->keyword == "FROM" || ins.child->keyword == "ONBUILD" ||
             !supported(ins.child->keyword)))
            fail(Errc::invalid, opt, ins.line, "ONBUILD " + ins.child->keyword + " is not allowed");
        if (ins.keyword == "FROM") {
            Env env = p.predefined;
            for (const auto& [k, v] : p.global_args) env[k] = v;
            auto words = dockerfile::split_words(ins.args, df.escape);
            Stage s;
            s.index = static_cast<int>(p.stages.size());
            s.line = ins.line;
            if (words.size() == 3 && lower(words[1]) == "as") {
                s.name = lower(expand(words[2], env, df.escape));
                if (s.name.empty() || !std::isalpha(static_cast<unsigned char>(s.name[0])))
                    fail(Errc::invalid, opt, ins.line, "invalid stage name '" + words[2] + "'");
                if (find_stage(p.stages, s.name, s.index) >= 0)
                    fail(Errc::invalid, opt, ins.line, "duplicate stage name '" + s.name + "'");
            } else if (words.size() != 1) {
                fail(Errc::invalid, opt, ins.line, "FROM takes IMAGE [AS NAME]");
            }
            s.platform = p.platform;
            if (const auto* f = ins.flag("platform"))
                s.platform = read_platform(expand(f->value, env, df.escape), opt, ins.line);
            s.base = expand(words[0], env, df.escape);
            if (s.base.empty())
                fail(Errc::invalid, opt, ins.line, "FROM " + words[0] + " expands to nothing",
                     "give the argument a value with --build-arg or an ARG default");
            s.scratch = s.base == "scratch";
            // Only a name refers to a stage in FROM (an index does not, as in BuildKit).
            std::string lb = lower(s.base);
            for (const auto& prev : p.stages)
                if (!prev.name.empty() && prev.name == lb) s.base_stage = prev.index;
            if (s.base_stage >= 0) s.deps.push_back(s.base_stage);
            p.stages.push_back(std::move(s));
            continue;
        }
        if (p.stages.empty()) {
            if (ins.keyword != "ARG")
                fail(Errc::invalid, opt, ins.line, ins.keyword + " before the first FROM",
                     "only ARG may come before FROM");
            Env env = p.predefined;
            for (const auto& [k, v] : p.global_args) env[k] = v;
            for (const auto& w : dockerfile::split_words(ins.args, df.escape)) {
                auto eq = w.find('=');
                std::string name = w.substr(0, eq);
                if (!dockerfile::is_var_name(name))
                    fail(Errc::invalid, opt, ins.line, "invalid ARG name '" + name + "'");
                std::string value =
                    eq == std::string::npos ? "" : expand(w.substr(eq + 1), env, df.escape);
                if (auto it = opt.build_args.find(name); it != opt.build_args.end())
                    value = it->second;
                p.global_args[name] = value;
                env[name] = value;
            }
            continue;
        }
        Stage& s = p.stages.back();
        std::vector<std::string> froms;
        if (ins.keyword == "COPY" || ins.keyword == "ADD")
            if (const auto* f = ins.flag("from")) froms.push_back(f->value);
        if (ins.keyword == "RUN")
            for (const auto* f : ins.flags_named("mount")) {
                auto m = dockerfile::parse_mount(f->value);
                if (!m.from.empty()) froms.push_back(m.from);
            }
        for (const auto& ref : froms) {
            Env env = p.global_args;
            int d = find_stage(p.stages, expand(ref, env, df.escape), s.index);
            if (d >= 0 && std::find(s.deps.begin(), s.deps.end(), d) == s.deps.end())
                s.deps.push_back(d);
        }
        s.steps.push_back(ins);
    }
    if (p.stages.empty())
        throw Error(Errc::invalid, opt.file + ": no FROM instruction",
                    "a Dockerfile starts with FROM IMAGE (or ARG, then FROM)");
    if (opt.target.empty()) {
        p.target = static_cast<int>(p.stages.size()) - 1;
    } else {
        p.target = find_stage(p.stages, opt.target, static_cast<int>(p.stages.size()));
        if (p.target < 0 || lower(opt.target) != p.stages[p.target].name)
            throw Error(Errc::not_found, "target stage " + opt.target + " not found in " + opt.file,
                        "--target names a stage declared with FROM IMAGE AS NAME");
    }
    std::vector<bool> seen(p.stages.size());
    auto visit = [&](auto&& self, int i) -> void {
        if (seen[i]) return;
        seen[i] = true;
        for (int d : p.stages[i].deps) self(self, d);
        p.order.push_back(i);
    };
    visit(visit, p.target);
    return p;
}

} // namespace gantry::image_build
