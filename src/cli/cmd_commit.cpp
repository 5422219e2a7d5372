// `gantry commit`: an image of a container (image_build/container_commit.hpp), as docker's; and
// the hidden `__commit` the Engine API's POST /commit runs (its request as JSON on stdin).
#include "cli/context.hpp"
#include "image_build/container_commit.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"

#include <cstdio>
#include <unistd.h>

namespace gantry::cli {

namespace {

int print_committed(const image_build::Committed& c, bool quiet) {
    if (!quiet)
        std::fprintf(stderr, "Committed %s%s, id %s\n",
                     c.ref.empty() ? "an untagged image" : c.ref.c_str(),
                     c.new_layer ? " (one new layer)" : " (no new layer: nothing changed)",
                     c.config.short_id().c_str());
    std::printf("%s\n", c.config.str().c_str());
    return 0;
}

} // namespace

void register_commit(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string container, ref;
        image_build::CommitRequest req;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("commit", "Make an image of a container's changes");
    cmd->add_option("container", o->container, "Container name or ID")->required();
    cmd->add_option("repository", o->ref,
                    "The image's name, REPO[:TAG] (none: the image is kept untagged, "
                    "<none>:<none>, found by its ID)");
    cmd->add_option("-c,--change", o->req.changes,
                    "Apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, EXPOSE, "
                    "LABEL, ONBUILD, USER, VOLUME or WORKDIR (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("-m,--message", o->req.message, "The commit message (the image's comment)");
    cmd->add_option("-a,--author", o->req.author,
                    "The image's author (e.g. \"Jane Doe <jane@example.com>\")");
    cmd->add_flag("-p,--pause", o->req.pause,
                  "Pause a running container while its layer is read (default true; "
                  "--pause=false: commit it as it runs)");
    cmd->footer("The container's writable layer becomes one new layer on its image's; the config "
                "is the image's with the container's run settings over it (command, "
                "--entrypoint, -e, -w, -u, labels, exposed and published ports, health check), "
                "then the --change instructions. The container keeps its changes.");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            o->req.ref = o->ref;
            o->req.privileged = running_as_real_root();
            auto s = records::StateDir().get(o->container);
            return print_committed(image_build::commit_container(s, o->req), ctx.quiet);
        };
    });

    // POST /commit's helper (engine_api/handlers_images.cpp): {"container", "ref", "changes",
    // "config", "message", "author", "pause"} on stdin; prints the image ID. Not for users.
    auto* helper = app.add_subcommand("__commit", "");
    helper->group(""); // hidden
    helper->callback([&ctx] {
        ctx.action = [] {
            std::string text = fs::read_stream(STDIN_FILENO, 1 << 20, "the commit request");
            auto j = nlohmann::json::parse(text, nullptr, false);
            if (j.is_discarded() || !j.is_object())
                throw Error(Errc::invalid, "the commit request on stdin is not a JSON object");
            image_build::CommitRequest req;
            req.ref = j.value("ref", "");
            req.changes = j.value("changes", std::vector<std::string>{});
            req.config = j.value("config", nlohmann::json::object());
            req.message = j.value("message", "");
            req.author = j.value("author", "");
            req.pause = j.value("pause", true);
            req.privileged = running_as_real_root();
            auto s = records::StateDir().get(j.value("container", ""));
            return print_committed(image_build::commit_container(s, req), true);
        };
    });
}

} // namespace gantry::cli
