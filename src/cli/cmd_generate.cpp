// Hidden commands for the build and the shells, not for users:
//   gantry __generate man|bash|zsh [--output DIR]   the manual rendered from this parser's tree
//   gantry __complete images|containers             names for the completion scripts
// main registers every command with every option for __generate (see register_manual_generator),
// and this file copies CLI11's tree into manual::Command, which manual/ renders.
#include "cli/context.hpp"
#include "manual/completion.hpp"
#include "manual/man_page.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace gantry::cli {

namespace {

// The usage line a command's own formatter writes after "[OPTIONS] " (LazyOptions::operands:
// "IMAGE [COMMAND [ARG...]]"), or "" when it is CLI11's, which the operands say as well.
std::string own_usage(const CLI::App& app) {
    auto* formatter = dynamic_cast<const CLI::Formatter*>(app.get_formatter().get());
    if (!formatter) return "";
    CLI::Formatter plain;
    std::string mine = formatter->make_usage(&app, app.get_name());
    if (mine == plain.make_usage(&app, app.get_name())) return "";
    auto at = mine.find("] ");
    if (at == std::string::npos) return "";
    std::string usage = mine.substr(at + 2);
    while (!usage.empty() && usage.back() == '\n') usage.pop_back();
    return usage;
}

manual::Command tree_of(const CLI::App& app) {
    manual::Command c;
    c.name = app.get_name();
    c.aliases = app.get_aliases();
    c.summary = app.get_description();
    c.footer = app.get_footer();
    c.usage = own_usage(app);
    for (const CLI::Option* o : app.get_options()) {
        if (o->get_group().empty()) continue; // hidden from --help: not for users
        if (o->get_positional()) {
            c.operands.push_back({o->get_name(true), o->get_description(), o->get_required(),
                                  o->get_items_expected_max() > 1});
            continue;
        }
        manual::Option m;
        for (const auto& s : o->get_snames()) m.names.push_back("-" + s);
        for (const auto& l : o->get_lnames()) m.names.push_back("--" + l);
        // as CLI11's --help (Formatter::make_option_opts): a flag has no type name
        if (o->get_type_size() != 0 && !o->get_type_name().empty()) m.value = o->get_type_name();
        m.help = o->get_description();
        m.group = o->get_group() == "Options" ? "" : o->get_group();
        m.repeatable = o->get_expected_max() > 1;
        c.options.push_back(std::move(m));
    }
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (sub->get_group().empty() || sub->get_name().starts_with("__")) continue;
        c.subcommands.push_back(tree_of(*sub));
    }
    return c;
}

// Writes FILE into DIR, or to standard output when DIR is empty.
void emit(const std::string& dir, const std::string& file, const std::string& text) {
    if (dir.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return;
    }
    fs::write_atomic(std::filesystem::path(dir) / file, text, 0644);
}

} // namespace

void register_manual_generator(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string what, output;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("__generate", "The man pages or a completion script");
    cmd->group(""); // hidden
    cmd->add_option("what", o->what, "man, bash or zsh")->required();
    cmd->add_option("--output", o->output, "Directory to write into (default: standard output)");
    cmd->callback([&app, &ctx, o] {
        ctx.action = [&app, o] {
            if (o->what != "man" && o->what != "bash" && o->what != "zsh")
                throw Error(Errc::usage, "__generate " + o->what + ": not man, bash or zsh",
                            "gantry __generate man --output DIR");
            auto root = tree_of(app);
            if (!o->output.empty()) fs::make_dirs(o->output);
            if (o->what == "man") {
                if (o->output.empty())
                    throw Error(Errc::usage, "__generate man writes one file per command",
                                "name the directory: gantry __generate man --output DIR");
                for (const auto& page : manual::man_pages(root, "gantry " GANTRY_VERSION))
                    emit(o->output, page.file, page.text);
            } else if (o->what == "bash") {
                emit(o->output, "gantry", manual::bash_completion(root));
            } else {
                emit(o->output, "_gantry", manual::zsh_completion(root));
            }
            return 0;
        };
    });
}

void register_completion_names(CLI::App& app, Context& ctx) {
    auto what = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("__complete", "Names for the shell completion scripts");
    cmd->group(""); // hidden
    cmd->add_option("what", *what, "images or containers")->required();
    cmd->callback([&ctx, what] {
        ctx.action = [&ctx, what] {
            if (*what == "images") {
                // a store that is not there has no images (and is not made by a TAB press)
                std::string root = ctx.store_root();
                if (::access((root + "/refs.json").c_str(), F_OK) != 0) return 0;
                // as stored (docker.io/library/sample:latest) and as users type it
                for (const auto& entry : ctx.store().refs()) {
                    std::string_view ref = entry.first;
                    std::printf("%s\n", entry.first.c_str());
                    for (std::string_view hub : {"docker.io/library/", "docker.io/"})
                        if (ref.starts_with(hub)) {
                            ref.remove_prefix(hub.size());
                            std::printf("%.*s\n", static_cast<int>(ref.size()), ref.data());
                            break;
                        }
                }
            } else if (*what == "containers") {
                records::StateDir states;
                for (const auto& s : states.list())
                    std::printf("%s\n", (s.name.empty() ? s.id : s.name).c_str());
            } else {
                throw Error(Errc::usage, "__complete " + *what + ": not images or containers",
                            "gantry __complete images");
            }
            return 0;
        };
    });
}

} // namespace gantry::cli
