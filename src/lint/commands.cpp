// Recognisers for the package-manager commands the rules look at.
#include "lint/rules.hpp"
#include "lint/rx.hpp"
#include "util/error.hpp"

#include <set>

namespace gantry::lint {

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string r;
    for (auto& s : v) r += (r.empty() ? "" : sep) + s;
    return r;
}

std::string shown_word(const std::string& w, const Env& env) {
    if (w.find('$') == std::string::npos) return w;
    try {
        auto e = expand_word(w, env, '\\');
        return e.resolved ? e.value : w;
    } catch (const Error&) { // "${" without its "}": shown as written
        return w;
    }
}

std::optional<AptCall> parse_apt(const Command& c) {
    auto n = c.name();
    if (n != "apt-get" && n != "apt" && n != "aptitude") return std::nullopt;
    static const std::set<std::string> with_value = {"-o",
                                                     "-c",
                                                     "-t",
                                                     "-a",
                                                     "--option",
                                                     "--config-file",
                                                     "--target-release",
                                                     "--default-release",
                                                     "--host-architecture"};
    AptCall a;
    for (std::size_t i = 1; i < c.argv.size(); ++i) {
        const auto& w = c.argv[i];
        if (w.size() > 1 && w[0] == '-') {
            a.options.push_back(w);
            if (with_value.count(w) && i + 1 < c.argv.size()) a.options.push_back(c.argv[++i]);
        } else if (a.sub.empty()) {
            a.sub = w;
        } else {
            a.packages.push_back(w);
        }
    }
    return a;
}

std::optional<std::vector<std::string>> parse_other_install(const Command& c) {
    auto n = c.name();
    std::string sub;
    std::vector<std::string> pkgs;
    for (std::size_t i = 1; i < c.argv.size(); ++i) {
        const auto& w = c.argv[i];
        if (w.size() > 1 && w[0] == '-') continue;
        if (sub.empty())
            sub = w;
        else
            pkgs.push_back(w);
    }
    bool ok = (n == "apk" && sub == "add") ||
              ((n == "dnf" || n == "yum" || n == "microdnf" || n == "tdnf") && sub == "install") ||
              (n == "zypper" && (sub == "in" || sub == "install"));
    if (!ok) return std::nullopt;
    return pkgs;
}

std::optional<PipCall> parse_pip(const Command& c) {
    static const Rx pip_name(R"(^pip(\d+(\.\d+)?)?$)");
    static const Rx python_name(R"(^python(\d+(\.\d+)?)?$)");
    const auto& v = c.argv;
    auto n = c.name();
    PipCall p;
    std::size_t i = 1;
    if (rx_match(n, pip_name)) {
    } else if (rx_match(n, python_name)) {
        for (; i < v.size() && v[i] != "-m"; ++i)
            if (v[i].empty() || v[i][0] != '-') return std::nullopt;
        if (i + 1 >= v.size() || v[i + 1] != "pip") return std::nullopt;
        i += 2;
    } else if (n == "uv" && v.size() > 2 && v[1] == "pip") {
        p.uv = true;
        i = 2;
    } else if (n == "uv" && v.size() > 1 && v[1] == "sync") {
        p.uv = true; // uv sync: the project's lock file, into .venv, through uv's cache
        i = 2;
    } else {
        return std::nullopt;
    }
    static const std::set<std::string> with_value = {"-r",
                                                     "--requirement",
                                                     "-c",
                                                     "--constraint",
                                                     "-i",
                                                     "--index-url",
                                                     "--extra-index-url",
                                                     "-f",
                                                     "--find-links",
                                                     "-t",
                                                     "--target",
                                                     "--prefix",
                                                     "--root",
                                                     "--platform",
                                                     "--python-version",
                                                     "--implementation",
                                                     "--abi",
                                                     "--src",
                                                     "--upgrade-strategy",
                                                     "--progress-bar",
                                                     "--cache-dir",
                                                     "--proxy",
                                                     "--retries",
                                                     "--timeout",
                                                     "--log",
                                                     "--cert",
                                                     "--client-cert",
                                                     "--trusted-host",
                                                     "--report",
                                                     "-C",
                                                     "--config-settings",
                                                     "--global-option",
                                                     "--no-binary",
                                                     "--only-binary",
                                                     "--python",
                                                     "-p",
                                                     "--exists-action",
                                                     "-e",
                                                     "--editable",
                                                     "--index-strategy",
                                                     "--extra-index",
                                                     "--default-index"};
    std::string sub = i == 2 && v[1] == "sync" ? "sync" : "";
    for (; i < v.size(); ++i) {
        const auto& w = v[i];
        if (w.size() > 1 && w[0] == '-') {
            auto eq = w.find('=');
            std::string name = w.substr(0, eq);
            std::string value;
            if (eq != std::string::npos) {
                value = w.substr(eq + 1);
            } else if (with_value.count(name) && i + 1 < v.size()) {
                value = v[++i];
            } else if (name.size() > 2 && name[1] != '-' && with_value.count(name.substr(0, 2))) {
                value = name.substr(2); // -rrequirements.txt
                name = name.substr(0, 2);
            }
            if (name == "--no-cache-dir" || (p.uv && (name == "--no-cache" || name == "-n")))
                p.no_cache = true;
            if (name == "-r" || name == "--requirement") p.requirements.push_back(value);
            if (name == "-i" || name == "--index-url" || name == "--extra-index-url" ||
                name == "-f" || name == "--find-links" || name == "--extra-index" ||
                name == "--default-index")
                p.index_urls.push_back(value);
            if (name == "-e" || name == "--editable") p.packages.push_back(value);
        } else if (sub.empty()) {
            sub = w;
        } else {
            p.packages.push_back(w);
        }
    }
    if (sub != "install" && !(p.uv && sub == "sync")) return std::nullopt;
    p.verb = !p.uv ? "pip install" : v[1] == "sync" ? "uv sync" : "uv pip " + sub;
    if (p.verb == "uv sync") p.packages.clear(); // operands of its options (--extra gen)
    return p;
}

std::optional<std::string> parse_conda(const Command& c, std::vector<std::string>* args) {
    auto n = c.name();
    if (n != "conda" && n != "mamba" && n != "micromamba") return std::nullopt;
    std::string sub;
    for (std::size_t i = 1; i < c.argv.size(); ++i) {
        const auto& w = c.argv[i];
        if (w.size() > 1 && w[0] == '-') {
            if (args) args->push_back(w);
            continue;
        }
        if (sub.empty()) {
            sub = w;
        } else if (sub == "env" && (w == "create" || w == "update")) {
            sub += " " + w;
        } else if (args) {
            args->push_back(w);
        }
    }
    return sub;
}

bool has_cache_mount(const Step& s, std::string_view path) {
    for (auto& m : s.mounts) {
        if (m.type != "cache" && m.type != "tmpfs") continue;
        std::string t = m.target;
        while (t.size() > 1 && t.back() == '/') t.pop_back();
        if (path.starts_with("/")) {
            if (path == t || path.starts_with(t + "/")) return true;
            continue;
        }
        // a path relative to some home directory (".cache/pip"): any ancestor as a suffix
        std::string_view p = path;
        for (;;) {
            if (t.ends_with("/" + std::string(p))) return true;
            auto slash = p.find_last_of('/');
            if (slash == std::string_view::npos) break;
            p = p.substr(0, slash);
        }
    }
    return false;
}

} // namespace gantry::lint
