// What every command shares: global flags, the store, and output helpers.
#pragma once

#include "cli/cli11.hpp"
#include "store/store.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gantry::cli {

struct Context {
    std::string root; // --root (GANTRY_ROOT wins, as documented)
    bool debug = false;
    bool quiet = false;
    std::function<int()> action; // set by the chosen subcommand, run after parsing

    store::Store& store();

  private:
    std::unique_ptr<store::Store> store_;
};

// Human-readable sizes ("1.5 GB" in decimal units, like docker).
std::string human_size(std::uint64_t bytes);
// Prints rows as aligned columns (first row = header).
void print_table(const std::vector<std::vector<std::string>>& rows);

void register_load(CLI::App& app, Context& ctx);
void register_save(CLI::App& app, Context& ctx);
void register_images(CLI::App& app, Context& ctx);
void register_inspect(CLI::App& app, Context& ctx);
void register_tag(CLI::App& app, Context& ctx);
void register_rmi(CLI::App& app, Context& ctx);
void register_system(CLI::App& app, Context& ctx);
void register_run(CLI::App& app, Context& ctx);
void register_bundle(CLI::App& app, Context& ctx);
void register_exec(CLI::App& app, Context& ctx);
void register_ps(CLI::App& app, Context& ctx);
void register_stop(CLI::App& app, Context& ctx);
void register_rm(CLI::App& app, Context& ctx);
void register_hook(CLI::App& app, Context& ctx);
void register_doctor(CLI::App& app, Context& ctx);
void register_cdi(CLI::App& app, Context& ctx);
void register_pull(CLI::App& app, Context& ctx);
void register_push(CLI::App& app, Context& ctx);
void register_login(CLI::App& app, Context& ctx); // login and logout
void register_analyze(CLI::App& app, Context& ctx);
void register_slim(CLI::App& app, Context& ctx);
void register_lint(CLI::App& app, Context& ctx);

} // namespace gantry::cli
