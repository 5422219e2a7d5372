#include "image_build/instructions.hpp"

#include "image_build/definition.hpp"
#include "image_build/instruction_error.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>

namespace gantry::image_build {
namespace {

std::string trim(const std::string& s) {
    return std::string(text::trim(s));
}

} // namespace

std::vector<std::string> run_argv(const StageState& st, const dockerfile::Instruction& ins) {
    if (ins.json) {
        if (ins.json_args.empty()) instruction_error(ins, "an empty command");
        return ins.json_args;
    }
    std::string cmd = trim(ins.args);
    if (cmd.empty()) instruction_error(ins, "no command");
    auto argv = st.shell;
    if (ins.heredocs.empty()) {
        argv.push_back(cmd);
        return argv;
    }
    // "RUN <<EOF" alone: the body is the script
    const auto& h = ins.heredocs.front();
    std::string alone = cmd;
    alone.erase(std::remove(alone.begin(), alone.end(), '\''), alone.end());
    alone.erase(std::remove(alone.begin(), alone.end(), '"'), alone.end());
    if (ins.heredocs.size() == 1 && (alone == "<<" + h.name || alone == "<<-" + h.name)) {
        argv.push_back(h.content);
        return argv;
    }
    std::string script = cmd + "\n";
    for (const auto& d : ins.heredocs) script += d.content + d.name + "\n";
    argv.push_back(script);
    return argv;
}

nlohmann::json healthcheck(const StageState& st, const dockerfile::Instruction& ins) {
    std::string args = trim(ins.args);
    std::string upper = args.substr(0, 4);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (upper == "NONE" && trim(args.substr(4)).empty() && ins.flags.empty())
        return {{"Test", {"NONE"}}};
    if (upper != "CMD" && upper != "CMD ")
        if (!(upper.size() >= 3 && upper.substr(0, 3) == "CMD"))
            instruction_error(ins, "needs NONE or CMD COMMAND");
    nlohmann::json hc = nlohmann::json::object();
    std::string rest = trim(args.substr(3));
    if (rest.empty()) instruction_error(ins, "CMD needs a command");
    if (rest.front() == '[') {
        nlohmann::json arr;
        try {
            arr = nlohmann::json::parse(rest);
        } catch (const nlohmann::json::exception&) {
            instruction_error(ins, "the exec form is not a JSON array of strings");
        }
        std::vector<std::string> test{"CMD"};
        for (const auto& a : arr) {
            if (!a.is_string())
                instruction_error(ins, "the exec form is not a JSON array of strings");
            test.push_back(a.get<std::string>());
        }
        hc["Test"] = test;
    } else {
        hc["Test"] = {"CMD-SHELL", rest};
    }
    for (const auto& f : ins.flags) {
        try {
            if (f.name == "interval")
                hc["Interval"] = parse_duration(st.expand(f.value));
            else if (f.name == "timeout")
                hc["Timeout"] = parse_duration(st.expand(f.value));
            else if (f.name == "start-period")
                hc["StartPeriod"] = parse_duration(st.expand(f.value));
            else if (f.name == "start-interval")
                hc["StartInterval"] = parse_duration(st.expand(f.value));
            else if (f.name == "retries") {
                std::string v = st.expand(f.value);
                if (v.empty() || v.size() > 6 ||
                    v.find_first_not_of("0123456789") != std::string::npos)
                    instruction_error(ins, "--retries=" + v + " is not a count");
                hc["Retries"] = std::stoi(v);
            } else
                instruction_error(ins, "unknown flag --" + f.name);
        } catch (const Error& e) {
            if (e.message().starts_with("line ")) throw;
            instruction_error(ins, "--" + f.name + ": " + e.message(), e.hint());
        }
    }
    return hc;
}

CopyWords copy_words(const StageState& st, const dockerfile::Instruction& ins) {
    if (!ins.heredocs.empty())
        instruction_error(ins, "heredoc sources are not supported",
                          "put the file in the build context");
    std::vector<std::string> words;
    if (ins.json) {
        for (const auto& a : ins.json_args) words.push_back(st.expand(a));
    } else {
        for (const auto& w : dockerfile::split_words(ins.args, st.escape))
            words.push_back(st.expand(w));
    }
    if (words.size() < 2) instruction_error(ins, "needs SOURCE... DEST");
    CopyWords out;
    out.dest = words.back();
    words.pop_back();
    out.sources = std::move(words);
    return out;
}

void check_flags(const dockerfile::Instruction& ins,
                 std::initializer_list<std::string_view> known) {
    for (const auto& f : ins.flags)
        if (std::find(known.begin(), known.end(), f.name) == known.end())
            instruction_error(ins, "the flag --" + f.name + " is not supported by gantry build",
                              "see docs/build.md for the flags of " + ins.keyword);
}

void check_supported(const dockerfile::Instruction& ins) {
    const auto& k = ins.keyword;
    auto refuse = [&](const std::string& what, const std::string& hint) {
        throw Error(Errc::unsupported, "line " + std::to_string(ins.line) + ": " + what, hint);
    };
    if (k == "RUN") {
        check_flags(ins, {"mount", "network", "security", "device", kDockerEnvFlag});
        if (const auto* f = ins.flag("security"); f && f->value != "sandbox")
            refuse("RUN --security=" + f->value + " is not supported",
                   "gantry build runs every step unprivileged");
        for (const auto* f : ins.flags_named("mount"))
            if (f->value.find("type=ssh") != std::string::npos)
                refuse("RUN --mount=type=ssh is not supported",
                       "pass what the step needs with --mount=type=secret");
    } else if (k == "ADD") {
        check_flags(ins, {"chown", "chmod", "link", "checksum", "keep-git-dir"});
    } else if (k == "COPY") {
        check_flags(ins, {"from", "chown", "chmod", "link"});
    }
}

} // namespace gantry::image_build
