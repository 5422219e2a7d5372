#include "image_build/stage_state.hpp"

#include "image_build/ignore.hpp"
#include "image_build/instruction_error.hpp"
#include "image_build/ports.hpp"
#include "image_build/work_image.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <ctime>

namespace gantry::image_build {
namespace {

// KEY=VALUE pairs (or the legacy "KEY VALUE" form of ENV/LABEL), expanded.
std::vector<std::pair<std::string, std::string>> pairs(const StageState& st,
                                                       const dockerfile::Instruction& ins) {
    auto words = dockerfile::split_words(ins.args, st.escape);
    if (words.empty()) instruction_error(ins, "needs KEY=VALUE");
    std::vector<std::pair<std::string, std::string>> out;
    if (words[0].find('=') == std::string::npos) {
        if (words.size() < 2) instruction_error(ins, "needs KEY=VALUE or KEY VALUE");
        std::string rest = ins.args.substr(ins.args.find(words[0]) + words[0].size());
        auto start = rest.find_first_not_of(" \t");
        out.emplace_back(st.expand(words[0]), st.expand(rest.substr(start)));
        return out;
    }
    for (const auto& w : words) {
        auto eq = w.find('=');
        if (eq == std::string::npos || eq == 0)
            instruction_error(ins, "'" + w + "' is not KEY=VALUE");
        out.emplace_back(st.expand(w.substr(0, eq)), st.expand(w.substr(eq + 1)));
    }
    return out;
}

// A WORKDIR as BuildKit records it (system.NormalizeWorkdir): a relative one joined to the
// current directory and cleaned (path.Join); an absolute one as written, but cleaned when it has
// a "." or ".." component, whose meaning is the same ("/../../x" is /x: ".." at / stays at /, as
// the kernel resolves it), so what the image records is the directory a step runs in.
std::string normalize_workdir(const std::string& current, const std::string& dir) {
    auto cleaned = [](const std::string& p) {
        std::string out;
        for (const auto& s : clean_segments(p)) out += "/" + s;
        return out.empty() ? std::string("/") : out;
    };
    if (dir[0] != '/') return cleaned((current.empty() ? "/" : current) + "/" + dir);
    for (std::size_t i = 0; i < dir.size();) {
        auto j = dir.find('/', i);
        if (j == std::string::npos) j = dir.size();
        std::string_view seg(dir.data() + i, j - i);
        if (seg == "." || seg == "..") return cleaned(dir);
        i = j + 1;
    }
    return dir;
}

// The bytes the config's Env and Labels hold: checked after each ENV and LABEL so a chain
// of values that would make a config the store refuses stops at the line that does it.
void check_config_size(const dockerfile::Instruction& ins, const nlohmann::json& config) {
    std::uint64_t n = 0;
    if (config.contains("Env") && config["Env"].is_array())
        for (const auto& e : config["Env"])
            n += (e.is_string() ? e.get_ref<const std::string&>().size() : 0) + 4;
    if (config.contains("Labels") && config["Labels"].is_object())
        for (const auto& [k, v] : config["Labels"].items())
            n += k.size() + (v.is_string() ? v.get_ref<const std::string&>().size() : 0) + 6;
    if (n > kMaxConfigBytes)
        instruction_error(ins, "the image's environment and labels grow to " + std::to_string(n) +
                                   " bytes, more than an image config may have (" +
                                   std::to_string(kMaxConfigBytes) + ")");
}

nlohmann::json command(const StageState& st, const dockerfile::Instruction& ins) {
    if (ins.json) return ins.json_args;
    auto argv = st.shell;
    argv.push_back(ins.args);
    return argv;
}

} // namespace

dockerfile::Env StageState::expansion_env() const {
    dockerfile::Env env = args;
    if (config.contains("Env"))
        for (const auto& e : config["Env"]) {
            auto s = e.get<std::string>();
            auto eq = s.find('=');
            env[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
        }
    return env;
}

std::string StageState::expand(const std::string& raw) const {
    return dockerfile::expand_word(raw, expansion_env(), escape).value;
}

std::optional<std::string> StageState::apply(const dockerfile::Instruction& ins,
                                             const dockerfile::Env& build_args,
                                             const dockerfile::Env& global_args) {
    const std::string& k = ins.keyword;
    std::string created_by = k + " " + ins.args;
    if (k == "ENV") {
        auto env = config.value("Env", nlohmann::json::array());
        for (const auto& [name, value] : pairs(*this, ins)) {
            nlohmann::json next = nlohmann::json::array();
            for (const auto& e : env)
                if (e.get<std::string>().rfind(name + "=", 0) != 0) next.push_back(e);
            next.push_back(name + "=" + value);
            env = next;
        }
        config["Env"] = env;
        check_config_size(ins, config);
    } else if (k == "ARG") {
        created_by = "ARG";
        for (const auto& w : dockerfile::split_words(ins.args, escape)) {
            auto eq = w.find('=');
            std::string name = w.substr(0, eq);
            if (!dockerfile::is_var_name(name))
                instruction_error(ins, "invalid name '" + name + "'");
            std::string value;
            if (auto b = build_args.find(name); b != build_args.end())
                value = b->second;
            else if (eq != std::string::npos)
                value = expand(w.substr(eq + 1));
            else if (auto g = global_args.find(name); g != global_args.end())
                value = g->second;
            args[name] = value;
            created_by += " " + name + "=" + value;
        }
    } else if (k == "WORKDIR") {
        std::string dir = expand(ins.args);
        if (dir.empty()) instruction_error(ins, "needs a directory");
        config["WorkingDir"] = normalize_workdir(config.value("WorkingDir", std::string("/")), dir);
    } else if (k == "USER") {
        std::string user = expand(ins.args);
        if (user.empty()) instruction_error(ins, "needs a user");
        config["User"] = user;
    } else if (k == "LABEL") {
        for (const auto& [name, value] : pairs(*this, ins)) config["Labels"][name] = value;
        check_config_size(ins, config);
    } else if (k == "EXPOSE") {
        for (const auto& w : dockerfile::split_words(ins.args, escape))
            for (const auto& port : exposed_ports(expand(w)))
                config["ExposedPorts"][port] = nlohmann::json::object();
    } else if (k == "CMD") {
        config["Cmd"] = command(*this, ins);
        cmd_set = true;
    } else if (k == "ENTRYPOINT") {
        config["Entrypoint"] = command(*this, ins);
        if (!cmd_set) config.erase("Cmd");
    } else if (k == "VOLUME") {
        std::vector<std::string> vols = ins.json_args;
        if (!ins.json)
            for (const auto& w : dockerfile::split_words(ins.args, escape))
                vols.push_back(expand(w));
        for (const auto& v : vols) config["Volumes"][v] = nlohmann::json::object();
    } else if (k == "STOPSIGNAL") {
        config["StopSignal"] = expand(ins.args);
    } else if (k == "SHELL") {
        if (!ins.json || ins.json_args.empty())
            instruction_error(ins, "needs a JSON array: SHELL [\"/bin/sh\", \"-c\"]");
        shell = ins.json_args;
        config["Shell"] = shell;
    } else if (k == "MAINTAINER") {
        // Deprecated; docker records it as the image author, nothing in config.
    } else {
        return std::nullopt;
    }
    return created_by;
}

void add_history(nlohmann::json& image_config, const std::string& created_by, bool empty_layer,
                 std::int64_t created) {
    nlohmann::json h = {{"created", text::rfc3339(created)},
                        {"created_by", created_by},
                        {"comment", "buildkit.dockerfile.v0"}};
    if (empty_layer) h["empty_layer"] = true;
    image_config["history"].push_back(h);
}

} // namespace gantry::image_build
