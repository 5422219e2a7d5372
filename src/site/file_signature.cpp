#include "site/file_signature.hpp"

#include "oci/image.hpp"
#include "sif/container.hpp"
#include "sif/oci_sif.hpp"
#include "sif/signature.hpp"
#include "site/paths.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace gantry::site {

namespace stdfs = std::filesystem;

namespace {

oci::Digest sha256_of_file(const std::string& file) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("opening " + file);
    Sha256 h;
    std::string buf(1u << 20, '\0');
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("reading " + file);
        if (n == 0) break;
        h.update(buf.data(), static_cast<std::size_t>(n));
    }
    return oci::Digest::from_hex(h.hex_final());
}

[[noreturn]] void refuse_file(const std::string& file, const Policy& policy,
                              const std::string& scope, const std::string& req,
                              const std::string& why, const std::string& hint) {
    throw Error(Errc::policy,
                "image file " + file + " refused by " + policy.file + " (" + scope +
                    ", requirement " + req + "): " + why,
                hint);
}

// Whether FILE is a SIF (its name, or its magic), whose signatures are inside it.
bool fsig_is_sif(const std::string& file) {
    if (file.ends_with(".sif")) return true;
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    char head[64] = {};
    ssize_t n = fd ? ::pread(fd.get(), head, sizeof head, 0) : -1;
    return n > 0 && sif::looks_like_sif(std::string_view(head, static_cast<std::size_t>(n)));
}

// A SIF's embedded signatures against KEYS: a verified OpenPGP signature (current form) of the
// object group holding the partition a run mounts (an OCI-SIF: of every group). Throws
// Error(policy) saying why not.
void fsig_check_sif(const std::string& file, const std::vector<std::string>& keys) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("opening " + file);
    sif::Container c = sif::read(fd.get(), file);
    std::vector<std::uint32_t> groups;
    if (sif::is_oci_sif(c)) {
        for (auto& o : c.objects)
            if (o.group && std::find(groups.begin(), groups.end(), o.group) == groups.end())
                groups.push_back(o.group);
    } else {
        groups.push_back(sif::system_partition(c, oci::Platform::host().architecture, file).group);
    }
    sif::Checks checks;
    checks.openpgp = [&keys](const std::string& m) {
        auto s = gpg_verify_message(m, keys, "the policy's signedBy keys",
                                    "which the policy does not trust", true);
        return sif::SignedText{std::move(s.text), std::move(s.fingerprint), std::move(s.user_id)};
    };
    sif::Report rep = sif::verify(c, sif::pread_reader(fd.get(), file), checks, file);
    if (rep.signatures.empty())
        throw Error(Errc::policy, "a signature was required, but the SIF has no signature object");
    for (std::uint32_t g : groups) {
        if (sif::group_verified(rep, g)) continue;
        std::string why;
        for (auto& r : rep.signatures)
            if (r.group == g && !r.error.empty()) why += (why.empty() ? "" : "; ") + r.error;
        if (why.empty()) why = "no signature covers object group " + std::to_string(g);
        throw Error(Errc::policy, "its embedded signature does not verify: " + why);
    }
}

} // namespace

std::string file_signature_path(const std::string& file) {
    return file + ".sig";
}

std::string sign_file(const std::string& file, const std::string& key_id) {
    check_signing_key(key_id);
    auto digest = sha256_of_file(file);
    std::string name = stdfs::path(file).filename().string();
    std::string sig = gpg_sign(simple_signing_payload(digest, name, std::time(nullptr)), key_id);
    std::string out = file_signature_path(file);
    fs::write_atomic(out, sig, 0644);
    return out;
}

std::optional<Verdict> verify_file(const std::string& file, const std::string& policy_file) {
    Policy policy;
    try {
        policy = Policy::load(policy_file);
    } catch (const Error& e) {
        // only the default files may be absent; a file named by flag or environment must exist
        if (e.code() != Errc::not_found || !policy_file.empty() ||
            !Paths::current().policy_env.empty())
            throw;
        return std::nullopt;
    }
    std::error_code ec;
    std::string abs = stdfs::weakly_canonical(stdfs::absolute(file), ec).string();
    if (ec) abs = stdfs::absolute(file).lexically_normal().string();
    Verdict v;
    v.policy_file = policy.file;
    v.policy_digest = policy.digest;
    const Requirements& reqs = policy.for_file(abs, v.scope);
    std::optional<oci::Digest> digest;
    for (const Requirement& req : reqs) {
        v.requirements.push_back(req.name());
        switch (req.type) {
        case Requirement::Type::insecure_accept_anything:
            continue;
        case Requirement::Type::reject:
            refuse_file(abs, policy, v.scope, req.name(), "the policy rejects this file",
                        "the site does not allow it; use an image the policy accepts");
        case Requirement::Type::sigstore_signed:
            refuse_file(abs, policy, v.scope, req.name(),
                        "sigstore signatures are not made or read for image files",
                        "use a signedBy requirement for the sif transport and sign the file "
                        "with gantry sign FILE --sign-by KEY");
        case Requirement::Type::signed_by:
            break;
        }
        std::vector<std::string> keys;
        if (!req.key_data.empty()) keys.push_back(req.key_data);
        for (auto& p : req.key_paths) {
            try {
                keys.push_back(fs::read_file(p, 16u << 20));
            } catch (const Error& e) {
                refuse_file(abs, policy, v.scope, req.name(),
                            "its key file cannot be read: " + e.message(),
                            "fix keyPath in " + policy.file);
            }
        }
        if (fsig_is_sif(file)) {
            try {
                fsig_check_sif(file, keys);
            } catch (const Error& e) {
                if (e.code() != Errc::policy) throw;
                refuse_file(abs, policy, v.scope, req.name(), e.message(),
                            "sign the SIF with a key the policy trusts: gantry sign " + file +
                                " --key SECRET_KEY (or apptainer sign)");
            }
            continue;
        }
        std::string sig_path = file_signature_path(file), sig;
        try {
            sig = fs::read_file(sig_path, kMaxSignatureBytes);
        } catch (const Error& e) {
            if (e.code() == Errc::not_found)
                refuse_file(abs, policy, v.scope, req.name(),
                            "a signature was required, but " + sig_path + " does not exist",
                            "sign the file: gantry sign " + file + " --sign-by KEY");
            refuse_file(abs, policy, v.scope, req.name(), sig_path + ": " + e.message(),
                        "sign the file again: gantry sign " + file + " --sign-by KEY");
        }
        if (!digest) digest = sha256_of_file(file);
        try {
            std::string payload = gpg_verify(sig, keys);
            check_signed_payload(payload, PayloadKind::file, *digest, req.identity,
                                 oci::Reference{});
        } catch (const Error& e) {
            if (e.code() != Errc::policy) throw;
            refuse_file(abs, policy, v.scope, req.name(), sig_path + ": " + e.message(),
                        "sign the file again: gantry sign " + file + " --sign-by KEY");
        }
    }
    return v;
}

} // namespace gantry::site
