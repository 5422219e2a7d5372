#include "apptainer/instance.hpp"

#include "gotemplate/docker_format.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "sif/metadata.hpp"
#include "util/error.hpp"

#include <csignal>
#include <fnmatch.h>
#include <nlohmann/json.hpp>

namespace gantry::apptainer {

namespace {

// The running instances PATTERN matches, in the records' order
std::vector<records::ContainerState> instances_matching(const std::string& pattern) {
    std::vector<records::ContainerState> out;
    for (auto& s : records::StateDir().list()) {
        auto label = s.labels.find(kInstanceLabel);
        if (label == s.labels.end() || !s.running()) continue;
        if (!pattern.empty() && ::fnmatch(pattern.c_str(), label->second.c_str(), 0) != 0) continue;
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace

std::string instance_of(std::string_view image) {
    constexpr std::string_view scheme = "instance://";
    return image.starts_with(scheme) ? std::string(image.substr(scheme.size())) : std::string();
}

std::string instance_list(const std::string& pattern, bool json) {
    auto found = instances_matching(pattern);
    if (json) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const auto& s : found)
            list.push_back({{"instance", s.labels.at(kInstanceLabel)},
                            {"pid", s.pid},
                            {"img", s.image},
                            {"ip", ""},
                            {"logErrPath", ""},
                            {"logOutPath", ""}});
        nlohmann::ordered_json doc = {{"instances", list}};
        return doc.dump(1, '\t') + "\n";
    }
    // Go's tabwriter as Apptainer sets it: minwidth 0, padding 4
    std::string text = "INSTANCE NAME\tPID\tIP\tIMAGE\n";
    for (const auto& s : found)
        text +=
            s.labels.at(kInstanceLabel) + "\t" + std::to_string(s.pid) + "\t\t" + s.image + "\n";
    return gotemplate::tabwrite(text, 16 << 20, 0, 4);
}

std::vector<std::string> instance_stop(const std::string& pattern, bool all, double timeout,
                                       bool force, int signal) {
    if (pattern.empty() && !all)
        throw Error(Errc::usage, "instance stop needs an instance's name, or --all",
                    "gantry apptainer instance stop NAME");
    auto found = instances_matching(all ? std::string() : pattern);
    if (found.empty())
        throw Error(Errc::not_found,
                    all ? std::string("no instance is running")
                        : "no instance " + pattern + " is running",
                    "gantry apptainer instance list shows the running ones");
    std::vector<std::string> names;
    for (const auto& s : found) {
        auto stopped = s;
        stopped.stop_signal = force ? SIGKILL : signal;
        records::stop(stopped, timeout);
        records::EventJournal().append(records::container_event(s, "stop"));
        names.push_back(s.labels.at(kInstanceLabel));
    }
    return names;
}

std::vector<std::string> instance_command(const std::string& action,
                                          const std::vector<std::string>& command) {
    auto entry = action == "exec" ? sif::env_entrypoint() : sif::action_entrypoint(action);
    std::vector<std::string> argv;
    for (auto& w : entry) argv.push_back(w.get<std::string>());
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
}

} // namespace gantry::apptainer
