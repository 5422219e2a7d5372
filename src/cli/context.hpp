// What every command shares: global flags, the store, and output helpers.
#pragma once

#include "cli/cli11.hpp"
#include "engine/engine.hpp"
#include "gotemplate/docker_format.hpp"
#include "store/store.hpp"

#include <array>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::cli {

struct Context {
    std::string root;                      // --root (GANTRY_ROOT wins, as documented)
    std::vector<std::string> image_stores; // --image-store: read-only shared stores
    bool debug = false;
    bool quiet = false;
    std::function<int()> action;        // set by the chosen subcommand, run after parsing
    std::vector<std::string_view> args; // the command line, program name left out
    // Found by prestart_run before the line is parsed, for `run` to take: the early start it
    // began, and the caller with the id maps it looked up (not looked up twice).
    std::unique_ptr<runtime::EarlyStart> early_start;
    std::optional<engine::Caller> caller;

    store::Store& store();
    // The store's directory: $GANTRY_ROOT, else --root, else store::default_root()
    std::string store_root() const;

  private:
    std::unique_ptr<store::Store> store_;
};

// Builds a command's options only when its command line can name them. CLI11 spends ~10k
// instructions on each option it builds (names split, trimmed and checked against the others'),
// and `gantry run` has 35, built at every start: a line naming none of them builds none.
// A token "--NAME[=VALUE]" can name --NAME, a token "-abc" any option whose short name is a, b
// or c (a cluster, or -a with the value "bc"); every other token is a value or a positional. So
// an option left out cannot have been given, and CLI11 parses the line as it would with all of
// them. With -h or --help anywhere, all are built.
//
// GROUP titles an option's section of --help (CLI11's Option::group; null: "Options"). Not
// CLI11's option groups: those are nameless sub-commands, and an empty argument ("") matches
// them as a sub-command name, which sent CLI11 2.1 into an endless loop (`run '' --cpus 1`).
class LazyOptions {
  public:
    LazyOptions(CLI::App* cmd, const std::vector<std::string_view>& args);
    // CLI11's add_option when NAMES (CLI11's "-e,--env") may be on the line, else null.
    template <class T>
    CLI::Option* option(const char* group, const std::string& names, T& var,
                        const std::string& help) {
        return may_name(names) ? grouped(group, cmd_->add_option(names, var, help)) : nullptr;
    }
    // A repeatable option: each occurrence takes exactly one value.
    CLI::Option* list(const char* group, const std::string& names, std::vector<std::string>& var,
                      const std::string& help);
    CLI::Option* flag(const char* group, const std::string& names, bool& var,
                      const std::string& help);
    bool may_name(std::string_view names) const;
    // The command's operands: NAME (IMAGE, CONTAINER) and every word after it, run's or
    // exec's options look-alikes included; a "--" before NAME ends the options (as docker's).
    // Under --help the usage line reads "[OPTIONS] USAGE" ("IMAGE [COMMAND [ARG...]]"), where
    // CLI11 would print "[IMAGE...]". The words are in the vector once the line is parsed.
    std::shared_ptr<std::vector<std::string>>
    operands(const std::string& name, const std::string& help, const std::string& usage);

  private:
    static CLI::Option* grouped(const char* group, CLI::Option* o);
    CLI::App* cmd_;
    bool all_ = false;
    std::vector<std::string_view> longs_; // "env" for "--env=x"
    std::string shorts_;                  // every letter after the dash of every "-abc"
};

// Human-readable sizes ("1.5 GB" in decimal units, like docker).
std::string human_size(std::uint64_t bytes);
// Prints rows as aligned columns (first row = header).
void print_table(const std::vector<std::vector<std::string>>& rows);
// `push --image-store DIR REF` and `save --format squashfs --image-store DIR`: REF published
// into the shared store DIR (sqsh::publish), one line of output.
int publish_to_store(Context& ctx, const std::string& ref, const std::string& dir);

// A listing command's output: the JSON array with --json, else the table (nothing with -q,
// whose lines were printed as they came). Returns the exit status, 0.
int print_listing(bool json, bool quiet, const nlohmann::json& items,
                  const std::vector<std::vector<std::string>>& rows);
// --format FORMAT (docker's: a Go template, "table ...", "json") over ROWS, printed; the exit
// status, 0. Error(usage) naming a template fault or an unknown field.
int print_formatted(const std::string& format, const gotemplate::Listing& listing,
                    const std::vector<nlohmann::json>& rows);
// --json and --format together: Error(usage) naming both.
void refuse_json_with_format(bool json, const std::string& format);

void register_load(CLI::App& app, Context& ctx);
void register_apptainer(CLI::App& app, Context& ctx);
void register_save(CLI::App& app, Context& ctx);
void register_images(CLI::App& app, Context& ctx);
void register_inspect(CLI::App& app, Context& ctx);
void register_history(CLI::App& app, Context& ctx);
void register_version(CLI::App& app, Context& ctx);
void register_import(CLI::App& app, Context& ctx);
void register_tag(CLI::App& app, Context& ctx);
void register_sign(CLI::App& app, Context& ctx);
void register_verify(CLI::App& app, Context& ctx);
void register_info(CLI::App& app, Context& ctx);
void register_rmi(CLI::App& app, Context& ctx);
void register_system(CLI::App& app, Context& ctx);
void register_builder(CLI::App& app, Context& ctx);
void register_run(CLI::App& app, Context& ctx);
void register_test(CLI::App& app, Context& ctx); // Apptainer's `test`: run's options
// Before CLI11 is built and the line parsed: begins the early start of the container process
// (runtime::EarlyStart) for a `run` line that cannot name an option taking it off that path.
void prestart_run(Context& ctx);
void register_bundle(CLI::App& app, Context& ctx);
void register_oci(CLI::App& app, Context& ctx);
void register_exec(CLI::App& app, Context& ctx);
void register_ps(CLI::App& app, Context& ctx);
void register_stop(CLI::App& app, Context& ctx);
void register_kill(CLI::App& app, Context& ctx);
void register_pause(CLI::App& app, Context& ctx);
void register_unpause(CLI::App& app, Context& ctx);
void register_container(CLI::App& app, Context& ctx);
void register_rm(CLI::App& app, Context& ctx);
void register_logs(CLI::App& app, Context& ctx);
void register_attach(CLI::App& app, Context& ctx);
void register_wait(CLI::App& app, Context& ctx);
void register_diff(CLI::App& app, Context& ctx);
void register_commit(CLI::App& app, Context& ctx);
void register_events(CLI::App& app, Context& ctx);
void register_top(CLI::App& app, Context& ctx);
void register_port(CLI::App& app, Context& ctx);
void register_stats(CLI::App& app, Context& ctx);
void register_create(CLI::App& app, Context& ctx);
void register_start(CLI::App& app, Context& ctx);
void register_restart_by_policy(CLI::App& app, Context& ctx);
void register_health_checker(CLI::App& app, Context& ctx);
void register_restart(CLI::App& app, Context& ctx);
void register_rename(CLI::App& app, Context& ctx);
void register_cp(CLI::App& app, Context& ctx);
void register_volume(CLI::App& app, Context& ctx);
void register_network(CLI::App& app, Context& ctx);
void register_network_holder(CLI::App& app, Context& ctx);
void register_kernel_cache(CLI::App& app, Context& ctx);
void register_hook(CLI::App& app, Context& ctx);
void register_doctor(CLI::App& app, Context& ctx);
void register_cdi(CLI::App& app, Context& ctx);
void register_k8s(CLI::App& app, Context& ctx);
void register_pull(CLI::App& app, Context& ctx);
void register_push(CLI::App& app, Context& ctx);
void register_login(CLI::App& app, Context& ctx); // login and logout
void register_analyze(CLI::App& app, Context& ctx);
void register_slim(CLI::App& app, Context& ctx);
void register_tailor(CLI::App& app, Context& ctx);
void register_lint(CLI::App& app, Context& ctx);
void register_build(CLI::App& app, Context& ctx);
// Hidden (cli/cmd_generate.cpp): `__generate man|bash|zsh`, the manual rendered from APP's
// tree, and `__complete images|containers`, names for the completion scripts.
void register_manual_generator(CLI::App& app, Context& ctx);
void register_completion_names(CLI::App& app, Context& ctx);
void register_slurm_gpu_vendors(CLI::App& app, Context& ctx); // cmd_slurm.cpp

} // namespace gantry::cli
