#include "lint/model.hpp"

#include "lint/rx.hpp"
#include "oci/reference.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace gantry::lint {

namespace {

Error line_error(int line, const std::string& msg, std::string hint) {
    return Error(Errc::invalid, "line " + std::to_string(line) + ": " + msg, std::move(hint));
}

// ARG name[=default] words: sets declared names in env (build args win over defaults).
void apply_arg(const Instruction& in, char esc, Env& env, const Env& build_args,
               const Env* globals) {
    for (auto& w : split_words(in.args, esc)) {
        auto eq = w.find('=');
        std::string name = w.substr(0, eq);
        if (auto it = build_args.find(name); it != build_args.end()) {
            env[name] = it->second;
        } else if (eq != std::string::npos) {
            env[name] = expand_word(w.substr(eq + 1), env, esc).value;
        } else if (globals && globals->count(name)) {
            env[name] = globals->at(name);
        }
    }
}

void apply_env(const Instruction& in, char esc, Env& env, Env& env_only) {
    for (auto& [k, v] : env_pairs(in, esc, env)) env[k] = env_only[k] = v;
}

BaseImage resolve_base(const Instruction& from, char esc, const Env& globals,
                       const std::vector<Stage>& stages) {
    BaseImage b;
    auto words = split_words(from.args, esc);
    b.written = words.at(0);
    auto e = expand_word(b.written, globals, esc);
    b.resolved = e.value;
    b.known = e.resolved;
    if (!b.known) return b;
    std::string l = text::lower(b.resolved);
    for (auto& s : stages)
        if (!s.name.empty() && s.name == l) {
            b.stage_ref = s.index;
            return b;
        }
    if (l == "scratch") {
        b.scratch = true;
        return b;
    }
    oci::Reference ref;
    try {
        ref = oci::Reference::parse(b.resolved);
    } catch (const Error& err) {
        throw line_error(from.line, "FROM " + b.resolved + ": " + err.message(),
                         "use a valid image reference, a stage name defined earlier, or scratch");
    }
    auto slash = b.resolved.find_last_of('/');
    auto at = b.resolved.find('@');
    auto name_part = b.resolved.substr(0, at);
    auto colon = name_part.find(':', slash == std::string::npos ? 0 : slash);
    b.tag = colon == std::string::npos ? "" : name_part.substr(colon + 1);
    b.digest = at == std::string::npos ? "" : b.resolved.substr(at + 1);
    b.name = ref.domain == oci::kDefaultDomain ? ref.path : ref.domain + "/" + ref.path;
    if (b.name.starts_with("library/")) b.name = b.name.substr(8);
    return b;
}

} // namespace

std::vector<int> Build::chain() const {
    std::vector<int> c;
    for (int s = target; s >= 0 && c.size() <= stages.size(); s = stages[s].base.stage_ref)
        c.push_back(s);
    return c;
}

std::optional<int> version_number(std::string_view d) {
    if (d.empty() || d.size() > 6 || d[0] < '0' || d[0] > '9') return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
    if (ec != std::errc() || p != d.data() + d.size()) return std::nullopt;
    return v;
}

std::optional<std::pair<int, int>> version_pair(std::string_view major, std::string_view minor) {
    auto a = version_number(major), b = version_number(minor);
    if (!a || !b) return std::nullopt;
    return std::pair{*a, *b};
}

namespace {

std::optional<std::pair<int, int>> pair_of(const RxMatch& m) {
    return version_pair(m[1].str(), m[2].str());
}

} // namespace

std::optional<std::pair<int, int>> chain_version(const Build& b, int stage, const char* env_name,
                                                 TagVersion tag_forms) {
    static const Rx leading(R"(^(\d+)\.(\d+))");
    std::optional<std::pair<int, int>> from_env;
    for (int s = stage; s >= 0; s = b.stages[s].base.stage_ref) {
        auto& st = b.stages[s];
        if (!from_env)
            for (auto it = st.steps.rbegin(); it != st.steps.rend(); ++it) {
                if (it->in->keyword != "ENV" || it->onbuild) continue;
                // the env of the step after this ENV is not stored: re-read the value
                Env env = it->env, only;
                apply_env(*it->in, b.file->escape, env, only);
                if (auto v = only.find(env_name); v != only.end()) {
                    RxMatch m;
                    if (rx_search(v->second, m, leading)) from_env = pair_of(m);
                    break;
                }
            }
        if (st.base.stage_ref >= 0) continue;
        if (auto v = tag_forms(st.base.name, st.base.tag)) return v;
        break;
    }
    return from_env;
}

std::vector<std::pair<std::string, std::string>> env_pairs(const Instruction& in, char esc,
                                                           const Env& env) {
    std::vector<std::pair<std::string, std::string>> out;
    auto words = split_words(in.args, esc);
    if (words.empty()) return out;
    if (words[0].find('=') == std::string::npos) { // legacy ENV KEY VALUE
        std::string_view rest =
            std::string_view(in.args).substr(std::min(in.args.size(), words[0].size()));
        std::string value(text::trim_left(rest, " \t"));
        out.emplace_back(words[0], expand_word(value, env, esc).value);
        return out;
    }
    for (auto& w : words) { // all pairs of one ENV see the values before it
        auto eq = w.find('=');
        out.emplace_back(expand_word(w.substr(0, eq), env, esc).value,
                         expand_word(w.substr(eq + 1), env, esc).value);
    }
    return out;
}

std::vector<Command> run_commands(const Instruction& in) {
    if (in.json) return commands_from_argv(in.json_args);
    auto cmds = split_commands(in.args);
    if (in.heredocs.empty()) return cmds;
    static const std::set<std::string> shells = {"sh", "bash", "dash", "ash", "zsh", "ksh"};
    bool script = cmds.empty();
    if (cmds.size() == 1 && shells.count(cmds[0].name())) {
        script = std::all_of(cmds[0].argv.begin() + 1, cmds[0].argv.end(),
                             [](const std::string& a) { return !a.empty() && a[0] == '-'; });
        if (script) cmds.clear();
    }
    if (script)
        for (auto& h : in.heredocs) {
            auto more = split_commands(h.content);
            cmds.insert(cmds.end(), more.begin(), more.end());
        }
    return cmds;
}

Build model_build(const Dockerfile& df, const BuildOptions& opt) {
    Build b;
    b.file = &df;
    const char esc = df.escape;
    // BuildKit's automatic platform arguments are in the global scope.
    Env globals = dockerfile::platform_args();
    std::vector<Env> env_only; // ENV values per stage, inherited by FROM <stage>
    Env env;
    for (std::size_t i = 0; i < df.instructions.size(); ++i) try {
            const auto& in = df.instructions[i];
            if (in.keyword == "FROM") {
                Stage st;
                st.index = static_cast<int>(b.stages.size());
                st.from = &in;
                auto words = split_words(in.args, esc);
                if (words.size() == 3) st.name = text::lower(words[2]);
                st.base = resolve_base(in, esc, globals, b.stages);
                env_only.push_back(st.base.stage_ref >= 0 ? env_only[st.base.stage_ref] : Env{});
                env = env_only.back();
                b.stages.push_back(std::move(st));
                continue;
            }
            if (b.stages.empty()) { // ARG before the first FROM
                apply_arg(in, esc, globals, opt.build_args, nullptr);
                continue;
            }
            Step step;
            step.index = i;
            step.onbuild = in.keyword == "ONBUILD";
            step.in = step.onbuild ? in.child.get() : &in;
            step.env = env;
            if (step.in->keyword == "RUN") {
                step.commands = run_commands(*step.in);
                for (auto* f : step.in->flags_named("mount"))
                    step.mounts.push_back(parse_mount(f->value));
            }
            if (!step.onbuild) {
                if (in.keyword == "ARG") apply_arg(in, esc, env, opt.build_args, &globals);
                if (in.keyword == "ENV") apply_env(in, esc, env, env_only.back());
            }
            b.stages.back().steps.push_back(std::move(step));
        } catch (const Error& e) {
            if (e.message().starts_with("line ")) throw;
            throw e.with_context("line " + std::to_string(df.instructions[i].line));
        }
    if (b.stages.empty())
        throw Error(Errc::invalid, "no FROM instruction", "a Dockerfile needs a FROM instruction");
    b.target = static_cast<int>(b.stages.size()) - 1;
    if (!opt.target.empty()) {
        b.target = -1;
        for (auto& s : b.stages)
            if (s.name == text::lower(opt.target)) b.target = s.index;
        if (b.target < 0)
            throw Error(Errc::usage, "--target " + opt.target + ": no stage of that name",
                        "name a stage with FROM image AS name");
    }
    for (int s : b.chain()) b.stages[s].ships = true;
    return b;
}

} // namespace gantry::lint
