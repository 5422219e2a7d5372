// gantry sign FILE: a .sqsh file gets a detached GPG simple signature (FILE.sig, --sign-by); a
// .sif file gets signature objects inside it, one per object group, as Apptainer's `sign` writes
// them (sif/sign.hpp, on a copy renamed over the file): OpenPGP clear-signed with --key
// SECRET_KEY (a key file, in a throwaway GnuPG home) or --sign-by FINGERPRINT (the user's
// keyring), or a DSSE envelope with --key KEY.pem (ECDSA, Ed25519, RSA).
#include "cli/context.hpp"
#include "sif/dsse.hpp"
#include "sif/sign.hpp"
#include "site/file_signature.hpp"
#include "site/signature.hpp"
#include "site/sigstore.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace gantry::cli {

namespace {

bool sign_is_sif(const std::string& file) {
    if (file.ends_with(".sif")) return true;
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    char head[64] = {};
    ssize_t n = fd ? ::pread(fd.get(), head, sizeof head, 0) : -1;
    return n > 0 && sif::looks_like_sif(std::string_view(head, static_cast<std::size_t>(n)));
}

std::string sign_unhex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

int sign_sif(const std::string& file, const std::string& key_file, const std::string& key_id) {
    if (key_file.empty() == key_id.empty())
        throw Error(Errc::usage, "signing a SIF file needs one key: --key FILE or --sign-by KEY",
                    "gantry sign " + file +
                        " --key SECRET_KEY (an OpenPGP secret key, or a PEM "
                        "private key for a DSSE signature)");
    std::string key = key_file.empty() ? std::string() : fs::read_file(key_file, 1u << 20);
    bool pem = key.find("-----BEGIN ") != std::string::npos &&
               key.find("PRIVATE KEY-----") != std::string::npos &&
               key.find("-----BEGIN PGP") == std::string::npos;
    if (!key_id.empty()) site::check_signing_key(key_id);
    sif::Editor ed(file);
    auto groups = sif::object_groups(ed.container());
    if (groups.empty())
        throw Error(Errc::invalid, file + " has no object group to sign",
                    "sign a SIF that holds a partition (apptainer build, gantry save --format "
                    "sif)");
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    for (std::uint32_t g : groups) {
        std::string md = sif::group_metadata(ed.container(), ed.reader(), g);
        std::string data, fingerprint, who, form;
        if (pem) {
            auto s = site::pem_sign(key, sif::pae(sif::kDssePayloadType, md), key_file);
            data = sif::encode_envelope(md, {{s.key_id, s.sig}});
            who = s.key_id.empty() ? key_file : s.key_id;
            form = "DSSE";
        } else {
            auto s = key_id.empty() ? site::gpg_clearsign_with_key(md, key, key_file)
                                    : site::gpg_clearsign(md, key_id);
            data = std::move(s.text);
            fingerprint = sign_unhex(s.fingerprint);
            who = s.fingerprint + (s.user_id.empty() ? "" : " " + s.user_id);
            form = "OpenPGP";
        }
        std::uint32_t id = ed.add_signature(g, data, sif::kHashSha256, fingerprint, now);
        std::printf("Signature object %u (object group %u, %s): %s\n", id, g, form.c_str(),
                    who.c_str());
    }
    ed.commit();
    return 0;
}

} // namespace

void register_sign(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string file, sign_by, key;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "sign", "Sign an image file: a .sif gets signature objects inside it (as apptainer sign "
                "writes them), a .sqsh a detached FILE.sig (checked before a run when "
                "policy.json's sif transport asks for a signature)");
    cmd->add_option("file", o->file,
                    "The .sif or .sqsh file (or a shared store's DIR/sqsh/HEX.sqsh)")
        ->required();
    cmd->add_option("--sign-by", o->sign_by,
                    "GPG key of your keyring (fingerprint or key ID, as gpg --list-secret-keys "
                    "shows)");
    cmd->add_option("--key", o->key,
                    "A .sif file only: a secret key file, OpenPGP (gpg --export-secret-keys, no "
                    "passphrase) or PEM (ECDSA, Ed25519, RSA: a DSSE signature)");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            if (sign_is_sif(o->file)) return sign_sif(o->file, o->key, o->sign_by);
            if (!o->key.empty())
                throw Error(Errc::usage,
                            "--key signs .sif files; " + o->file +
                                " is not one (a .sqsh file is signed with --sign-by)",
                            "gantry sign " + o->file + " --sign-by FINGERPRINT");
            if (o->sign_by.empty())
                throw Error(Errc::usage, "--sign-by is required to sign " + o->file,
                            "gantry sign " + o->file + " --sign-by FINGERPRINT");
            std::printf("Signature: %s\n", site::sign_file(o->file, o->sign_by).c_str());
            return 0;
        };
    });
}

} // namespace gantry::cli
