// gantry: the command-line front end. Each command lives in its own file; this one sets up
// global flags, runs the chosen command and turns errors into one line, a hint and an exit code.
#include "cli/context.hpp"
#include "dispatch/command_line.hpp"
#include "dispatch/docker_verbs.hpp"
#include "store/store.hpp"
#include "util/columns.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace gantry::cli {

std::string Context::store_root() const {
    if (const char* env = std::getenv("GANTRY_ROOT"); env && *env) return env;
    if (!root.empty()) return root;
    return store::default_root().string();
}

store::Store& Context::store() {
    if (!store_) store_ = std::make_unique<store::Store>(store_root());
    return *store_;
}

LazyOptions::LazyOptions(CLI::App* cmd, const std::vector<std::string_view>& args) : cmd_(cmd) {
    for (auto a : args) {
        if (a.size() < 2 || a[0] != '-' || a == "--") continue;
        if (a[1] != '-') {
            shorts_.append(a.substr(1));
            continue;
        }
        auto name = a.substr(2, a.find('=') == a.npos ? a.npos : a.find('=') - 2);
        if (name.starts_with("help")) all_ = true;
        longs_.push_back(name);
    }
    if (shorts_.find('h') != std::string::npos) all_ = true;
}

CLI::Option* LazyOptions::grouped(const char* group, CLI::Option* o) {
    if (group) o->group(group);
    return o;
}

CLI::Option* LazyOptions::list(const char* group, const std::string& names,
                               std::vector<std::string>& var, const std::string& help) {
    auto* o = option(group, names, var, help);
    if (o) o->allow_extra_args(false);
    return o;
}

CLI::Option* LazyOptions::flag(const char* group, const std::string& names, bool& var,
                               const std::string& help) {
    return may_name(names) ? grouped(group, cmd_->add_flag(names, var, help)) : nullptr;
}

std::shared_ptr<std::vector<std::string>>
LazyOptions::operands(const std::string& name, const std::string& help, const std::string& usage) {
    auto words = std::make_shared<std::vector<std::string>>();
    cmd_->add_option(name, *words, help)->expected(1, -1);
    cmd_->positionals_at_end();
    if (!all_) return words;
    struct WithOperands : CLI::Formatter {
        std::string operands;
        std::string make_usage(const CLI::App*, std::string name) const override {
            return get_label("Usage") + ": " + name + " [" + get_label("OPTIONS") + "] " +
                   operands + "\n";
        }
    };
    auto f = std::make_shared<WithOperands>(); // its own: the parent's is shared
    f->operands = usage;
    cmd_->formatter(f);
    return words;
}

bool LazyOptions::may_name(std::string_view names) const {
    if (all_) return true;
    for (size_t p = 0; p < names.size();) {
        size_t q = std::min(names.find(',', p), names.size());
        auto n = names.substr(p, q - p);
        p = q + 1;
        if (n.starts_with("--")) {
            if (std::find(longs_.begin(), longs_.end(), n.substr(2)) != longs_.end()) return true;
        } else if (n.size() == 2 && n[0] == '-') {
            if (shorts_.find(n[1]) != std::string::npos) return true;
        } else
            return true; // a form the scan does not know (a positional, "-long"): built
    }
    return false;
}

std::string human_size(std::uint64_t b) {
    return units::human_size(b);
}

int print_listing(bool json, bool quiet, const nlohmann::json& items,
                  const std::vector<std::vector<std::string>>& rows) {
    if (json)
        std::printf("%s\n", safe_json::dump_lossy(items, 2).c_str());
    else if (!quiet)
        print_table(rows);
    return 0;
}

int print_formatted(const std::string& format, const gotemplate::Listing& listing,
                    const std::vector<nlohmann::json>& rows) {
    std::fputs(gotemplate::Format::parse(format, listing).render(rows).c_str(), stdout);
    return 0;
}

void refuse_json_with_format(bool json, const std::string& format) {
    if (json && !format.empty())
        throw Error(Errc::usage, "--json and --format: choose one",
                    "--format '{{json .}}' prints docker's fields, --json gantry's");
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::fputs(text::columns(rows).c_str(), stdout);
}

// The commands: only the invoked one is built (dispatch::find_command picks it), as CLI11
// constructing all ~25 command trees is measurable start-up time on every `gantry run`. Help,
// --version and unknown names get all of them.
struct Command {
    const char* names; // space-separated, aliases included
    void (*add)(CLI::App&, Context&);
    void (*prestart)(Context&) = nullptr; // work begun before CLI11 is built
};
constexpr Command kCommands[] = {
    {"pull", register_pull},
    {"push", register_push},
    {"login logout", register_login},
    {"load", register_load},
    {"save", register_save},
    {"images ls", register_images},
    {"inspect", register_inspect},
    {"history", register_history},
    {"import", register_import},
    {"version", register_version},
    {"tag", register_tag},
    {"sign", register_sign},
    {"verify", register_verify},
    {"info", register_info},
    {"rmi", register_rmi},
    {"system", register_system},
    {"builder", register_builder},
    {"run", register_run, prestart_run},
    {"test", register_test},
    {"apptainer", register_apptainer},
    {"bundle", register_bundle},
    {"oci", register_oci},
    {"exec", register_exec},
    {"ps", register_ps},
    {"stop", register_stop},
    {"kill", register_kill},
    {"pause", register_pause},
    {"unpause", register_unpause},
    {"rm", register_rm},
    {"container", register_container},
    {"logs", register_logs},
    {"attach", register_attach},
    {"wait", register_wait},
    {"diff", register_diff},
    {"commit __commit", register_commit}, // __commit: hidden, POST /commit's helper
    {"events", register_events},
    {"top", register_top},
    {"port", register_port},
    {"stats", register_stats},
    {"create", register_create},
    {"start", register_start},
    {"restart", register_restart},
    {"rename", register_rename},
    {"cp", register_cp},
    {"volume", register_volume},
    {"network", register_network},
    {"kernel-cache", register_kernel_cache},
    {"hook", register_hook},
    {"doctor", register_doctor},
    {"cdi", register_cdi},
    {"k8s", register_k8s},
    {"analyze", register_analyze},
    {"slim", register_slim},
    {"tailor", register_tailor},
    {"lint", register_lint},
    {"build", register_build},
    {"__restart", register_restart_by_policy},           // hidden: a restart policy's start
    {"__health", register_health_checker},               // hidden: a container's health checks
    {"__generate", register_manual_generator},           // hidden: the man pages and completions
    {"__complete", register_completion_names},           // hidden: names for the completion scripts
    {"__slurm-gpu-vendors", register_slurm_gpu_vendors}, // hidden: for src/spank/gpus.c
    {"__network-holder", register_network_holder},       // hidden: the user networks' holder
};

namespace {

// Prints ENDING's lines to stderr; its exit status.
int end_with(const dispatch::Ending& ending) {
    std::fputs(ending.message.c_str(), stderr);
    return ending.status;
}

} // namespace

} // namespace gantry::cli

#ifdef GANTRY_COVERAGE
extern "C" void __gcov_dump(); // gcov.h: writes the counters, as exit() would
#endif
#ifdef GANTRY_SANITIZE
#include <sanitizer/lsan_interface.h> // the ASan build (make test-asan)
#endif

int main(int argc, char** argv) {
    using namespace gantry;
    // A caller may have left SIGCHLD ignored (exec keeps SIG_IGN): the kernel would then reap
    // our children itself, and waiting for the container, a hook or a helper would hang.
    std::signal(SIGCHLD, SIG_DFL);
    // Called by path as an OCI runtime (a link named gantry-oci or runc): `gantry oci ...`; as
    // apptainer or singularity: `gantry apptainer ...`.
    std::vector<char*> oci_argv;
    if (argv[0] && dispatch::called_as_oci_runtime(argv[0])) {
        oci_argv = dispatch::as_oci_command(argc, argv);
        argv = oci_argv.data();
        ++argc;
    } else if (argv[0] && dispatch::called_as_apptainer(argv[0])) {
        // called as apptainer or singularity: `gantry apptainer ...`
        oci_argv = dispatch::as_apptainer_command(argc, argv);
        argv = oci_argv.data();
        ++argc;
    }
    // docker's management groups (`image ls`, `container rm`) as gantry's commands
    std::vector<std::string> group_words;
    std::vector<char*> group_argv;
    if (auto words = dispatch::expand_docker_group(std::span<char* const>(argv + 1, argc - 1))) {
        group_words = std::move(*words);
        group_argv.push_back(argv[0]);
        for (auto& w : group_words) group_argv.push_back(w.data());
        group_argv.push_back(nullptr);
        argv = group_argv.data();
        argc = static_cast<int>(group_argv.size()) - 1;
    }
    const std::span<char* const> line(argv + 1, argc - 1);
    cli::Context ctx;
    ctx.args.assign(argv + 1, argv + argc);
    const auto named = dispatch::find_command(std::span<const cli::Command>(cli::kCommands), line);
    const cli::Command* only = named.command;
    // a command gantry does not have, --help or not: refused by name, with the one to use
    if ((!only && !dispatch::command_word(line).empty()) ||
        dispatch::is_foreign_verb_of_own_group(line))
        return cli::end_with(dispatch::unknown_command(dispatch::command_as_written(line)));
    // Before anything else, so its work overlaps ours: the run's early start.
    if (only && only->prestart) only->prestart(ctx);
    // __generate renders the whole tree: every command, and (as under --help) every option
    const bool whole_tree = only && std::string_view(only->names) == "__generate";
    if (whole_tree) ctx.args.push_back("--help");
    CLI::App app{"gantry: a rootless, daemonless GPU container engine", "gantry"};
    app.require_subcommand(1);
    cli::LazyOptions global(&app, ctx.args);
    if (global.may_name("-v,--version"))
        app.set_version_flag("-v,--version", "gantry " GANTRY_VERSION);
    global.option(nullptr, "--root", ctx.root,
                  "Image store directory (default: $GANTRY_ROOT, /var/lib/gantry for root, "
                  "~/.local/share/gantry otherwise)");
    global.list(nullptr, "--image-store", ctx.image_stores,
                "A read-only shared image store (repeatable; also $GANTRY_IMAGE_STORES and the "
                "config file's image_stores), searched after the local store");
    global.flag(nullptr, "--debug", ctx.debug, "Print debug messages");
    global.flag(nullptr, "-q,--quiet", ctx.quiet, "Print only errors");
    app.footer("Exit status: 0 ok, 2 usage, 3 not found, 4 invalid input, 5 conflict, 6 I/O, "
               "7 unsupported, 8 network, 9 registry auth, 10 a check failed (doctor, lint, "
               "analyze --ci, slim --check), 11 refused by the site's image policy or a signature "
               "that does not verify (verify), "
               "125/126/127 run (see docs/exit-codes.md)");
    if (dispatch::needs_utf8_locale(only ? only->names : "")) std::setlocale(LC_CTYPE, "C.UTF-8");
    if (only && !whole_tree)
        only->add(app, ctx);
    else
        for (auto& c : cli::kCommands) c.add(app, ctx);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::ios_base::Init streams; // CLI11 prints with std::cout (see cli/cli11.hpp)
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        std::ios_base::Init streams;
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        std::ios_base::Init streams;
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return cli::end_with(dispatch::usage_error(e.what(), named.as_written));
    }
    log::set_level(ctx.debug   ? log::Level::debug
                   : ctx.quiet ? log::Level::quiet
                               : log::Level::normal);
    int status = 0;
    try {
        status = ctx.action ? ctx.action() : 0;
    } catch (const Error& e) {
        return cli::end_with(dispatch::command_error(e));
    } catch (const std::exception& e) {
        return cli::end_with(dispatch::internal_error(e));
    }
    // The command is done, and what is left to destroy (the option tree, the store's paths,
    // the heap) has no effect outside this process: exit without destructors, as compilers
    // do (clang's -disable-free): ~0.1 ms of every `gantry run`, after the workload's exit
    // (bench/README.md, session 8).
    std::fflush(nullptr);
#ifdef GANTRY_COVERAGE
    __gcov_dump();
#endif
#ifdef GANTRY_SANITIZE
    __lsan_do_leak_check(); // as LeakSanitizer does at exit(), which _exit skips
#endif
    ::_exit(status);
}
