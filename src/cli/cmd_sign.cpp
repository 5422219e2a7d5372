#include "cli/context.hpp"
#include "site/file_signature.hpp"
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

} // namespace gantry::cli
