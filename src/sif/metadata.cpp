#include "sif/metadata.hpp"

#include "util/error.hpp"
#include "util/json.hpp"

#include <cctype>

namespace gantry::sif {

void add_labels(nlohmann::json& into, std::string_view text, const std::string& what) {
    if (text.size() > kMaxLabels)
        throw Error(Errc::invalid,
                    what + " is over " + std::to_string(kMaxLabels >> 20) + " MiB of labels",
                    "write smaller labels");
    auto doc = safe_json::parse(text, what);
    if (!doc.is_object())
        throw Error(Errc::invalid, what + " is not a JSON object of labels",
                    "write it as {\"name\": \"value\", ...}");
    for (auto& [k, v] : doc.items()) into[k] = v.is_string() ? v.get<std::string>() : v.dump();
}

// The environment scripts sourced in their order, as Apptainer's action scripts do, with what
// the run sets itself winning over them as in Apptainer (-e, APPTAINERENV_X): the variables
// named in GANTRY_KEEP_ENV (shell names, checked by the engine) are saved before and restored
// after; GANTRY_PREPEND_PATH / GANTRY_APPEND_PATH extend the PATH the scripts leave.
namespace {
std::string sif_source_env_scripts() {
    return R"(for gantry_n in $GANTRY_KEEP_ENV; do eval "gantry_v_$gantry_n=\"\$$gantry_n\""; done; )"
           R"(for f in /.singularity.d/env/*.sh; do if [ -f "$f" ]; then . "$f"; fi; done; )"
           // Apptainer's 95-apps.sh: the SCIF app --app names, its directories and environment
           R"(if [ -n "${SINGULARITY_APPNAME:-}" ]; then export SINGULARITY_APPNAME; )"
           R"(a=/scif/apps/$SINGULARITY_APPNAME; if [ ! -d "$a/" ]; then )"
           R"(echo "Could not locate the container application: $SINGULARITY_APPNAME"; exit 1; fi; )"
           R"(SCIF_APPS=/scif/apps; SCIF_APPROOT=$a; export SCIF_APPROOT SCIF_APPS; PATH="$a:$PATH"; )"
           R"(if [ -d "$a/bin" ]; then PATH="$a/bin:$PATH"; fi; if [ -d "$a/lib" ]; then )"
           R"(LD_LIBRARY_PATH="$a/lib:$LD_LIBRARY_PATH"; export LD_LIBRARY_PATH; fi; )"
           R"(for f in "$a/scif/env/01-base.sh" "$a/scif/env/90-environment.sh"; do )"
           R"(if [ -f "$f" ]; then . "$f"; fi; done; unset a; fi; )"
           R"(for gantry_n in $GANTRY_KEEP_ENV; do eval "export $gantry_n=\"\$gantry_v_$gantry_n\"; )"
           R"(unset gantry_v_$gantry_n"; done; )"
           R"(if [ -n "$GANTRY_PREPEND_PATH" ]; then PATH="$GANTRY_PREPEND_PATH:$PATH"; fi; )"
           R"(if [ -n "$GANTRY_APPEND_PATH" ]; then PATH="$PATH:$GANTRY_APPEND_PATH"; fi; )"
           R"(export PATH; unset gantry_n GANTRY_KEEP_ENV GANTRY_PREPEND_PATH GANTRY_APPEND_PATH; )";
}
} // namespace

nlohmann::json env_entrypoint() {
    return {"/bin/sh", "-c", sif_source_env_scripts() + "exec \"$@\"",
            "/.singularity.d/actions/exec"};
}

nlohmann::json action_entrypoint(std::string_view action) {
    std::string body;
    // with --app (SINGULARITY_APPNAME), the app's runscript or test (run.sh, test.sh)
    auto app = [](const char* script, const char* what) {
        return std::string(R"(if [ -n "${SINGULARITY_APPNAME:-}" ]; then )"
                           R"(if [ -x "/scif/apps/$SINGULARITY_APPNAME/scif/)") +
               script + R"(" ]; then exec "/scif/apps/$SINGULARITY_APPNAME/scif/)" + script +
               R"(" "$@"; fi; echo "No Apptainer )" + what +
               R"( for contained app: $SINGULARITY_APPNAME"; exit 1; fi; )";
    };
    if (action == "run") // Apptainer's run.sh (internal/pkg/build/sources/run.sh)
        body = app("runscript", "runscript") + "if [ -x " + kRunscript + " ]; then exec " +
               kRunscript +
               " \"$@\"; fi; echo 'No Apptainer runscript found, executing /bin/sh'; "
               "exec /bin/sh \"$@\"";
    else if (action == "shell") // Apptainer's shell.sh: $SINGULARITY_SHELL, bash --norc, sh
        body = R"(if [ -n "$SINGULARITY_SHELL" ] && [ -x "$SINGULARITY_SHELL" ]; then )"
               R"(exec "$SINGULARITY_SHELL" "$@"; elif [ -x /bin/bash ]; then SHELL=/bin/bash; )"
               R"(PS1="Apptainer $APPTAINER_NAME:\w> "; export SHELL PS1; )"
               R"(exec /bin/bash --norc "$@"; elif [ -x /bin/sh ]; then SHELL=/bin/sh; )"
               R"(export SHELL; exec /bin/sh "$@"; fi; )"
               R"(echo 'ERROR: /bin/sh does not exist in container' >&2; exit 1)";
    else {
        std::string script = action == "test" ? kTestscript : kStartscript;
        std::string missing = action == "test" ? "echo 'gantry test: the image has no test "
                                                 "script (" +
                                                     script + "): nothing to run' >&2; "
                                               : std::string();
        body = (action == "test" ? app("test", "test") : app("startscript", "startscript")) +
               "if [ -x " + script + " ]; then exec " + script + " \"$@\"; fi; " + missing +
               "exit 0";
    }
    return {"/bin/sh", "-c", sif_source_env_scripts() + body,
            "/.singularity.d/actions/" + std::string(action)};
}

std::vector<std::string> runtime_env(const std::string& path) {
    auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::vector<std::string> out;
    for (const char* prefix : {"APPTAINER_", "SINGULARITY_"}) {
        out.push_back(std::string(prefix) + "CONTAINER=" + path);
        out.push_back(std::string(prefix) + "NAME=" + name);
        out.push_back(std::string(prefix) + "ENVIRONMENT=/.singularity.d/env/91-environment.sh");
    }
    return out;
}

nlohmann::json image_config(const Metadata& md, const std::string& arch) {
    nlohmann::json config = {
        {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}};
    if (!md.labels.empty()) config["Labels"] = md.labels;
    if (md.shell && md.env_scripts) config["Entrypoint"] = env_entrypoint();
    if (md.runscript)
        config["Cmd"] = {kRunscript};
    else if (md.shell)
        config["Cmd"] = {"/bin/sh"}; // `apptainer run` of an image without one starts a shell
    nlohmann::json doc = {{"os", "linux"}, {"config", config}};
    if (arch != "unknown") doc["architecture"] = arch;
    return doc;
}

namespace {

// WORD single-quoted for sh: every byte kept, a quote written as '\''.
std::string sif_sh_quote(const std::string& word) {
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string sif_sh_words(const nlohmann::json& list) {
    std::string out;
    if (list.is_array())
        for (auto& w : list)
            if (w.is_string()) out += " " + sif_sh_quote(w.get<std::string>());
    return out;
}

bool sif_sh_name(const std::string& n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
    for (char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

} // namespace

std::string docker_env_script(const nlohmann::json& env) {
    std::string out = "#!/bin/sh\n";
    if (!env.is_array()) return out;
    for (const auto& e : env) {
        if (!e.is_string()) continue;
        const std::string kv = e.get<std::string>();
        auto eq = kv.find('=');
        std::string name = kv.substr(0, eq);
        if (!sif_sh_name(name)) continue;
        if (eq == std::string::npos) {
            out += "export " + name + "=\"${" + name + ":-}\"\n";
            continue;
        }
        std::string value;
        for (char c : kv.substr(eq + 1)) {
            if (c == '\\' || c == '"' || c == '$' || c == '`') value += '\\';
            value += c;
        }
        out += name == "PATH" ? "export PATH=\"" + value + "\"\n"
                              : "export " + name + "=\"${" + name + ":-\"" + value + "\"}\"\n";
    }
    return out;
}

std::vector<File> apptainer_files(const nlohmann::json& doc) {
    static const nlohmann::json none = nlohmann::json::object();
    const auto& c = doc.contains("config") && doc["config"].is_object() ? doc["config"] : none;
    std::vector<File> out;
    out.push_back({".singularity.d", "", 0755, true});
    out.push_back({".singularity.d/env", "", 0755, true});
    nlohmann::json labels =
        c.contains("Labels") && c["Labels"].is_object() ? c["Labels"] : nlohmann::json::object();
    out.push_back({kLabelsFile, labels.dump(4) + "\n", 0644});
    std::string env = "#!/bin/sh\n# the image's Env, written by gantry save --format sif\n";
    if (c.contains("Env") && c["Env"].is_array())
        for (auto& e : c["Env"]) {
            std::string kv = e.is_string() ? e.get<std::string>() : e.dump();
            auto eq = kv.find('=');
            if (eq == std::string::npos || !sif_sh_name(kv.substr(0, eq)))
                throw Error(Errc::invalid,
                            "the image's Env entry \"" + kv +
                                "\" is not NAME=VALUE with a name a shell can export",
                            "fix the image's ENV, or save it in another format");
            env += "export " + kv.substr(0, eq) + "=" + sif_sh_quote(kv.substr(eq + 1)) + "\n";
        }
    out.push_back({std::string(kEnvDir) + "/10-docker2singularity.sh", env, 0755});
    // an image whose command is Apptainer's runscript already (a definition file's %runscript,
    // gantry build -f FILE.def) keeps it: one written from that command would run itself
    auto ep = c.value("Entrypoint", nlohmann::json());
    if (c.value("Cmd", nlohmann::json()) == nlohmann::json::array({kRunscript}) &&
        (ep.is_null() || ep.empty() || ep == env_entrypoint()))
        return out;
    std::string entry = sif_sh_words(ep);
    std::string cmd = sif_sh_words(c.value("Cmd", nlohmann::json()));
    std::string run =
        "#!/bin/sh\n# the image's Entrypoint and Cmd, written by gantry save --format sif\n";
    if (c.contains("WorkingDir") && c["WorkingDir"].is_string() &&
        !c["WorkingDir"].get<std::string>().empty())
        run += "cd " + sif_sh_quote(c["WorkingDir"].get<std::string>()) + " || exit 1\n";
    if (entry.empty()) {
        run += "if [ $# -gt 0 ]; then exec \"$@\"; fi\n";
        run += cmd.empty() ? "echo 'the image has no command' >&2\nexit 1\n" : "exec" + cmd + "\n";
    } else {
        run += "if [ $# -gt 0 ]; then exec" + entry + " \"$@\"; fi\nexec" + entry + cmd + "\n";
    }
    out.push_back({std::string(kRunscript).substr(1), run, 0755});
    return out;
}

} // namespace gantry::sif
