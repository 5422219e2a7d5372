#include "apptainer/delegate.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

namespace gantry::apptainer {

std::string pull_file_name(const std::string& ref) {
    std::string r = ref.substr(0, ref.find('@'));
    std::string tag = "latest";
    auto slash = r.rfind('/');
    auto colon = r.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        tag = r.substr(colon + 1);
        r = r.substr(0, colon);
    }
    std::string name = slash == std::string::npos ? r : r.substr(r.rfind('/') + 1);
    return name + "_" + tag + ".sif";
}

std::string docker_ref(const std::string& source, const std::string& verb) {
    if (source.starts_with("docker://")) return source.substr(9);
    if (source.starts_with("library://"))
        throw Error(Errc::usage,
                    source + ": library:// is Sylabs' library protocol, which gantry does not "
                             "speak",
                    "share SIFs through an OCI registry with oras://REGISTRY/REPO:TAG, or pull "
                    "docker://REF");
    if (source.starts_with("oras://"))
        throw Error(Errc::usage,
                    "gantry apptainer " + verb + " " + source +
                        ": oras:// holds a SIF, not an image to " + verb + " from",
                    "gantry apptainer pull FILE.sif " + source);
    auto scheme = source.find("://");
    throw Error(Errc::usage,
                "gantry apptainer " + verb + " " + source + ": " +
                    (scheme == std::string::npos
                         ? std::string("not a source with a scheme")
                         : "the " + source.substr(0, scheme) + ":// source is not supported"),
                "give docker://REF (a registry image)");
}

std::string oras_ref(const std::string& source) {
    return source.starts_with("oras://") ? source.substr(7) : std::string();
}

void refuse_existing(const std::string& output, bool force) {
    std::error_code ec;
    if (!force && fs::stdfs::exists(output, ec))
        throw Error(Errc::conflict,
                    "Image file already exists: \"" + output + "\" - will not overwrite",
                    "--force replaces it");
}

std::vector<std::string> pull_line(std::string output, const std::string& source, bool force) {
    std::string ref = docker_ref(source, "pull");
    if (output.empty()) output = pull_file_name(ref);
    refuse_existing(output, force);
    return {"pull", ref, "--format", "sif", "-o", output};
}

std::vector<std::string> verify_line(const std::string& file, const std::vector<std::string>& keys,
                                     bool legacy, bool json) {
    std::vector<std::string> line{"verify", file};
    for (const auto& k : keys) {
        line.push_back("--key");
        line.push_back(k);
    }
    if (legacy) line.push_back("--legacy-insecure");
    if (json) line.push_back("--json");
    return line;
}

std::vector<std::string> sign_line(const std::string& file, const std::string& key) {
    if (key.empty())
        throw Error(Errc::usage,
                    "gantry has no keyring of its own: sign with a key file (Apptainer's sign "
                    "signs with its keyring's key)",
                    "--key SECRET.gpg (gpg --export-secret-keys FPR) or --key KEY.pem; or "
                    "gantry sign FILE --sign-by FINGERPRINT");
    return {"sign", file, "--key", key};
}

} // namespace gantry::apptainer
