// gantry analyze IMAGE: where an image's bytes go (per layer, dive's efficiency metrics,
// findings with the bytes they cost), as a table, JSON, a self-contained HTML page, and a CI gate.
#include "analyze/analyze.hpp"
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "cli/keep_flags.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "store/images.hpp"
#include "tailor/tailor.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/printable.hpp"

#include <cstdio>
#include <filesystem>

namespace gantry::cli {

void register_analyze(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string image, html, ci_config, lowest_eff, highest_wasted, highest_user, large;
        std::string keep_arch;
        gpu_vendors::Roots roots;
        std::vector<std::string> keep_options; // the formats' keep options given ("--no-ptx")
        bool json = false, ci = false, verify = false;
        unsigned jobs = 0;
        std::size_t paths = 3;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "analyze", "Show where an image's bytes go: layers, dive's efficiency, findings");
    cmd->add_option("image", o->image, "Image name, name:tag, name@digest or ID")->required();
    cmd->add_flag("--json", o->json, "Print the report as JSON");
    cmd->add_option("--html", o->html, "Also write a self-contained HTML report to FILE");
    cmd->add_flag("--ci", o->ci,
                  "Evaluate dive's CI rules and exit 10 when one fails (rules from --ci-config, "
                  "else ./.dive-ci when present, else dive's defaults; flags override)");
    cmd->add_option("--ci-config", o->ci_config, "dive-style YAML rules file (implies --ci)");
    cmd->add_option("--lowest-efficiency", o->lowest_eff,
                    "CI: fail below this efficiency ratio (default 0.9; \"disabled\")");
    cmd->add_option("--highest-wasted-bytes", o->highest_wasted,
                    "CI: fail above these wasted bytes, e.g. 20MB (default disabled)");
    cmd->add_option("--highest-user-wasted-percent", o->highest_user,
                    "CI: fail above this ratio of wasted to user bytes (default 0.1)");
    cmd->add_option("--large-file", o->large, "LARGE-FILE threshold (default 100MB)");
    cmd->add_option("--paths", o->paths, "Example paths shown per finding (default 3)");
    cmd->add_option("-j,--jobs", o->jobs, "Layers scanned at once (default: CPUs)");
    cmd->add_flag(
        "--verify", o->verify,
        "Also re-check every layer's digest and diffID (the store checked them at import)");
    cmd->add_option("--keep-arch", o->keep_arch,
                    "Also predict what `slim --keep-arch` would save: `host` or a list like "
                    "sm_80,sm_90 or gfx90a,gfx942");
    add_keep_option_flags(cmd, o->keep_options);
    add_host_root_flags(cmd, o->roots, "For --keep-arch host");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o]() -> int {
            analyze::AnalyzeOptions ao;
            ao.jobs = o->jobs;
            ao.verify = o->verify;
            if (!o->keep_arch.empty())
                ao.keep_arch = tailor::parse_keep_list(
                    gpu_vendors::keep_arch_list(o->keep_arch, o->roots), o->keep_options);
            else
                tailor::refuse_keep_options_without_list(o->keep_options);
            if (!o->large.empty()) {
                auto v = analyze::parse_bytes("--large-file", o->large);
                if (!v) throw Error(Errc::usage, "--large-file cannot be disabled", "give a size");
                ao.find.large_file = *v;
            }
            bool ci = o->ci || !o->ci_config.empty() || !o->lowest_eff.empty() ||
                      !o->highest_wasted.empty() || !o->highest_user.empty();
            analyze::CiRules rules;
            if (ci) {
                if (!o->ci_config.empty())
                    analyze::load_ci_config(o->ci_config, rules);
                else if (std::filesystem::exists(".dive-ci"))
                    analyze::load_ci_config(".dive-ci", rules);
                if (!o->lowest_eff.empty())
                    rules.lowest_efficiency =
                        analyze::parse_ratio("--lowest-efficiency", o->lowest_eff);
                if (!o->highest_wasted.empty())
                    rules.highest_wasted_bytes =
                        analyze::parse_bytes("--highest-wasted-bytes", o->highest_wasted);
                if (!o->highest_user.empty())
                    rules.highest_user_wasted_percent =
                        analyze::parse_ratio("--highest-user-wasted-percent", o->highest_user);
            }
            auto& store = ctx.store();
            auto img = store::find_image(store, o->image);
            auto a = analyze::analyze_image(store, img, o->image, ao);
            if (!o->html.empty()) fs::write_atomic(o->html, analyze::render_html(a.report));
            std::optional<analyze::CiResult> res;
            if (ci) res = analyze::evaluate_ci(a.report.dive, rules);
            if (o->json) {
                auto j = analyze::to_json(a.report);
                if (res) j["ci"] = {{"pass", res->pass}, {"results", res->lines}};
                std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
                std::fwrite(s.data(), 1, s.size(), stdout);
                std::fputc('\n', stdout);
            } else {
                std::string s = analyze::render_text(a.report, o->paths);
                std::fwrite(s.data(), 1, s.size(), stdout);
                if (!o->html.empty()) std::printf("\nHTML report: %s\n", o->html.c_str());
                if (res) {
                    std::printf("\nCI results:\n");
                    for (auto& l : res->lines) std::printf("  %s\n", text::printable(l).c_str());
                    std::printf("Result: %s\n", res->pass ? "PASS" : "FAIL");
                }
            }
            return res && !res->pass ? 10 : 0;
        };
    });
}

} // namespace gantry::cli
