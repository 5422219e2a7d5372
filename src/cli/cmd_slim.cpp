// gantry slim IMAGE -t NEWREF: a smaller image (chosen finding classes and paths removed,
// optional debug stripping, --keep-arch tailoring of fat binaries, all layers squashed), a
// before/after report, and an optional --check command run in the new image that must succeed
// before NEWREF is tagged. gantry tailor IMAGE -t NEWREF: the same with --keep-arch host and
// nothing else removed.
#include "analyze/analyze.hpp"
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "cli/keep_flags.hpp"
#include "engine/engine.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "records/state.hpp"
#include "slim/slim.hpp"
#include "slim/tailor_record.hpp"
#include "store/images.hpp"
#include "store/importer.hpp"
#include "store/temporary_tag.hpp"
#include "tailor/tailor.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/printable.hpp"
#include "util/text.hpp"

#include <cstdio>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace gantry::cli {

namespace {

std::vector<std::string> split_list(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (auto& s : in)
        for (std::string_view item : text::split(s, ','))
            if (!item.empty()) out.emplace_back(item);
    return out;
}

// Runs `gantry --root ROOT run --rm [opts] REF sh -c CMD` (this very binary); returns its status.
int run_check(const std::string& root, const std::string& ref, const std::vector<std::string>& opts,
              const std::string& cmd, bool quiet) {
    std::vector<std::string> args = {"/proc/self/exe", "--root", root, "run", "--rm"};
    for (auto& o : opts) args.push_back(o);
    args.push_back(ref);
    args.insert(args.end(), {"/bin/sh", "-c", cmd});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&fa, 2, 1); // the check's output goes to stderr
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw sys_error(rc, "cannot start the check");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct SlimOpts {
    std::string image, tag, check;
    std::vector<std::string> remove, remove_paths, keep, check_opts;
    std::string keep_arch; // "host" or a list
    gpu_vendors::Roots roots;
    std::vector<std::string> keep_options; // the formats' keep options given ("--no-ptx")
    bool strip = false, json = false, dry_run = false;
    unsigned jobs = 0;
    bool tailor_cmd = false;
};

// The kept set: the host's GPUs, or the list.
tailor::KeepSet keep_set(const SlimOpts& o) {
    return tailor::parse_keep_list(gpu_vendors::keep_arch_list(o.keep_arch, o.roots),
                                   o.keep_options);
}

void print_plan(const slim::SlimOptions& so, const analyze::Analysis& an, bool json) {
    auto plan = slim::plan(so, an);
    if (json) {
        std::puts(plan.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return;
    }
    std::vector<std::vector<std::string>> rows{{"CLASS", "FILES", "BYTES"}};
    for (auto& [c, p] : plan["remove"].items())
        rows.push_back({c, std::to_string(p["files"].template get<std::uint64_t>()),
                        human_size(p["bytes"].template get<std::uint64_t>())});
    if (rows.size() > 1) print_table(rows);
    if (an.report.tailor) std::fputs(analyze::render_text(*an.report.tailor).c_str(), stdout);
}

void print_result(const SlimOpts& o, const slim::SlimResult& res, const std::string& newref,
                  const std::string& check_line, int rc) {
    auto pct = [](std::uint64_t a, std::uint64_t b) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f%%", b ? 100.0 * a / b : 100.0);
        return std::string(buf);
    };
    std::vector<std::vector<std::string>> rows{{"", "BEFORE", "AFTER", "RATIO"}};
    rows.push_back({"layers", std::to_string(res.before_layers), "1", ""});
    rows.push_back({"compressed", human_size(res.before_compressed),
                    human_size(res.after_compressed),
                    pct(res.after_compressed, res.before_compressed)});
    rows.push_back({"files", human_size(res.before_bytes), human_size(res.after_bytes),
                    pct(res.after_bytes, res.before_bytes)});
    print_table(rows);
    std::printf("\nsquashed away (deleted/overwritten in later layers): %s\n",
                human_size(res.dropped_layer_bytes).c_str());
    for (auto& [c, s] : res.removed)
        std::printf("removed %-12s %6llu file(s)  %s\n", c.c_str(),
                    static_cast<unsigned long long>(s.files), human_size(s.bytes).c_str());
    if (res.kept_by_rule)
        std::printf("kept by --keep: %llu file(s)\n",
                    static_cast<unsigned long long>(res.kept_by_rule));
    if (o.strip)
        std::printf("stripped %llu ELF file(s), %s saved (%llu kept unstripped)\n",
                    static_cast<unsigned long long>(res.stripped_files),
                    human_size(res.stripped_bytes).c_str(),
                    static_cast<unsigned long long>(res.strip_failures));
    if (!res.keep_arch.empty())
        std::fputs(slim::render_tailor(res.keep_arch, res.tailored).c_str(), stdout);
    for (auto& w : res.warnings)
        std::fprintf(stderr, "gantry: warning: %s\n", text::printable(w).c_str());
    if (!check_line.empty()) std::printf("%s\n", check_line.c_str());
    if (rc == 0)
        std::printf("Tagged %s (id %s)\n", newref.c_str(), res.config.str().substr(7, 12).c_str());
}

int slim_action(Context& ctx, const SlimOpts& o) {
    slim::SlimOptions so;
    so.remove = slim::removal_classes(split_list(o.remove), o.tailor_cmd);
    so.remove_paths = o.remove_paths;
    so.keep = o.keep;
    so.strip = o.strip;
    so.privileged = running_as_real_root();
    if (!o.keep_arch.empty())
        so.keep_arch = keep_set(o);
    else
        tailor::refuse_keep_options_without_list(o.keep_options);
    std::string newref = store::normalize(o.tag);
    so.note = std::string(o.tailor_cmd ? "gantry tailor " : "gantry slim ") + o.image + " -t " +
              o.tag + (o.keep_arch.empty() ? "" : " --keep-arch " + so.keep_arch->str());
    auto& store = ctx.store();
    auto lock = store.writer_lock();
    auto img = store::find_image(store, o.image);
    analyze::AnalyzeOptions ao;
    ao.jobs = o.jobs;
    if (o.dry_run) ao.keep_arch = so.keep_arch; // the prediction is the plan
    auto an = analyze::analyze_image(store, img, o.image, ao);
    if (o.dry_run) {
        print_plan(so, an, o.json);
        return 0;
    }
    auto res = slim::slim_image(store, img, an, so);
    int rc = 0;
    std::string check_line;
    // Tailored for this host: the doctor must pass on the new image wherever it passed on the
    // original (a kernel image for every GPU, nothing else lost).
    if (so.keep_arch && o.keep_arch == "host") {
        auto caller = engine::Caller::current();
        auto after = store::read_image(store, res.manifest);
        auto broke = gpu_vendors::doctor_regressions(
            o.roots, store, img, after, {caller.real_root, caller.uid, caller.gid, false},
            records::runtime_dir().string());
        for (auto& f : broke) {
            check_line += (check_line.empty() ? "doctor: " : "; ") + f.id + ": " + f.message;
            rc = 10;
        }
    }
    if (rc == 0 && !o.check.empty()) {
        store::TemporaryTag named(store, res.manifest); // prune drops it if we die
        int st = run_check(store.root().string(), named.ref(), o.check_opts, o.check, o.json);
        named.remove();
        if (st != 0) {
            check_line = "check failed: `" + o.check + "` exited " + std::to_string(st);
            rc = 10;
        } else
            check_line = "check passed: `" + o.check + "`";
    }
    if (rc == 0) {
        store::Importer imp(store, {});
        imp.tag({newref}, res.manifest);
    }
    if (o.json) {
        auto j = slim::to_json(res);
        j["image"] = o.image;
        j["tag"] = rc == 0 ? nlohmann::json(newref) : nlohmann::json(nullptr);
        if (!o.check.empty()) j["check"] = {{"command", o.check}, {"passed", rc == 0}};
        if (rc != 0) j["failed"] = check_line;
        std::puts(j.dump(2).c_str());
    } else
        print_result(o, res, newref, check_line, rc);
    if (rc != 0)
        std::fprintf(stderr,
                     "gantry: error: %s; %s was not tagged\nhint: fix the plan (--keep PATH, fewer "
                     "--remove classes, more --keep-arch targets) and slim again; `gantry system "
                     "prune` removes the untagged layer\n",
                     text::printable(check_line).c_str(), newref.c_str());
    return rc;
}

void add_common(CLI::App* cmd, SlimOpts& o) {
    cmd->add_option("image", o.image, "Image to slim (name, name:tag, digest or ID)")->required();
    cmd->add_option("-t,--tag", o.tag, "Name of the new image")->required();
    add_keep_option_flags(cmd, o.keep_options);
    add_host_root_flags(cmd, o.roots, "For --keep-arch host");
    cmd->add_option("--check", o.check,
                    "Shell command run in the new image (gantry run --rm IMAGE /bin/sh -c CMD); "
                    "the image is tagged only if it exits 0");
    cmd->add_option("--check-opt", o.check_opts,
                    "Extra `gantry run` option for the check, e.g. --check-opt=--gpus=all")
        ->allow_extra_args(false);
    cmd->add_flag("--dry-run", o.dry_run,
                  "Print the plan (what would be removed, what tailoring would save); write "
                  "nothing");
    cmd->add_flag("--json", o.json, "Print the report as JSON");
    cmd->add_option("-j,--jobs", o.jobs, "Layers analysed at once (default: CPUs)");
}

} // namespace

void register_slim(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<SlimOpts>();
    auto* cmd = app.add_subcommand("slim", "Make a smaller image: remove finding classes and "
                                           "paths, keep only the GPU code you run, strip, squash");
    add_common(cmd, *o);
    cmd->add_option("--remove", o->remove,
                    "Classes to remove (comma-separated, repeatable): toolchain, headers, static, "
                    "apt, pip, conda, pycache, site-extras, docs, model-cache; \"default\" = all "
                    "but model-cache (the default), \"none\" = only squash")
        ->allow_extra_args(false); // one value each time: `--remove none IMAGE` names IMAGE
    cmd->add_option("--remove-path", o->remove_paths, "Also remove this path or glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--keep", o->keep, "Never remove this path or glob (repeatable; wins)")
        ->allow_extra_args(false);
    cmd->add_flag("--strip", o->strip,
                  "Strip debug sections of ELF files (strip --strip-debug; dynamic symbols kept)");
    cmd->add_option("--keep-arch", o->keep_arch,
                    "Keep only the device code these GPUs run in fat binaries: `host` (this "
                    "machine's GPUs) or a list like sm_80,sm_90 or gfx90a,gfx942 (docs/tailor.md)");
    cmd->callback([&ctx, o] { ctx.action = [&ctx, o]() -> int { return slim_action(ctx, *o); }; });
}

void register_tailor(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<SlimOpts>();
    o->tailor_cmd = true;
    o->keep_arch = "host";
    auto* cmd = app.add_subcommand(
        "tailor", "Keep only the GPU device code this host's GPUs run (slim --keep-arch host "
                  "--remove none)");
    add_common(cmd, *o);
    cmd->add_option("--keep-arch", o->keep_arch,
                    "The GPUs to keep code for (default: host): a list like sm_90 or gfx942");
    cmd->callback([&ctx, o] { ctx.action = [&ctx, o]() -> int { return slim_action(ctx, *o); }; });
}

} // namespace gantry::cli
