// `gantry apptainer`: Apptainer's command line, a door of its own over gantry's one start path
// (apptainer/: the actions' requests, instances, inspect, the image commands as gantry's). This
// file registers the verbs and flags and calls the module; `apptainer` and `singularity` (links
// the package installs where no Apptainer is) land here through main's argv[0] dispatch.
#include "apptainer/action.hpp"
#include "apptainer/delegate.hpp"
#include "apptainer/inspect.hpp"
#include "apptainer/instance.hpp"
#include "apptainer/sandbox.hpp"
#include "cli/context.hpp"
#include "engine/docker_flags.hpp"
#include "engine/engine.hpp"
#include "engine/exec.hpp"
#include "engine/options.hpp"
#include "registry/oras.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <array>
#include <cstdio>
#include <unistd.h>

namespace gantry::cli {

namespace {

// Apptainer's action flags (cmd/internal/cli/action_flags.go), under their names and letters
void add_apptainer_action_flags(LazyOptions& o, apptainer::Flags& f, apptainer::Action action) {
    const char* files = "Binds and files";
    const char* iso = "Isolation";
    const char* env = "Environment";
    o.list(files, "-B,--bind", f.bind,
           "SRC[:DST[:ro|rw]] (a comma between several): bind a host path (default binds: "
           "$HOME, the working directory, /tmp, /var/tmp, /dev, /etc/localtime)");
    o.option(files, "-H,--home", f.home,
             "SRC[:DST]: the home directory bound (default: $HOME at its own path)");
    o.flag(files, "--no-home", f.no_home, "Do not bind the home directory");
    o.flag(files, "--writable-tmpfs", f.writable_tmpfs,
           "A writable layer in memory (64 MiB) over the image, dropped at exit (default: the "
           "image is read-only)");
    o.flag(files, "-w,--writable", f.writable,
           "Write into a sandbox directory itself (a SIF is refused: its squashfs is read-only)");
    o.list(files, "-o,--overlay", f.overlay,
           "DIR[:ro]: an overlay directory over the image (writes kept in DIR/upper)");
    o.option(files, "--pwd", f.pwd, "The directory to start in (default: the working directory)");
    o.flag(iso, "-c,--contain", f.contain,
           "No home, working directory, /tmp or /dev of the host: private ones");
    o.flag(iso, "-C,--containall", f.containall,
           "--contain, its own PID and IPC namespaces, and --cleanenv");
    o.flag(iso, "-i,--ipc", f.ipc, "Its own IPC namespace (default: the host's)");
    o.flag(iso, "-p,--pid", f.pid, "Its own PID namespace (default: the host's)");
    o.option(iso, "--hostname", f.hostname, "Its own UTS namespace, with this host name");
    o.flag(iso, "-f,--fakeroot", f.fakeroot,
           "Root inside a user namespace (default: your own uid and gid inside)");
    o.flag(env, "-e,--cleanenv", f.cleanenv,
           "Pass none of the host's environment but TERM, the proxies and LANG=C");
    o.list(env, "--env", f.env, "NAME=VALUE (a comma between several): set in the container");
    o.list(env, "--env-file", f.env_files, "A file of NAME=VALUE lines to set in the container");
    o.flag("GPUs", "--nv", f.nv,
           "NVIDIA GPUs and driver (a host without the driver: a warning, and the run goes on)");
    o.flag("GPUs", "--rocm", f.rocm,
           "AMD GPUs and ROCm (a host without the driver: a warning, and the run goes on)");
    o.option(env, "--app", f.app,
             "A SCIF app of the image: its environment, and its runscript (run), test (test) or "
             "startscript (instance start)");
    if (action == apptainer::Action::shell)
        o.option(env, "-s,--shell", f.shell,
                 "The shell to start (default /bin/bash, else /bin/sh)");
}

// Runs REQUEST through the engine, as gantry run does (its exit codes: docs/exit-codes.md)
int apptainer_execute(Context& ctx, engine::RunRequest request) {
    const std::string image = request.image;
    try {
        request.image_stores = ctx.image_stores;
        engine::fold_apptainer_gpu_flags(request);
        auto out = engine::execute(ctx.store(), std::move(request), engine::Caller::current());
        if (!out.detached_id.empty()) log::debug("instance container " + out.detached_id);
        return out.status;
    } catch (const Error& e) {
        if (static_cast<int>(e.code()) >= 125 || e.code() == Errc::policy) throw;
        throw Error(e.code() == Errc::usage ? Errc::usage : Errc::run_failed, e.message(),
                    e.hint());
    }
}

// `run`, `exec`, `shell`, `test`: ACTION of IMAGE (or instance://NAME)
void register_apptainer_action(CLI::App& parent, Context& ctx, apptainer::Action action,
                               const char* help, const char* operands, const char* usage) {
    auto f = std::make_shared<apptainer::Flags>();
    auto* cmd = parent.add_subcommand(apptainer::action_word(action), help);
    LazyOptions o(cmd, ctx.args);
    auto rest = o.operands("IMAGE", operands, usage);
    add_apptainer_action_flags(o, *f, action);
    cmd->callback([&ctx, f, rest, action] {
        ctx.action = [&ctx, f, rest = *rest, action]() -> int {
            const std::string verb = apptainer::action_word(action);
            if (rest.empty() || (action == apptainer::Action::exec && rest.size() < 2))
                throw Error(Errc::usage,
                            verb + " needs an image" +
                                (action == apptainer::Action::exec ? " and a command" : ""),
                            "gantry apptainer " + verb + " [OPTIONS] IMAGE.sif ...");
            std::vector<std::string> args(rest.begin() + 1, rest.end());
            auto host = apptainer::Host::current();
            if (auto name = apptainer::instance_of(rest[0]); !name.empty()) {
                if (action == apptainer::Action::test)
                    throw Error(Errc::usage, "test runs an image, not an instance",
                                "gantry apptainer test IMAGE.sif");
                engine::ExecRequest r;
                r.container = name;
                r.command = apptainer::instance_command(verb, args);
                r.env = apptainer::passed_environment(host.environ, f->cleanenv);
                r.tty = action == apptainer::Action::shell && ::isatty(0) && ::isatty(1);
                return engine::exec(r);
            }
            return apptainer_execute(ctx, apptainer::request(action, *f, host, rest[0], args));
        };
    });
}

void register_apptainer_instance(CLI::App& parent, Context& ctx) {
    auto* inst = parent.add_subcommand("instance", "Apptainer's instances: detached containers");
    inst->require_subcommand(1);
    {
        auto f = std::make_shared<apptainer::Flags>();
        auto* cmd = inst->add_subcommand(
            "start", "Start an instance: the image's startscript in the background");
        LazyOptions o(cmd, ctx.args);
        auto rest = o.operands("IMAGE",
                               "The image, the instance's name, the startscript's "
                               "arguments",
                               "IMAGE NAME [ARG...]");
        add_apptainer_action_flags(o, *f, apptainer::Action::instance_start);
        cmd->callback([&ctx, f, rest] {
            ctx.action = [&ctx, f, rest = *rest] {
                if (rest.size() < 2)
                    throw Error(Errc::usage, "instance start needs an image and a name",
                                "gantry apptainer instance start IMAGE.sif NAME");
                std::vector<std::string> args(rest.begin() + 2, rest.end());
                int status = apptainer_execute(
                    ctx, apptainer::request(apptainer::Action::instance_start, *f,
                                            apptainer::Host::current(), rest[0], args, rest[1]));
                if (status == 0) log::note("instance started successfully");
                return status;
            };
        });
    }
    {
        struct ListFlags {
            std::string name;
            bool json = false;
        };
        auto o = std::make_shared<ListFlags>();
        auto* cmd = inst->add_subcommand("list", "List the running instances");
        cmd->add_option("name", o->name, "Only the instances this glob matches");
        cmd->add_flag("-j,--json", o->json, "Print JSON");
        cmd->callback([&ctx, o] {
            ctx.action = [o] {
                std::fputs(apptainer::instance_list(o->name, o->json).c_str(), stdout);
                return 0;
            };
        });
    }
    {
        struct StopFlags {
            std::string name, signal = "INT";
            bool all = false, force = false;
            double timeout = 10;
        };
        auto o = std::make_shared<StopFlags>();
        auto* cmd = inst->add_subcommand("stop", "Stop instances (SIGTERM, then SIGKILL)");
        cmd->add_option("name", o->name, "The instance (a glob matches several)");
        cmd->add_flag("-a,--all", o->all, "Stop every instance");
        cmd->add_flag("-F,--force", o->force, "SIGKILL at once");
        cmd->add_option("-s,--signal", o->signal,
                        "The signal sent to the instance's processes (default SIGINT)");
        cmd->add_option("-t,--timeout", o->timeout, "Seconds before SIGKILL (default 10)");
        cmd->callback([&ctx, o] {
            ctx.action = [o] {
                int sig = engine::signal_number(o->signal, "--signal");
                for (const auto& n :
                     apptainer::instance_stop(o->name, o->all, o->timeout, o->force, sig))
                    log::note("Stopping " + n + " instance");
                return 0;
            };
        });
    }
}

void register_apptainer_inspect(CLI::App& parent, Context& ctx) {
    struct InspectFlags {
        std::string image;
        apptainer::InspectWhat what;
    };
    auto o = std::make_shared<InspectFlags>();
    auto* cmd = parent.add_subcommand(
        "inspect", "A SIF's labels (the default), definition file, scripts, help, environment");
    cmd->add_option("image", o->image, "The SIF file or sandbox directory")->required();
    cmd->add_flag("-l,--labels", o->what.labels, "The labels (the default)");
    cmd->add_flag("-d,--deffile", o->what.deffile, "The definition file it was built from");
    cmd->add_flag("-r,--runscript", o->what.runscript, "The runscript");
    cmd->add_flag("-s,--startscript", o->what.startscript, "The startscript");
    cmd->add_flag("-t,--test", o->what.test, "The test script");
    cmd->add_flag("-e,--environment", o->what.environment, "The environment scripts");
    cmd->add_flag("-H,--helpfile", o->what.helpfile, "The help (%help)");
    cmd->add_flag("-j,--json", o->what.json, "Apptainer's JSON document");
    cmd->add_flag("--all", o->what.all, "Everything, as JSON");
    cmd->add_option("--app", o->what.app, "A SCIF app's labels, scripts, help and environment");
    cmd->add_flag("--list-apps", o->what.list_apps, "The SCIF apps' names");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            std::fputs(apptainer::inspect(o->image, o->what).c_str(), stdout);
            return 0;
        };
    });
    auto image = std::make_shared<std::array<std::string, 2>>(); // the image, --app
    auto* help = parent.add_subcommand("run-help", "A SIF's help (%help)");
    help->add_option("image", (*image)[0], "The SIF file or sandbox directory")->required();
    help->add_option("--app", (*image)[1], "A SCIF app's help (%apphelp)");
    help->callback([&ctx, image] {
        ctx.action = [image] {
            std::fputs(apptainer::run_help((*image)[0], (*image)[1]).c_str(), stdout);
            return 0;
        };
    });
}

// Executes gantry itself with LINE: the command that does the job (apptainer/delegate.hpp)
[[noreturn]] void apptainer_delegate(const Context& ctx, const std::vector<std::string>& line) {
    std::vector<std::string> words{"gantry"};
    if (!ctx.root.empty()) words.insert(words.end(), {"--root", ctx.root});
    words.insert(words.end(), line.begin(), line.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    ::execv("/proc/self/exe", argv.data());
    throw_errno("cannot execute gantry " + line[0]);
}

void register_apptainer_images(CLI::App& parent, Context& ctx) {
    struct ImageFlags {
        std::vector<std::string> operands, keys, build_args;
        std::string key;
        bool force = false, notest = false, sandbox = false, fakeroot = false, legacy = false,
             json = false, no_https = false;
    };
    auto o = std::make_shared<ImageFlags>();
    auto* pull = parent.add_subcommand("pull", "gantry pull REF --format sif: docker://REF as "
                                               "a SIF ([OUTPUT.sif] SOURCE)");
    pull->add_option("operands", o->operands, "[OUTPUT.sif] docker://REF")->expected(1, 2);
    pull->add_flag("-F,--force", o->force, "Replace OUTPUT.sif");
    pull->add_flag("--no-https", o->no_https, "Plain http (and no TLS check) for oras://");
    pull->callback([&ctx, o] {
        ctx.action = [&ctx, o]() -> int {
            auto& w = o->operands;
            if (auto ref = apptainer::oras_ref(w.back()); !ref.empty()) {
                // a SIF artifact (registry/oras.hpp): pulled here, no gantry command has it
                std::string out = w.size() == 2 ? w[0] : apptainer::pull_file_name(ref);
                apptainer::refuse_existing(out, o->force);
                registry::ClientOptions co;
                if (o->no_https) co.tls_verify = false;
                auto r = registry::oras_pull(ref, out, co);
                log::note("pulled " + r.ref + " (" + r.manifest.str() + ") to " + out);
                return 0;
            }
            apptainer_delegate(ctx,
                               apptainer::pull_line(w.size() == 2 ? w[0] : "", w.back(), o->force));
        };
    });
    auto* build = parent.add_subcommand(
        "build", "A SIF (or --sandbox directory) from a definition file, docker://REF, "
                 "oras://REF, a SIF, a sandbox or a store image");
    build
        ->add_option("operands", o->operands,
                     "OUTPUT.sif|DIR FILE.def|docker://REF|oras://REF|FILE.sif|DIR|IMAGE")
        ->expected(2);
    build->add_flag("-F,--force", o->force, "Replace OUTPUT.sif");
    build->add_flag("-T,--notest", o->notest, "Do not run the definition file's %test");
    build->add_option("--build-arg", o->build_args, "NAME=VALUE for {{ NAME }}")
        ->allow_extra_args(false);
    build->add_flag("-f,--fakeroot", o->fakeroot,
                    "Accepted: gantry builds in a user namespace, as --fakeroot asks");
    build->add_flag("-s,--sandbox", o->sandbox,
                    "Write a sandbox directory (the image's root, your files) instead of a SIF");
    build->add_flag("--no-https", o->no_https, "Plain http (and no TLS check) for oras://");
    build->callback([&ctx, o] {
        ctx.action = [&ctx, o]() -> int {
            const auto& out = o->operands[0];
            const auto& spec = o->operands[1];
            apptainer::SandboxSource source{
                spec, o->build_args, o->notest, o->no_https, {fs::self_exe()}};
            if (!ctx.root.empty()) source.gantry.insert(source.gantry.end(), {"--root", ctx.root});
            if (o->sandbox) {
                apptainer::build_sandbox(out, source, o->force);
            } else if (auto line = apptainer::build_sif(out, source, o->force); !line.empty()) {
                apptainer_delegate(ctx, line); // gantry build -f, pull or save writes it
            }
            log::note("Build complete: " + out);
            return 0;
        };
    });
    auto* verify = parent.add_subcommand("verify", "gantry verify: a SIF's signatures");
    verify->add_option("operands", o->operands, "The SIF file")->expected(1);
    verify->add_option("-k,--key", o->keys, "A public key file (OpenPGP or PEM)")
        ->allow_extra_args(false);
    verify->add_flag("--legacy-insecure", o->legacy, "Also check legacy signatures");
    verify->add_flag("-j,--json", o->json, "Print JSON (gantry's fields)");
    verify->callback([&ctx, o] {
        ctx.action = [&ctx, o]() -> int {
            apptainer_delegate(ctx,
                               apptainer::verify_line(o->operands[0], o->keys, o->legacy, o->json));
        };
    });
    auto* sign = parent.add_subcommand("sign", "gantry sign --key: sign a SIF");
    sign->add_option("operands", o->operands, "The SIF file")->expected(1);
    sign->add_option("-k,--key", o->key, "The secret key file (OpenPGP, or PEM for DSSE)");
    sign->callback([&ctx, o] {
        ctx.action = [&ctx, o]() -> int {
            apptainer_delegate(ctx, apptainer::sign_line(o->operands[0], o->key));
        };
    });
    auto* push = parent.add_subcommand("push", "A SIF to an OCI registry as an ORAS artifact "
                                               "(FILE.sif oras://REGISTRY/REPO:TAG)");
    push->add_option("operands", o->operands, "FILE.sif oras://REGISTRY/REPO:TAG")->expected(2);
    push->add_flag("--no-https", o->no_https, "Plain http (and no TLS check)");
    push->callback([&ctx, o] {
        ctx.action = [o]() -> int {
            auto ref = apptainer::oras_ref(o->operands[1]);
            if (ref.empty()) {
                apptainer::docker_ref(o->operands[1], "push"); // library://: names oras://
                throw Error(Errc::usage,
                            "push " + o->operands[1] + ": Apptainer pushes SIFs to oras://",
                            "gantry apptainer push FILE.sif oras://REGISTRY/REPO:TAG; gantry "
                            "push IMAGE pushes a store image");
            }
            registry::ClientOptions co;
            if (o->no_https) co.tls_verify = false;
            auto r = registry::oras_push(o->operands[0], ref, co);
            log::note("pushed " + o->operands[0] + " to " + r.ref + " (" + r.manifest.str() + ")");
            return 0;
        };
    });
}

} // namespace

void register_apptainer(CLI::App& app, Context& ctx) {
    auto* a = app.add_subcommand("apptainer", "Apptainer's command line, with Apptainer's "
                                              "defaults (also called as apptainer, singularity)");
    a->require_subcommand(1);
    register_apptainer_action(
        *a, ctx, apptainer::Action::run, "Run the image's runscript, with the arguments",
        "The image (a SIF file, a sandbox directory, instance://NAME), then the runscript's "
        "arguments",
        "IMAGE [ARG...]");
    register_apptainer_action(*a, ctx, apptainer::Action::exec,
                              "Run a command in the image, after its environment scripts",
                              "The image, then the command and its arguments",
                              "IMAGE COMMAND [ARG...]");
    register_apptainer_action(*a, ctx, apptainer::Action::shell,
                              "An interactive shell in the image",
                              "The image, then the shell's "
                              "arguments",
                              "IMAGE [ARG...]");
    register_apptainer_action(*a, ctx, apptainer::Action::test,
                              "Run the image's test script (%test)",
                              "The image, then the test's arguments", "IMAGE [ARG...]");
    register_apptainer_instance(*a, ctx);
    register_apptainer_inspect(*a, ctx);
    register_apptainer_images(*a, ctx);
}

} // namespace gantry::cli
