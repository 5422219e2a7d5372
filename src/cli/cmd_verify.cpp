// gantry verify FILE.sif --key KEY...: the signatures Apptainer and SingularityCE write into a SIF
// (sif/signature.hpp checks the file; site::gpg_verify_message the OpenPGP messages with GPGME in
// a throwaway GnuPG home, site::pem_verify the DSSE envelopes with GnuTLS; docs/apptainer.md).
// A --key file holding a PEM public key checks DSSE envelopes, any other OpenPGP signatures.
#include "cli/context.hpp"
#include "oci/image.hpp"
#include "sif/signature.hpp"
#include "site/signature.hpp"
#include "site/sigstore.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/printable.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>

namespace gantry::cli {

namespace {

std::string verify_objects(const std::vector<sif::Object>& objs) {
    std::string s;
    for (auto& o : objs)
        s += (s.empty() ? "" : ", ") +
             ("object " + std::to_string(o.id) + " (" + sif::type_name(o.type) + ")");
    return s;
}

std::string verify_link(const sif::SignatureResult& r) {
    return r.group ? "object group " + std::to_string(r.group)
                   : "object " + std::to_string(r.linked_object);
}

oci::json verify_json(const std::string& file, const sif::Report& rep, bool checked) {
    oci::json sigs = oci::json::array();
    for (auto& r : rep.signatures) {
        oci::json covers = oci::json::array();
        for (auto& o : r.covers)
            covers.push_back({{"id", o.id}, {"type", sif::type_name(o.type)}, {"name", o.name}});
        oci::json s = {{"id", r.id},
                       {"group", r.group},
                       {"hash", r.info.hash},
                       {"form", r.form},
                       {"fingerprint", r.info.fingerprint},
                       {"covers", covers}};
        if (!r.group) s["linkedObject"] = r.linked_object;
        if (checked) {
            s["verified"] = r.verified;
            s["signer"] = {{"fingerprint", r.signer.fingerprint}, {"userId", r.signer.user_id}};
            if (!r.error.empty()) s["error"] = r.error;
        }
        sigs.push_back(std::move(s));
    }
    return {{"file", file},
            {"checked", checked},
            {"verified", checked && rep.ok()},
            {"signatures", sigs},
            {"problems", rep.problems}};
}

void verify_print(const sif::Report& rep, bool checked) {
    for (auto& r : rep.signatures) {
        std::string about =
            verify_link(r) + ", " + (r.form.empty() ? "" : r.form + ", ") + r.info.hash;
        std::printf("Signature object %u (%s", r.id, text::printable(about).c_str());
        std::printf("): %s\n", !checked ? "not checked" : r.verified ? "verified" : "FAILED");
        std::string fpr = r.signer.fingerprint.empty() ? r.info.fingerprint : r.signer.fingerprint;
        std::printf("  Signer:  %s%s%s\n",
                    fpr.empty() ? "(none named)" : text::printable(fpr).c_str(),
                    r.signer.user_id.empty() ? "" : " ", text::printable(r.signer.user_id).c_str());
        if (!r.covers.empty()) std::printf("  Covers:  %s\n", verify_objects(r.covers).c_str());
        if (!r.error.empty()) std::printf("  Error:   %s\n", text::printable(r.error).c_str());
    }
    for (auto& p : rep.problems) std::printf("Problem: %s\n", text::printable(p).c_str());
}

int run_verify(const std::string& file, const std::vector<std::string>& key_files, bool json,
               bool legacy) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + file);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + file);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, file + " is not a regular file", "give the path of a .sif file");
    sif::Container c = sif::read(fd.get(), file);
    sif::Report rep;
    rep.signatures = sif::list_signatures(c);
    if (rep.signatures.empty())
        throw Error(Errc::not_found, file + " has no signature object: it is not signed",
                    "sign it with apptainer sign (or singularity sign) " + file);
    if (key_files.empty()) {
        auto read = sif::pread_reader(fd.get(), file);
        for (auto& r : rep.signatures) {
            for (auto& o : c.objects)
                if (o.id == r.id && o.type == std::int32_t(sif::DataType::signature)) {
                    std::string d(sif::kDescriptorSize, '\0');
                    read(o.descriptor_at, d.data(), d.size());
                    r.info = sif::signature_info(std::string_view(d).substr(201, 384));
                }
        }
        if (json)
            std::printf("%s\n", safe_json::dump_lossy(verify_json(file, rep, false), 2).c_str());
        else
            verify_print(rep, false);
        throw Error(Errc::usage,
                    file + " has " + std::to_string(rep.signatures.size()) +
                        " signature(s), but gantry verify has no keyring to check them "
                        "against: name the signers' public keys with --key",
                    "gpg --export --armor FINGERPRINT > KEY.asc, then gantry verify " + file +
                        " --key KEY.asc");
    }
    std::vector<std::string> keys, pem_keys;
    for (auto& k : key_files) {
        std::string text = fs::read_file(k, 1u << 20);
        if (text.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) {
            try {
                site::check_sigstore_key(text, k);
            } catch (const Error& e) {
                throw Error(Errc::usage, e.message(),
                            "give the PEM public key of the DSSE signer (an ECDSA, Ed25519 or "
                            "RSA key: \"-----BEGIN PUBLIC KEY-----\")");
            }
            pem_keys.push_back(std::move(text));
        } else {
            keys.push_back(std::move(text));
        }
    }
    sif::Checks checks;
    checks.legacy = legacy;
    if (!pem_keys.empty())
        checks.dsse = [&pem_keys](const std::string& pae,
                                  const std::vector<sif::DsseSignature>& sigs) {
            std::vector<site::PemSignature> ps;
            for (auto& s : sigs) ps.push_back({s.key_id, s.sig});
            return site::pem_verify(pae, ps, pem_keys);
        };
    if (!keys.empty())
        checks.openpgp = [&keys](const std::string& message) {
            try {
                auto s = site::gpg_verify_message(message, keys, "the --key files",
                                                  "which the --key files do not hold", true);
                return sif::SignedText{std::move(s.text), std::move(s.fingerprint),
                                       std::move(s.user_id)};
            } catch (const Error& e) {
                if (e.code() != Errc::invalid) throw;
                // the keys, not the signature: a bad argument, for the whole command
                throw Error(Errc::usage, e.message(), e.hint());
            }
        };
    rep = sif::verify(c, sif::pread_reader(fd.get(), file), checks, file);
    if (json)
        std::printf("%s\n", safe_json::dump_lossy(verify_json(file, rep, true), 2).c_str());
    else
        verify_print(rep, true);
    std::fflush(stdout);
    if (rep.ok()) return 0;
    std::size_t failed = 0;
    for (auto& r : rep.signatures) failed += !r.verified;
    std::string first;
    for (auto& r : rep.signatures)
        if (first.empty() && !r.error.empty()) first = r.error;
    if (first.empty() && !rep.problems.empty()) first = rep.problems.front();
    throw Error(Errc::policy,
                file + " does not verify (" + std::to_string(failed) + " of " +
                    std::to_string(rep.signatures.size()) + " signature(s) failed): " + first,
                "a modified file must be re-signed by its signer (apptainer sign); a signature by "
                "another key needs that key's --key");
}

} // namespace

void register_verify(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string file;
        std::vector<std::string> keys;
        bool json = false, legacy = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "verify", "Verify the signatures of a SIF file (OpenPGP and DSSE: apptainer sign, "
                  "singularity sign, gantry sign)");
    cmd->add_option("file", o->file, "The .sif file")->required();
    cmd->add_option("--key", o->keys,
                    "A signer's public key: OpenPGP (gpg --export --armor FINGERPRINT) or PEM "
                    "(DSSE signatures), repeatable");
    cmd->add_flag("--legacy-insecure", o->legacy,
                  "Also check legacy signatures (Singularity before 3.6: the objects' data only)");
    cmd->add_flag("--json", o->json, "Print the signatures and their results as JSON");
    cmd->callback([&ctx, o] {
        ctx.action = [o] { return run_verify(o->file, o->keys, o->json, o->legacy); };
    });
}

} // namespace gantry::cli
