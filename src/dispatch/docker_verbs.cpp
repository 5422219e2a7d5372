#include "dispatch/docker_verbs.hpp"

#include "util/error.hpp"
#include "util/printable.hpp"

#include <algorithm>
#include <iterator>

namespace gantry::dispatch {

namespace {

// A docker verb of a management group and the gantry command that does its job.
struct GroupVerb {
    std::string_view group, verb, command;
};
constexpr GroupVerb kGroupVerbs[] = {
    {"image", "build", "build"},
    {"image", "history", "history"},
    {"image", "import", "import"},
    {"image", "inspect", "inspect --type image"},
    {"image", "load", "load"},
    {"image", "ls", "images"},
    {"image", "list", "images"},
    {"image", "prune", "system prune"},
    {"image", "pull", "pull"},
    {"image", "push", "push"},
    {"image", "rm", "rmi"},
    {"image", "remove", "rmi"},
    {"image", "save", "save"},
    {"image", "tag", "tag"},
    {"container", "exec", "exec"},
    {"container", "logs", "logs"},
    {"container", "attach", "attach"},
    {"container", "inspect", "inspect --type container"},
    {"container", "ls", "ps"},
    {"container", "list", "ps"},
    {"container", "ps", "ps"},
    {"container", "rm", "rm"},
    {"container", "remove", "rm"},
    {"container", "run", "run"},
    {"container", "stop", "stop"},
    {"container", "kill", "kill"},
    {"container", "wait", "wait"},
    {"container", "top", "top"},
    {"container", "port", "port"},
    {"container", "stats", "stats"},
    {"container", "create", "create"},
    {"container", "start", "start"},
    {"container", "restart", "restart"},
    {"container", "rename", "rename"},
    {"container", "cp", "cp"},
    {"system", "info", "info"},
    {"system", "events", "events"},
    {"builder", "build", "build"},
    {"buildx", "build", "build"},
};

// docker's verbs (and group verbs) gantry has no command for, and why: what to use instead.
struct Missing {
    std::string_view word, hint;
};
constexpr std::string_view kNoDaemon =
    "gantry has no daemon: its containers are processes of the user who ran them";
constexpr Missing kMissing[] = {
    {"update", "a container's limits are set when it starts (--memory, --cpus, --pids-limit)"},
    {"export", "bind-mount a host directory and write the files there, or `gantry save` the image"},
    {"swarm", "orchestration is Slurm's (docs/slurm.md) or Kubernetes' (docs/oci-runtime.md)"},
    {"service", "orchestration is Slurm's (docs/slurm.md) or Kubernetes' (docs/oci-runtime.md)"},
    {"stack", "orchestration is Slurm's (docs/slurm.md) or Kubernetes' (docs/oci-runtime.md)"},
    {"node", "orchestration is Slurm's (docs/slurm.md) or Kubernetes' (docs/oci-runtime.md)"},
    {"secret", "pass a secret as a file: -v /path/secret:/run/secrets/NAME:ro"},
    {"config", "pass a configuration file with -v FILE:PATH:ro; gantry's own is "
               "/etc/gantry/config.yaml"},
    {"plugin", "there are no plugins: GPU vendors are built in, and CDI specs (`gantry cdi`) "
               "describe other devices"},
    {"trust", "image signatures follow the site's policy.json (docs/registry.md); `gantry sign` "
              "signs a squashfs image"},
    {"context", kNoDaemon},
    {"manifest", "`gantry inspect REF` shows an image's manifest; `gantry pull --platform` picks "
                 "from a list"},
    {"checkpoint", "checkpoint and restore are not available"},
    {"search", "registries have no common search API: search the registry's web pages"},
    {"init", "`gantry lint` checks a Dockerfile; there are no templates"},
    {"compose", "compose files are not read: `gantry run -d` each service, or use Slurm or "
                "Kubernetes"},
    {"image", "docker's image commands are gantry's own: `gantry images`, `gantry rmi`, `gantry "
              "pull` ... (`gantry --help`)"},
    {"container", "docker's container commands are gantry's own: `gantry ps`, `gantry rm`, "
                  "`gantry run` ... (`gantry --help`)"},
};

// docker's flags gantry's commands do not have, and why.
struct MissingFlag {
    std::string_view command, flag, hint;
};
constexpr MissingFlag kMissingFlags[] = {
    {"run", "--privileged",
     "gantry's containers run rootless: add what the workload needs "
     "(--cap-add, --device, --security-opt seccomp=unconfined)"},
    {"run", "--dns",
     "the host's /etc/resolv.conf is used (with --network bridge, without its loopback "
     "nameservers; docs/networks.md)"},
    {"run", "--log-opt",
     "`gantry run -d`'s output is one file (`gantry logs`) with no options; --log-driver none "
     "keeps none"},
};

constexpr std::string_view kNotExpected1 = "The following argument was not expected: ";
constexpr std::string_view kNotExpectedN = "The following arguments were not expected: ";

// The index in ARGS of the first word that is not a global flag or its value (the command).
std::size_t command_index(std::span<char* const> args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "--root" || a == "--image-store") {
            ++i;
            continue;
        }
        if (!a.starts_with("-")) return i;
    }
    return args.size();
}

// The word after the group at I, skipping nothing: docker's group verbs come right after it.
std::string_view verb_after(std::span<char* const> args, std::size_t i) {
    return i + 1 < args.size() ? std::string_view(args[i + 1]) : std::string_view();
}

bool is_group(std::string_view word) {
    return std::any_of(std::begin(kGroupVerbs), std::end(kGroupVerbs),
                       [&](const GroupVerb& g) { return g.group == word; });
}

// The words of ARGS from the first unknown argument CLI11's WHAT names.
std::vector<std::string> unexpected_words(std::string_view what) {
    std::string_view rest;
    if (what.starts_with(kNotExpected1))
        rest = what.substr(kNotExpected1.size());
    else if (what.starts_with(kNotExpectedN))
        rest = what.substr(kNotExpectedN.size());
    else
        return {};
    std::vector<std::string> words;
    for (std::size_t p = 0; p < rest.size();) {
        auto q = std::min(rest.find(' ', p), rest.size());
        if (q > p) words.emplace_back(rest.substr(p, q - p));
        p = q + 1;
    }
    return words;
}

} // namespace

std::optional<std::vector<std::string>> expand_docker_group(std::span<char* const> args) {
    auto i = command_index(args);
    if (i == args.size() || !is_group(args[i])) return std::nullopt;
    std::string_view group = args[i], verb = verb_after(args, i);
    for (auto& g : kGroupVerbs) {
        if (g.group != group || g.verb != verb) continue;
        std::vector<std::string> out(args.begin(), args.begin() + static_cast<long>(i));
        for (std::size_t p = 0; p < g.command.size();) { // "system prune": two words
            auto q = std::min(g.command.find(' ', p), g.command.size());
            out.emplace_back(g.command.substr(p, q - p));
            p = q + 1;
        }
        out.insert(out.end(), args.begin() + static_cast<long>(i) + 2, args.end());
        return out;
    }
    return std::nullopt;
}

bool is_foreign_verb_of_own_group(std::span<char* const> args) {
    // docker's groups that are gantry commands too, and the verbs those commands have
    constexpr std::pair<std::string_view, std::string_view> kOwn[] = {{"builder", "prune"},
                                                                      {"container", "prune"}};
    auto i = command_index(args);
    if (i == args.size()) return false;
    std::string_view group = args[i], verb = verb_after(args, i);
    if (verb.empty() || verb.starts_with('-')) return false;
    bool own_group = false;
    for (auto& [g, v] : kOwn) {
        if (g != group) continue;
        own_group = true;
        if (v == verb) return false;
    }
    return own_group;
}

std::string command_as_written(std::span<char* const> args) {
    auto i = command_index(args);
    if (i == args.size()) return {};
    std::string word = args[i];
    std::string_view verb = verb_after(args, i);
    if (is_group(word) && !verb.empty() && !verb.starts_with('-')) word += " " + std::string(verb);
    return word;
}

Ending unknown_command(std::string_view word) {
    auto find = [](std::string_view w) -> const Missing* {
        for (auto& m : kMissing)
            if (m.word == w) return &m;
        return nullptr;
    };
    const Missing* m = find(word);
    if (!m && word.find(' ') != std::string_view::npos) {
        auto verb = word.substr(word.find(' ') + 1);
        m = find(verb); // `container export`: docker's `export`
        if (!m) m = find(word.substr(0, word.find(' ')));
    }
    std::string hint = m ? std::string(m->hint) + " (docs/docker-cli.md)"
                         : std::string("see `gantry --help` for the commands");
    return {"gantry: error: unknown command `" + text::printable(word) + "`\nhint: " + hint + "\n",
            exit_status(Errc::usage)};
}

std::string unknown_flag_hint(std::string_view command, std::string_view flag) {
    auto name = flag.substr(0, flag.find('='));
    for (auto& f : kMissingFlags)
        if (f.command == command && f.flag == name) return std::string(f.hint);
    return {};
}

std::string first_unknown_flag(std::string_view what) {
    for (auto& w : unexpected_words(what))
        if (w.size() > 1 && w[0] == '-') return w.substr(0, w.find('='));
    return {};
}

std::string usage_message(std::string_view what) {
    auto words = unexpected_words(what);
    if (words.empty()) return std::string(what);
    std::vector<std::string> flags, others;
    for (auto& w : words) { // a flag by its name: its value may be anything, a secret too
        bool flag = w.size() > 1 && w[0] == '-';
        (flag ? flags : others).push_back("`" + (flag ? w.substr(0, w.find('=')) : w) + "`");
    }
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (auto& w : v) s += (s.empty() ? "" : ", ") + w;
        return s;
    };
    std::string text;
    if (!flags.empty())
        text = (flags.size() > 1 ? "unknown flags " : "unknown flag ") + join(flags);
    if (!others.empty())
        text += (text.empty() ? "" : "; ") +
                std::string(others.size() > 1 ? "unexpected arguments " : "unexpected argument ") +
                join(others);
    return text;
}

} // namespace gantry::dispatch
