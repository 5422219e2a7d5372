#include "engine/apptainer_run.hpp"

#include "engine/engine.hpp"
#include "runspec/builder.hpp"
#include "sif/metadata.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <pwd.h>
#include <string_view>
#include <utility>

namespace gantry::engine {

namespace {

nlohmann::json& apptainer_config_of(rootfs::RunView& view) {
    auto& raw = view.image.config.raw;
    if (!raw.is_object()) raw = nlohmann::json::object();
    if (!raw.contains("config") || !raw["config"].is_object())
        raw["config"] = nlohmann::json::object();
    return raw["config"];
}

void apptainer_add_env(nlohmann::json& config, const std::vector<std::string>& entries) {
    if (!config.contains("Env") || !config["Env"].is_array())
        config["Env"] = nlohmann::json::array();
    for (auto& e : entries) config["Env"].push_back(e);
}

// The image's PATH (its config's last PATH=, else the default runspec uses)
std::string apptainer_image_path(const nlohmann::json& config) {
    std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    if (config.contains("Env") && config["Env"].is_array())
        for (auto& e : config["Env"])
            if (e.is_string() && e.get<std::string>().starts_with("PATH="))
                path = e.get<std::string>().substr(5);
    return path;
}

bool apptainer_shell_name(std::string_view n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

// What the run sets itself over the image's environment, as Apptainer orders them: the caller's
// APPTAINERENV_ variables after the image's, PATH extended; and where the image's environment
// scripts are sourced at the start (SCRIPTS), the names of these and of -e/--env-file's
// variables kept over what the scripts set (GANTRY_KEEP_ENV, sif/metadata.cpp's entrypoint).
void apptainer_add_caller_env(nlohmann::json& config, const RunRequest& r, bool scripts) {
    std::vector<std::string> plain;
    std::string prepend, append;
    for (const auto& e : r.apptainer_env) {
        if (e.starts_with("PREPEND_PATH="))
            prepend = e.substr(13);
        else if (e.starts_with("APPEND_PATH="))
            append = e.substr(12);
        else
            plain.push_back(e);
    }
    apptainer_add_env(config, plain);
    if (scripts) {
        std::vector<std::string> names;
        auto keep = [&](const std::string& entry) {
            std::string n = entry.substr(0, entry.find('='));
            if (apptainer_shell_name(n) && std::find(names.begin(), names.end(), n) == names.end())
                names.push_back(n);
        };
        for (const auto& e : plain) keep(e);
        for (const auto& f : r.env_files)
            for (const auto& e : runspec::read_env_file(f)) keep(e);
        for (const auto& e : r.env) keep(e);
        std::vector<std::string> extra;
        if (!names.empty()) extra.push_back("GANTRY_KEEP_ENV=" + text::join(names, " "));
        if (!prepend.empty()) extra.push_back("GANTRY_PREPEND_PATH=" + prepend);
        if (!append.empty()) extra.push_back("GANTRY_APPEND_PATH=" + append);
        apptainer_add_env(config, extra);
        return;
    }
    if (prepend.empty() && append.empty()) return;
    std::string path = apptainer_image_path(config);
    if (!prepend.empty()) path = prepend + ":" + path;
    if (!append.empty()) path += ":" + append;
    apptainer_add_env(config, {"PATH=" + path});
}

// `gantry apptainer`'s action (R.apptainer_action) on the image: Apptainer's action scripts
// (sif::action_entrypoint) for a SIF, docker's entrypoint where a store image's runscript would
// be it (Apptainer converts one so, sif::apptainer_files)
void apptainer_apply_action(nlohmann::json& config, const RunRequest& r, const sqsh::Facts* facts,
                            const std::string& file) {
    const std::string& action = r.apptainer_action;
    const bool classic = facts && facts->sif;
    if (action != "exec" && classic && !facts->sif->shell)
        throw Error(Errc::run_failed,
                    file + " has no /bin/sh, which runs Apptainer's " + action + " action",
                    "run a program of the image: gantry apptainer exec " + file + " PROGRAM");
    if (action == "exec") {
        // the command itself, after the environment scripts (the config's entrypoint sources
        // them where the image has any); a store image's ENTRYPOINT is not run, as Apptainer's
        if (!classic) config["Entrypoint"] = nlohmann::json::array();
        return;
    }
    if (action == "run" && !classic) return; // ENTRYPOINT, then the arguments or CMD
    config["Entrypoint"] = sif::action_entrypoint(action);
    config["Cmd"] = nlohmann::json::array();
    if (action == "start" && !r.name.empty())
        apptainer_add_env(config,
                          {"APPTAINER_INSTANCE=" + r.name, "SINGULARITY_INSTANCE=" + r.name});
}

} // namespace

std::vector<std::string> apptainer_env_from(const char* const* environ) {
    std::vector<std::string> singularity, apptainer;
    for (const char* const* e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        for (auto [prefix, out] : {std::pair{std::string_view("SINGULARITYENV_"), &singularity},
                                   std::pair{std::string_view("APPTAINERENV_"), &apptainer}}) {
            if (!kv.starts_with(prefix)) continue;
            auto rest = kv.substr(prefix.size());
            auto eq = rest.find('=');
            if (eq == std::string_view::npos || eq == 0) continue;
            out->emplace_back(rest);
        }
    }
    singularity.insert(singularity.end(), apptainer.begin(), apptainer.end());
    return singularity;
}

void apply_apptainer(rootfs::RunView& view, const RunRequest& r, const sqsh::Facts* facts,
                     const std::string& file) {
    // a SIF file: classic (Apptainer's metadata read) or OCI-SIF (its OCI config the run's)
    const bool sif = facts && (facts->sif || facts->oci_sif);
    const bool door = !r.apptainer_action.empty();
    if (r.apptainer_test && r.entrypoint)
        throw Error(Errc::usage,
                    "gantry test runs the image's /.singularity.d/test: --entrypoint would "
                    "replace it",
                    "drop --entrypoint, or run the command with gantry run");
    if (!sif && !r.apptainer_test && !door) return;
    auto& config = apptainer_config_of(view);
    if (!r.apptainer_host_env.empty()) { // under the image's own Env (and its scripts)
        nlohmann::json env = nlohmann::json::array();
        for (const auto& e : r.apptainer_host_env) env.push_back(e);
        if (config.contains("Env") && config["Env"].is_array())
            for (auto& e : config["Env"]) env.push_back(e);
        config["Env"] = std::move(env);
    }
    if (sif) {
        apptainer_add_env(config,
                          sif::runtime_env(fs::stdfs::absolute(file).lexically_normal().string()));
        apptainer_add_caller_env(config, r,
                                 facts->sif && facts->sif->shell && facts->sif->env_scripts);
    } else if (door) {
        apptainer_add_caller_env(config, r, false);
    }
    if (door) {
        apptainer_apply_action(config, r, sif ? facts : nullptr, file.empty() ? r.image : file);
        return;
    }
    if (r.apptainer_test) {
        if (sif && facts->sif && !facts->sif->shell)
            throw Error(Errc::run_failed,
                        file + " has no /bin/sh, which gantry test runs the image's " +
                            sif::kTestscript + " through (as Apptainer's action script)",
                        "run the test as a command: gantry run --rm " + file + " " +
                            sif::kTestscript);
        config["Entrypoint"] = sif::action_entrypoint("test");
        config["Cmd"] = nlohmann::json::array();
        return;
    }
    // `apptainer instance start`: a detached run with no command of an image with a startscript,
    // or of one of its SCIF apps (--app: its %appstart, which the action script finds)
    const bool app = std::any_of(r.env.begin(), r.env.end(), [](const std::string& e) {
        return e.starts_with("APPTAINER_APPNAME=");
    });
    if (!r.detach || !r.command.empty() || r.entrypoint || !facts->sif ||
        (!facts->sif->startscript && !app))
        return;
    if (!facts->sif->shell)
        throw Error(Errc::run_failed,
                    file + " has no /bin/sh, which runs its " + sif::kStartscript +
                        " (as Apptainer's action script)",
                    "give the command to run: gantry run -d " + file + " COMMAND");
    log::note("running " + file + "'s " + sif::kStartscript +
              " (a detached run without a command, as `apptainer instance start`)");
    config["Entrypoint"] = sif::action_entrypoint("start");
    config["Cmd"] = nlohmann::json::array();
    if (!r.name.empty())
        apptainer_add_env(config,
                          {"APPTAINER_INSTANCE=" + r.name, "SINGULARITY_INSTANCE=" + r.name});
}

void add_apptainer_passwd(Prepared& p) {
    if (p.request.apptainer_action.empty() || p.view.passwd.empty()) return;
    const passwd* pw = ::getpwuid(p.caller.uid);
    if (!pw || !pw->pw_name) return; // a caller without an entry: nothing to give
    std::string home;
    for (const auto& e : p.request.env)
        if (e.starts_with("HOME=")) home = e.substr(5);
    const std::string uid = std::to_string(p.spec.uid);
    std::string out;
    bool found = false;
    for (auto line : text::split(p.view.passwd, '\n')) {
        if (line.empty()) continue;
        std::vector<std::string> f;
        for (auto x : text::split(line, ':')) f.emplace_back(x);
        if (!found && f.size() == 7 && f[2] == uid) {
            found = true;
            if (p.spec.uid != 0) {
                f[0] = pw->pw_name;
                f[4] = pw->pw_gecos ? pw->pw_gecos : "";
            }
            if (!home.empty()) f[5] = home;
            out += text::join(f, ":") + "\n";
            continue;
        }
        out += std::string(line) + "\n";
    }
    if (!found)
        out += std::string(pw->pw_name) + ":x:" + uid + ":" + std::to_string(p.spec.gid) + ":" +
               (pw->pw_gecos ? pw->pw_gecos : "") + ":" + (home.empty() ? "/" : home) + ":" +
               (pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh") + "\n";
    auto file = p.scratch->dir() / "passwd";
    fs::write_atomic(file, out, 0644, fs::Sync::volatile_only);
    p.spec.mounts.push_back(
        oci::Mount{"/etc/passwd", "bind", file.string(), {"bind", "ro", "nosuid", "nodev"}});
}

} // namespace gantry::engine
