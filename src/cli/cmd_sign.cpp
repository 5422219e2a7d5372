#include "cli/context.hpp"
#include "site/file_signature.hpp"
#include "site/report.hpp"
#include "util/error.hpp"

#include <cstdio>

namespace gantry::cli {

void register_sign(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string file, key;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "sign", "Sign a squashfs image file (FILE.sig, checked before a run when policy.json's "
                "sif transport asks for a signature)");
    cmd->add_option("file", o->file, "The .sqsh file (or a shared store's DIR/sqsh/HEX.sqsh)")
        ->required();
    cmd->add_option("--sign-by", o->key,
                    "GPG key (fingerprint or key ID, as gpg --list-secret-keys shows)")
        ->required();
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            std::printf("Signature: %s\n", site::sign_file(o->file, o->key).c_str());
            return 0;
        };
    });
}

void register_info(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string reference, policy;
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
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            auto r = site::report(o->reference, o->policy);
            if (o->json)
                std::printf("%s\n", r.dump(2).c_str());
            else
                std::fputs(site::render_report(r).c_str(), stdout);
            return 0;
        };
    });
}

} // namespace gantry::cli
