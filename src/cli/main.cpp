// gantry: the command-line front end. Each command lives in its own file; this one sets up
// global flags, runs the chosen command and turns errors into one line, a hint and an exit code.
#include "cli/context.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <clocale>
#include <cstdio>
#include <cstdlib>

namespace gantry::cli {

store::Store& Context::store() {
    if (!store_) {
        std::string r;
        if (const char* env = std::getenv("GANTRY_ROOT"); env && *env)
            r = env;
        else if (!root.empty())
            r = root;
        else
            r = store::default_root().string();
        store_ = std::make_unique<store::Store>(r);
    }
    return *store_;
}

std::string human_size(std::uint64_t b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    else
        std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, units[u]);
    return buf;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> w;
    for (auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (w.size() <= i) w.push_back(0);
            w[i] = std::max(w[i], r[i].size());
        }
    for (auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 3, ' ');
        }
        std::puts(line.c_str());
    }
}

} // namespace gantry::cli

int main(int argc, char** argv) {
    using namespace gantry;
    std::setlocale(LC_CTYPE, "C.UTF-8");
    cli::Context ctx;
    CLI::App app{"gantry: a rootless, daemonless GPU container engine", "gantry"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "gantry 0.1.0");
    app.add_option("--root", ctx.root,
                   "Image store directory (default: $GANTRY_ROOT, /var/lib/gantry for root, "
                   "~/.local/share/gantry otherwise)");
    app.add_flag("--debug", ctx.debug, "Print debug messages");
    app.add_flag("-q,--quiet", ctx.quiet, "Print only errors");
    app.footer("Exit status: 0 ok, 2 usage, 3 not found, 4 invalid input, 5 conflict, 6 I/O, "
               "7 unsupported (see docs/exit-codes.md)");
    cli::register_pull(app, ctx);
    cli::register_push(app, ctx);
    cli::register_login(app, ctx);
    cli::register_load(app, ctx);
    cli::register_save(app, ctx);
    cli::register_images(app, ctx);
    cli::register_inspect(app, ctx);
    cli::register_tag(app, ctx);
    cli::register_rmi(app, ctx);
    cli::register_system(app, ctx);
    cli::register_run(app, ctx);
    cli::register_bundle(app, ctx);
    cli::register_exec(app, ctx);
    cli::register_ps(app, ctx);
    cli::register_stop(app, ctx);
    cli::register_rm(app, ctx);
    cli::register_hook(app, ctx);
    cli::register_doctor(app, ctx);
    cli::register_cdi(app, ctx);
    cli::register_analyze(app, ctx);
    cli::register_slim(app, ctx);
    cli::register_lint(app, ctx);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "gantry: error: %s\nhint: see `gantry --help`\n", e.what());
        return exit_status(Errc::usage);
    }
    log::set_level(ctx.debug   ? log::Level::debug
                   : ctx.quiet ? log::Level::quiet
                               : log::Level::normal);
    try {
        return ctx.action ? ctx.action() : 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "gantry: error: %s\n", e.message().c_str());
        if (!e.hint().empty()) std::fprintf(stderr, "hint: %s\n", e.hint().c_str());
        return exit_status(e.code());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gantry: internal error: %s\n", e.what());
        return exit_status(Errc::internal);
    }
}
