// `gantry version` and `gantry info`: what gantry and this host are, in gantry's words and, for
// --format, in docker's shapes (docker_model/system.hpp).
#include "cli/context.hpp"
#include "docker_model/containers.hpp"
#include "docker_model/system.hpp"
#include "image_list/image_list.hpp"
#include "oci/image.hpp"
#include "records/state.hpp"
#include "site/report.hpp"
#include "util/json.hpp"

#include <cstdio>
#include <sys/utsname.h>

namespace gantry::cli {

void register_version(CLI::App& app, Context& ctx) {
    struct Opts {
        bool json = false;
        std::string format;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("version", "Show gantry's version (also `gantry --version`)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("-f,--format", o->format,
                    "A Go template over docker's version fields ({{.Server.Version}}, "
                    "{{json .}})");
    cmd->footer("gantry has no daemon: docker's Server fields (--format) describe the engine in "
                "this program.");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            refuse_json_with_format(o->json, o->format);
            if (!o->format.empty())
                return print_formatted(o->format, docker_model::inspect_listing("the version"),
                                       {docker_model::version_json(GANTRY_VERSION)});
            struct utsname u {};
            ::uname(&u);
            const std::string arch = oci::Platform::host().str();
            if (o->json) {
                oci::json j{{"version", GANTRY_VERSION}, {"platform", arch}, {"kernel", u.release}};
                std::printf("%s\n", safe_json::dump_lossy(j, 2).c_str());
            } else {
                std::printf("gantry %s\nPlatform: %s\nKernel:   %s\n", GANTRY_VERSION, arch.c_str(),
                            u.release);
            }
            return 0;
        };
    });
}

void register_info(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string reference, policy, format;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "info", "Show the registries.conf and policy.json in force, and what they say about an "
                "image name");
    cmd->add_option("--reference", o->reference,
                    "An image name: its candidates, mirrors, insecure/blocked and policy");
    cmd->add_option("--signature-policy", o->policy, "policy.json to read instead of the default");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("-f,--format", o->format,
                    "A Go template over docker's info fields ({{.ServerVersion}}, "
                    "{{.DockerRootDir}}, {{json .}})");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            refuse_json_with_format(o->json, o->format);
            if (!o->format.empty()) {
                if (!o->reference.empty() || !o->policy.empty())
                    throw Error(Errc::usage,
                                "--format prints docker's info fields: --reference and "
                                "--signature-policy are for the registries report",
                                "drop --format, or drop --reference and --signature-policy");
                docker_model::EngineFacts f;
                f.version = GANTRY_VERSION;
                f.store_root = ctx.store_root();
                records::StateDir states;
                for (auto& s : states.list()) {
                    ++f.containers;
                    ++(s.running() ? f.running : f.stopped);
                }
                f.images = image_list::count_images(ctx.store(), ctx.image_stores);
                return print_formatted(o->format, docker_model::inspect_listing("the info"),
                                       {docker_model::info_json(f)});
            }
            auto r = site::report(o->reference, o->policy);
            if (o->json)
                std::printf("%s\n", safe_json::dump_lossy(r, 2).c_str());
            else
                std::fputs(site::render_report(r).c_str(), stdout);
            return 0;
        };
    });
}

} // namespace gantry::cli
