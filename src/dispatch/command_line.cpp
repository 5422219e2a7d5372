#include "dispatch/command_line.hpp"

#include "dispatch/docker_verbs.hpp"
#include "util/error.hpp"
#include "util/printable.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <iterator>

namespace gantry::dispatch {

bool called_as_oci_runtime(std::string_view argv0) {
    auto name = argv0.substr(argv0.rfind('/') + 1);
    return name == "gantry-oci" || name == "runc";
}

std::vector<char*> as_oci_command(int argc, char** argv) {
    std::vector<char*> words(argv, argv + argc);
    words.insert(words.begin() + 1, const_cast<char*>("oci"));
    words.push_back(nullptr);
    return words;
}

bool called_as_apptainer(std::string_view argv0) {
    auto name = argv0.substr(argv0.rfind('/') + 1);
    return name == "apptainer" || name == "singularity";
}

std::vector<char*> as_apptainer_command(int argc, char** argv) {
    std::vector<char*> words(argv, argv + argc);
    words.insert(words.begin() + 1, const_cast<char*>("apptainer"));
    words.push_back(nullptr);
    return words;
}

std::string_view command_word(std::span<char* const> args) {
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "--root" || a == "--image-store") {
            ++i; // its value
            continue;
        }
        if (a.starts_with("-")) continue; // a global flag (or help/version: all commands)
        return a;
    }
    return {};
}

bool names_include(std::string_view names, std::string_view word) {
    for (size_t p = 0; p <= names.size();) {
        size_t q = std::min(names.find(' ', p), names.size());
        if (names.substr(p, q - p) == word) return true;
        p = q + 1;
    }
    return false;
}

bool needs_utf8_locale(std::string_view command) {
    static constexpr std::string_view no_locale[] = {"run",  "exec", "ps",   "stop",
                                                     "kill", "rm",   "hook", "oci"};
    return std::find(std::begin(no_locale), std::end(no_locale), command) == std::end(no_locale);
}

Ending usage_error(std::string_view what, std::string_view command) {
    if (command == "oci")
        return {"gantry-oci: " + text::printable(what) + "\nhint: see `gantry oci --help`\n", 1};
    std::string help = "gantry "; // the command's own help when the line names one
    if (!command.empty()) help.append(command).append(" ");
    std::string hint = unknown_flag_hint(command, first_unknown_flag(what));
    hint += (hint.empty() ? "see `" : "; see `") + help + "--help`";
    return {"gantry: error: " + text::printable(usage_message(what)) +
                "\nhint: " + text::printable(hint) + "\n",
            exit_status(Errc::usage)};
}

namespace {

// TEXT without the line ends it may carry (a message or hint that read them from a file or a
// child): each ends its line exactly once when printed
std::string_view one_line_end(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    return text;
}

} // namespace

// Each line is one line whatever the error quotes (a name, a path in a layer, a label, a
// registry's answer): every value through the one rule (util/printable.hpp).
Ending command_error(const Error& e) {
    std::string text = "gantry: error: " + text::printable(one_line_end(e.message())) + "\n";
    for (auto line : text::lines(one_line_end(e.detail())))
        text.append(text::printable(line)).append("\n");
    if (auto hint = one_line_end(e.hint()); !hint.empty())
        text.append("hint: ").append(text::printable(hint)).append("\n");
    return {text, exit_status(e.code())};
}

Ending internal_error(const std::exception& e) {
    return {"gantry: internal error: " + text::printable(e.what()) + "\n",
            exit_status(Errc::internal)};
}

} // namespace gantry::dispatch
