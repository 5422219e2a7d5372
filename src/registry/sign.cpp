#include "registry/sign.hpp"

#include "site/lookaside.hpp"
#include "site/signature.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <ctime>

namespace gantry::registry {

namespace stdfs = std::filesystem;

SignTarget prepare_signing(const oci::Reference& dest, const std::string& key_id) {
    auto la = site::lookaside_for(dest);
    if (la.write_base.empty())
        throw Error(Errc::unsupported,
                    "--sign-by: registries.d names no place to write signatures of " + dest.str(),
                    "set lookaside-staging: file:///DIR for its registry in "
                    "~/.config/containers/registries.d/*.yaml (containers-registries.d(5))");
    if (!la.write_base.starts_with("file://"))
        throw Error(Errc::unsupported,
                    "--sign-by: signatures of " + dest.str() + " would be written to " +
                        la.write_base + " (" + la.write_origin +
                        "), and only file:// locations can be written",
                    "set lookaside-staging: file:///DIR for that scope and publish DIR at the "
                    "lookaside URL");
    site::check_signing_key(key_id);
    return {la.write_base.substr(7), la.write_origin};
}

stdfs::path sign_pushed(const SignTarget& target, const oci::Reference& dest,
                        const oci::Digest& digest, const std::string& key_id) {
    std::string payload = site::simple_signing_payload(digest, dest.str(), std::time(nullptr));
    std::string sig = site::gpg_sign(payload, key_id);
    std::string first = site::signature_url("file://" + target.dir.string(), dest, digest, 1);
    stdfs::path file = first.substr(7);
    fs::make_dirs(file.parent_path());
    fs::write_atomic(file, sig, 0644);
    std::error_code ec;
    for (unsigned n = 2;; ++n) { // older signatures of this digest go, as containers/image's do
        stdfs::path old =
            site::signature_url("file://" + target.dir.string(), dest, digest, n).substr(7);
        if (!stdfs::remove(old, ec)) break;
    }
    return file;
}

} // namespace gantry::registry
