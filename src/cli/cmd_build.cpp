#include "analyze/analyze.hpp"
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "cli/registry_flags.hpp"
#include "cpu/isa.hpp"
#include "image_build/builder.hpp"
#include "image_build/definition_build.hpp"
#include "image_build/gpu_arch.hpp"
#include "lint/lint.hpp"
#include "lint/report.hpp"
#include "sqsh/write.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/printable.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace gantry::cli {
namespace {

constexpr std::uint64_t kMaxBuildDockerfile = 8u << 20;

struct BuildFlags {
    std::string context, file, target, progress = "auto", iidfile, network = "host", platform;
    std::string output; // -o FILE.sif
    std::string gpu_arch, cpu_arch;
    gpu_vendors::Roots gpu_roots; // --driver-root, ...: the host --gpu-arch host reads
    std::vector<std::string> tags, build_args, secrets, labels;
    std::vector<std::string> devices, allow, cdi_dirs; // --device, --allow, --cdi-spec-dir
    std::optional<std::string> gpus;
    unsigned jobs = 0;
    bool no_cache = false, pull = false, quiet = false, lint_fail = false, no_lint = false;
    bool notest = false;
    RegistryFlags reg;
};

std::map<std::string, std::string> caller_environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string s = *e;
        auto eq = s.find('=');
        if (eq != std::string::npos) env[s.substr(0, eq)] = s.substr(eq + 1);
    }
    return env;
}

std::optional<std::int64_t> source_date_epoch_env() {
    const char* v = std::getenv("SOURCE_DATE_EPOCH");
    if (!v || !*v) return std::nullopt;
    std::string s = v;
    if (s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos)
        throw Error(Errc::usage, "SOURCE_DATE_EPOCH=" + s + " is not a number of seconds",
                    "set it to a Unix time, e.g. $(git log -1 --format=%ct)");
    return std::stoll(s);
}

// gantry lint on the Dockerfile first: its findings on stderr; with --lint-fail errors stop the
// build (exit 4, before anything runs).
bool lint_first(const BuildFlags& o, const std::string& text, const std::string& name,
                const image_build::BuildOptions& bo) {
    lint::Options lo;
    lo.rule_sets = gpu_vendors::lint_rule_sets();
    lo.build.build_args = bo.build_args;
    lo.build.target = o.target;
    lo.context = o.context;
    std::vector<lint::FileResult> results(1);
    results[0].file = name;
    try {
        results[0].findings = lint::lint(dockerfile::parse_dockerfile(text), lo);
    } catch (const Error&) {
        return false; // a syntax error: the build's plan reports it, with FILE:LINE
    }
    if (!results[0].findings.empty() && !o.quiet)
        std::fputs(
            lint::render(results, lint::Format::gnu, false, lint::rules(lo.rule_sets)).c_str(),
            stderr);
    return o.lint_fail && lint::fails(results[0].findings, lint::Severity::fail);
}

std::string build_summary(store::Store& store, const oci::Digest& manifest) {
    auto img = store::read_image(store, manifest);
    auto an = analyze::analyze_image(store, img, manifest.str(), analyze::AnalyzeOptions{});
    const auto& r = an.report;
    std::uint64_t savings = 0;
    for (const auto& f : r.findings) savings += f.subject.bytes;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%zu layers, %s compressed, %llu files (%s), efficiency %.1f%%, %zu "
                  "finding(s)%s",
                  r.layers.size(), human_size(r.compressed_bytes).c_str(),
                  static_cast<unsigned long long>(r.final_files), human_size(r.final_bytes).c_str(),
                  r.dive.efficiency * 100, r.findings.size(),
                  savings ? (" (" + human_size(savings) + " could go: gantry analyze)").c_str()
                          : "");
    return buf;
}

int run_build(Context& ctx, BuildFlags& o) {
    auto t0 = std::chrono::steady_clock::now();
    image_build::check_choice("--progress", o.progress, {"auto", "plain", "tty"});
    image_build::check_choice("--network", o.network, {"host", "none", "default"});
    if (o.network == "default") o.network = "host";
    // -f FILE: read first, a definition file (FILE.def, or `Bootstrap:` first) needs no CONTEXT
    std::optional<std::string> given;
    if (!o.file.empty() && o.file != "-" && std::filesystem::is_regular_file(o.file))
        given = fs::read_file(o.file, kMaxBuildDockerfile);
    if (!given && o.file.ends_with(".def"))
        throw Error(Errc::not_found, "no definition file at " + o.file,
                    "give its path with -f FILE.def");
    bool definition = given && image_build::is_definition(o.file, *given);
    if (o.context.empty() && !definition)
        throw Error(Errc::usage, "gantry build needs the build context directory",
                    "gantry build [OPTIONS] CONTEXT (a definition file: gantry build -f FILE.def)");
    if (o.context.empty()) o.context = "."; // a definition file's %files: the current directory
    if (!o.output.empty() && !o.output.ends_with(".sif"))
        throw Error(Errc::usage,
                    "-o " + o.output + ": gantry build -o writes a SIF file (FILE.sif)",
                    "name it FILE.sif, or gantry save the built image in another format");
    if (!std::filesystem::is_directory(o.context))
        throw Error(Errc::not_found, "build context " + o.context + " is not a directory",
                    "give the directory that holds the Dockerfile and the files it copies");
    image_build::BuildOptions bo;
    bo.context = std::filesystem::absolute(o.context).lexically_normal().string();
    if (o.file == "-") {
        bo.dockerfile = fs::read_stream(0, kMaxBuildDockerfile, "the Dockerfile on stdin");
        bo.dockerfile_name = "-";
        definition = image_build::is_definition("-", bo.dockerfile); // `Bootstrap:` first
    } else {
        std::filesystem::path f = o.file.empty() ? std::filesystem::path(o.context) / "Dockerfile"
                                                 : std::filesystem::path(o.file);
        if (!std::filesystem::exists(f))
            throw Error(Errc::not_found, "no Dockerfile at " + f.string(),
                        "give its path with -f FILE");
        bo.dockerfile = given ? *given : fs::read_file(f, kMaxBuildDockerfile);
        bo.dockerfile_name = o.file.empty() ? "Dockerfile" : o.file;
    }
    auto env = caller_environment();
    for (const auto& a : o.build_args) image_build::add_build_arg(bo.build_args, a, env);
    for (const auto& l : o.labels) bo.labels.insert(image_build::parse_label(l));
    for (const auto& s : o.secrets) {
        auto sec = image_build::parse_secret(s);
        if (!sec.src.empty() && ::access(sec.src.c_str(), R_OK) != 0)
            throw Error(Errc::not_found, "--secret " + s + ": cannot read " + sec.src);
        bo.secrets.push_back(sec);
    }
    for (const auto& t : o.tags) store::normalize(t); // a bad name fails before anything runs
    bo.tags = o.tags;
    bo.keep_untagged = o.output.empty(); // docker's <none>:<none>; a SIF is the result of -o
    bo.target = o.target;
    bo.network = o.network;
    bo.platform = o.platform;
    bo.no_cache = o.no_cache;
    bo.pull = o.pull;
    bo.quiet = o.quiet || ctx.quiet;
    bo.jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
    bo.epoch = source_date_epoch_env();
    if (!o.gpu_arch.empty()) bo.gpu_env = image_build::gpu_arch_env(o.gpu_arch, o.gpu_roots);
    if (!o.cpu_arch.empty()) {
        auto target = cpu::resolve_target(o.cpu_arch);
        bo.cpu_env = cpu::build_env(target);
        for (auto& l : cpu::labels(target)) bo.labels.insert(l);
    }
    for (const auto& d : o.devices) bo.devices.push_back({d, false, true, "--device"});
    if (o.gpus) bo.devices.push_back({*o.gpus, true, true, "--gpus"});
    bo.allow = o.allow;
    bo.device_host = {o.gpu_roots, o.cdi_dirs};
    bo.pull_options.client = client_options(o.reg);
    bo.pull_options.quiet = bo.quiet;
    bo.pull_options.privileged = running_as_real_root();
    bo.pull_options.interactive = ::isatty(0) == 1 && ::isatty(1) == 1;
    bo.pull_options.signature_policy = o.reg.signature_policy;
    if (!bo.quiet)
        bo.progress = [](const std::string& l) { std::fprintf(stderr, "%s\n", l.c_str()); };
    if (definition && !o.target.empty())
        throw Error(Errc::usage, "--target is for Dockerfiles; " + o.file + " is a definition file",
                    "a definition file's image is its last stage");
    if (definition && o.lint_fail)
        throw Error(Errc::usage,
                    "--lint-fail lints Dockerfiles; " + o.file + " is a definition file",
                    "drop --lint-fail (gantry lint reads Dockerfiles)");
    if (!definition && o.notest)
        throw Error(Errc::usage, "--notest is for definition files (%test)", "drop it");
    if (!o.no_lint && !definition && lint_first(o, bo.dockerfile, bo.dockerfile_name, bo))
        throw Error(Errc::invalid, "gantry lint found errors in " + bo.dockerfile_name,
                    "fix them, or build without --lint-fail");
    auto caller = engine::Caller::current();
    auto& store = ctx.store();
    if (!bo.quiet && !bo.gpu_env.empty())
        std::fprintf(stderr, "compiling for GPUs: %s\n", bo.gpu_env["GANTRY_GPU_ARCH"].c_str());
    if (!bo.quiet && !bo.cpu_env.empty())
        std::fprintf(stderr, "compiling for the CPU: %s (needs %s)\n", bo.cpu_env["CFLAGS"].c_str(),
                     bo.labels[cpu::kLabelFeatures].c_str());
    std::optional<image_build::DefinitionBuild> def;
    if (definition) def.emplace(store, bo, !o.notest);
    if (def && !bo.quiet)
        for (const auto& k : def->unused_args())
            std::fprintf(stderr, "gantry: warning: --build-arg %s: %s uses no {{ %s }}\n",
                         text::printable(k).c_str(), text::printable(o.file).c_str(),
                         text::printable(k).c_str());
    if (!o.output.empty() && !bo.platform.empty() &&
        image_build::build_platforms(bo.platform).size() > 1)
        throw Error(Errc::usage, "-o FILE.sif holds one image, and --platform names several",
                    "build one platform with -o, or save the tag's platforms with "
                    "`gantry save --format oci-archive`");
    auto r = image_build::build(store, bo, caller);
    def.reset();
    if (!o.output.empty()) {
        // untagged, the image is found by its manifest's digest alone (store/images.hpp)
        auto saved = sqsh::save_sif(store, (r.tags.empty() ? r.manifest : r.id).str(), o.output);
        if (!bo.quiet)
            std::fprintf(stderr, "Saved %s (SIF, %s)\n", o.output.c_str(),
                         human_size(saved.bytes).c_str());
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o.iidfile.empty()) fs::write_atomic(o.iidfile, r.id.str());
    if (!bo.quiet) {
        std::fprintf(stderr, "RUN steps ran as %s; %d step(s), %d cached, in %.2fs\n",
                     r.mode.c_str(), r.steps, r.cached, s);
        std::vector<oci::Digest> results{r.manifest};
        if (!r.platforms.empty()) results.clear();
        for (const auto& p : r.platforms) {
            std::fprintf(stderr, "%s: %s\n", p.platform.str().c_str(), p.manifest.str().c_str());
            results.push_back(p.manifest);
        }
        for (const auto& md : results) try {
                std::fprintf(stderr, "%s\n", build_summary(store, md).c_str());
            } catch (const Error& e) {
                std::fprintf(stderr, "gantry: warning: no analysis of the result: %s\n",
                             text::printable(e.what()).c_str());
            }
        for (const auto& t : r.tags) std::fprintf(stderr, "Tagged %s\n", t.c_str());
    }
    std::printf("%s\n", r.id.str().c_str());
    return 0;
}

} // namespace

void register_build(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<BuildFlags>();
    auto* cmd = app.add_subcommand(
        "build", "Build an image from a Dockerfile or an Apptainer definition file (rootless)");
    // each repeatable flag takes one value (as docker's), so the optional CONTEXT after it is
    // not taken for a second one
    cmd->add_option("context", o->context,
                    "The build context directory (a definition file's default: .)");
    cmd->add_option("-t,--tag", o->tags, "Name the result (repeatable)")->allow_extra_args(false);
    cmd->add_option("-f,--file", o->file,
                    "The Dockerfile (default CONTEXT/Dockerfile; - for stdin), or an Apptainer "
                    "definition file (FILE.def)");
    cmd->add_option("-o,--output", o->output,
                    "Also write the image as a SIF file (FILE.sif), as gantry save --format sif");
    cmd->add_flag("-T,--notest", o->notest, "Do not run the definition file's %test");
    cmd->add_option("--build-arg", o->build_args, "K=V, or K to take it from the environment")
        ->allow_extra_args(false);
    cmd->add_option("--target", o->target, "Build up to this stage");
    cmd->add_flag("--no-cache", o->no_cache, "Run every step (the results still fill the cache)");
    cmd->add_flag("--pull", o->pull, "Pull the FROM images even when the store has them");
    cmd->add_option("--secret", o->secrets,
                    "id=ID,src=PATH (or env=NAME) for RUN --mount=type=secret")
        ->allow_extra_args(false);
    cmd->add_option("--progress", o->progress, "auto, plain or tty")->capture_default_str();
    cmd->add_option("--iidfile", o->iidfile, "Write the image ID to this file");
    cmd->add_option("--label", o->labels, "K=V set on the image (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--network", o->network, "RUN steps' network: host or none")
        ->capture_default_str();
    cmd->add_option("--platform", o->platform,
                    "OS/ARCH[/VARIANT] to build for (default: the host's): FROM images are "
                    "pulled for it, RUN steps of a foreign platform run under the host's "
                    "binfmt_misc emulator (qemu-user-static), TARGETARCH and friends say it; "
                    "several, comma-separated: one build each, the tags naming them all");
    cmd->add_flag("-q,--quiet", o->quiet, "Print only the image ID");
    cmd->add_option("--jobs", o->jobs, "Independent stages built at once (default: the CPUs)");
    cmd->add_option("--gpu-arch", o->gpu_arch,
                    "host or a list (sm_90,gfx942): the GPU architectures to compile for, as "
                    "TORCH_CUDA_ARCH_LIST, CMAKE_CUDA_ARCHITECTURES, PYTORCH_ROCM_ARCH, ...");
    cmd->add_option("--cpu-arch", o->cpu_arch,
                    "host, x86-64-v2|v3|v4, an x86 -march name, armv8-a..armv8.6-a|armv9-a or "
                    "an aarch64 core (neoverse-v2, cortex-a78ae): the CPU to compile for, as "
                    "CFLAGS, CXXFLAGS, CMAKE_C/CXX_FLAGS and RUSTFLAGS; recorded in a label "
                    "that run and doctor check");
    cmd->add_option("--device", o->devices,
                    "A CDI device (nvidia.com/gpu=all) or /dev path for every RUN step; needs "
                    "--allow device (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--gpus", o->gpus,
                    "GPUs for every RUN step, as run --gpus (all, device=0); needs --allow device");
    cmd->add_option("--allow", o->allow,
                    "device: let --device, --gpus and RUN --device give steps the host's devices")
        ->allow_extra_args(false);
    cmd->add_option("--cdi-spec-dir", o->cdi_dirs,
                    "More CDI spec directories, after /etc/cdi and /var/run/cdi (repeatable)")
        ->allow_extra_args(false);
    add_host_root_flags(cmd, o->gpu_roots, "With --gpu-arch host and devices");
    cmd->add_flag("--lint-fail", o->lint_fail, "Stop when gantry lint finds an error");
    cmd->add_flag("--no-lint", o->no_lint, "Do not lint the Dockerfile first");
    add_registry_flags(cmd, o->reg, true);
    add_signature_policy_flag(cmd, o->reg);
    cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_build(ctx, *o); }; });
}

} // namespace gantry::cli
