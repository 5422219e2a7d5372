// gantry lint: GPU-aware Dockerfile rules with IDs, line numbers and fixes (see docs/lint.md).
#include "cli/context.hpp"
#include "dockerfile/dockerfile.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lint/config.hpp"
#include "lint/lint.hpp"
#include "lint/report.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace gantry::cli {

namespace {

constexpr std::uint64_t kMaxDockerfile = 16u << 20;

void add_codes(std::set<std::string>& into, const std::vector<std::string>& items) {
    for (auto& item : items) {
        std::string cur;
        for (char c : item + ",") {
            if (c == ',') {
                if (!cur.empty()) into.insert(cur);
                cur.clear();
            } else if (c != ' ') {
                cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            }
        }
    }
}

void check_codes(const std::vector<lint::RuleInfo>& rules, const std::set<std::string>& codes,
                 const std::string& flag, Errc code = Errc::usage) {
    for (auto& c : codes) {
        bool known = false;
        for (auto& r : rules) known |= c == r.code;
        if (!known)
            throw Error(code, flag + " " + c + ": no such rule",
                        "`gantry lint --rules` lists the rules");
    }
}

} // namespace

void register_lint(CLI::App& app, Context& ctx) {
    struct Opts {
        std::vector<std::string> files;
        std::string format = "tty", threshold, target, file_name, context, config;
        std::vector<std::string> ignore, errors, warnings, infos, build_args;
        bool json = false, no_color = false, list_rules = false;
        std::uint64_t large_mb = 100;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("lint", "Check a Dockerfile for GPU image bloat and pitfalls");
    cmd->footer("Exit status: 0 nothing at or above the threshold, 10 findings at or above it, "
                "2 usage, 3 file not found, 4 malformed Dockerfile or config (docs/lint.md)");
    cmd->add_option("dockerfile", o->files, "Dockerfile(s) to check; - reads stdin")
        ->type_name("FILE");
    cmd->add_option("--format,-f", o->format,
                    "Output: tty (default), json, gnu, checkstyle, sarif");
    cmd->add_flag("--json", o->json, "Same as --format json");
    cmd->add_option("--failure-threshold,-t", o->threshold,
                    "Exit 10 when a finding is at least this severe: error, warning, info "
                    "(default) or none");
    // a repeatable option, one VALUE (a rule code, NAME=VALUE) each time
    auto repeatable = [cmd](const char* name, std::vector<std::string>& var, const char* value,
                            const char* help) {
        cmd->add_option(name, var, help)->type_name(value)->allow_extra_args(false);
    };
    repeatable("--ignore", o->ignore, "CODE", "Skip these rules (repeatable, or GL001,GL002)");
    repeatable("--error", o->errors, "CODE", "Report these rules as errors");
    repeatable("--warning", o->warnings, "CODE", "Report these rules as warnings");
    repeatable("--info", o->infos, "CODE", "Report these rules as info");
    repeatable("--build-arg", o->build_args, "NAME=VALUE",
               "Value of an ARG (NAME=VALUE), as docker build");
    cmd->add_option("--target", o->target, "The stage that ships (default: the last one)");
    cmd->add_option("--context", o->context,
                    "Build context, to size COPY sources (default: the Dockerfile's directory; "
                    "none for stdin)")
        ->type_name("DIR");
    cmd->add_option("--large-mb", o->large_mb,
                    "A COPY source larger than this many MB is reported (default 100)");
    cmd->add_option("--file-name", o->file_name, "Name shown for the file (useful with -)");
    cmd->add_option("--config", o->config,
                    "YAML file with failure-threshold, ignored and override (as .hadolint.yaml)")
        ->type_name("FILE");
    cmd->add_flag("--no-color", o->no_color, "No colors, even on a terminal");
    cmd->add_flag("--rules", o->list_rules, "List the rules and exit");
    cmd->callback([&ctx, o] {
        ctx.action = [o]() -> int {
            // lint's own rules and every registered GPU vendor's
            const auto rule_sets = gpu_vendors::lint_rule_sets();
            const auto rules = lint::rules(rule_sets);
            if (o->list_rules) {
                for (auto& r : rules)
                    std::printf("%s  %-7s  %s\n", r.code, lint::level_word(r.severity), r.title);
                return 0;
            }
            if (o->files.empty())
                throw Error(Errc::usage, "gantry lint needs a Dockerfile",
                            "gantry lint Dockerfile (or - for stdin)");
            auto format = lint::parse_format(o->json ? "json" : o->format);
            lint::Options opt;
            opt.rule_sets = rule_sets;
            std::string threshold_name = o->threshold;
            if (!o->config.empty()) {
                auto cfg = lint::load_config(o->config);
                check_codes(rules, cfg.ignored, o->config + ": ignored:", Errc::invalid);
                opt.ignore = cfg.ignored;
                for (auto& [code, level] : cfg.severity) {
                    check_codes(rules, {code}, o->config + ": override:", Errc::invalid);
                    opt.severity[code] = level;
                }
                if (threshold_name.empty()) threshold_name = cfg.threshold;
            }
            if (threshold_name.empty()) threshold_name = "info";
            std::optional<lint::Severity> threshold;
            if (threshold_name != "none") threshold = lint::parse_level(threshold_name);
            add_codes(opt.ignore, o->ignore);
            check_codes(rules, opt.ignore, "--ignore");
            for (auto [list, level] : {std::pair{&o->errors, lint::Severity::fail},
                                       std::pair{&o->warnings, lint::Severity::warn},
                                       std::pair{&o->infos, lint::Severity::info}}) {
                std::set<std::string> codes;
                add_codes(codes, *list);
                check_codes(rules, codes, "severity override");
                for (auto& c : codes) opt.severity[c] = level;
            }
            for (auto& a : o->build_args) {
                auto eq = a.find('=');
                if (eq == std::string::npos || eq == 0) {
                    // docker build --build-arg NAME takes the value from the environment
                    const char* v = std::getenv(a.c_str());
                    if (a.empty() || !v)
                        throw Error(Errc::usage, "--build-arg " + a + ": expected NAME=VALUE");
                    opt.build.build_args[a] = v;
                } else {
                    opt.build.build_args[a.substr(0, eq)] = a.substr(eq + 1);
                }
            }
            opt.build.target = o->target;
            opt.large_bytes = o->large_mb * 1000 * 1000;

            std::vector<lint::FileResult> results;
            for (auto& file : o->files) {
                std::string text;
                std::filesystem::path path = file;
                if (file == "-") {
                    text = fs::read_stream(0, kMaxDockerfile, "the Dockerfile on stdin");
                } else {
                    if (std::filesystem::is_directory(path)) path /= "Dockerfile";
                    text = fs::read_file(path, kMaxDockerfile);
                }
                lint::FileResult r;
                r.file = !o->file_name.empty() ? o->file_name : file == "-" ? "-" : path.string();
                opt.context.reset();
                if (!o->context.empty())
                    opt.context = o->context;
                else if (file != "-")
                    opt.context = path.parent_path().empty() ? "." : path.parent_path();
                try {
                    auto df = dockerfile::parse_dockerfile(text);
                    r.findings = lint::lint(df, opt);
                } catch (const Error& e) {
                    if (e.code() == Errc::usage) throw;
                    throw e.with_context(r.file);
                }
                results.push_back(std::move(r));
            }
            bool color = format == lint::Format::tty && !o->no_color && ::isatty(1) &&
                         !std::getenv("NO_COLOR");
            std::fputs(lint::render(results, format, color, rules).c_str(), stdout);
            std::fflush(stdout);
            for (auto& r : results)
                if (lint::fails(r.findings, threshold)) return 10;
            return 0;
        };
    });
}

} // namespace gantry::cli
