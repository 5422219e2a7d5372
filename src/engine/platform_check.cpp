#include "engine/platform_check.hpp"

#include "binfmt/handlers.hpp"
#include "rootfs/image_files.hpp"
#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <fcntl.h>
#include <map>
#include <unistd.h>

namespace gantry::engine {
namespace {

constexpr std::size_t kElfFilesNamed = 5; // files named in a finding

// The first 20 bytes of the file at HOST_PATH ("" when it cannot be read or is shorter).
std::string head_of(const std::string& host_path) {
    Fd fd(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return {};
    char buf[20];
    ssize_t n = ::pread(fd.get(), buf, sizeof buf, 0);
    return n == static_cast<ssize_t>(sizeof buf) ? std::string(buf, sizeof buf) : std::string();
}

} // namespace

void check_platform(const std::string& image, const oci::Platform& platform,
                    const std::string& requested, const binfmt::InContainer& in_container) {
    if (!requested.empty() && !platform.architecture.empty() &&
        !oci::Platform::parse(requested).accepts(platform))
        throw Error(Errc::run_failed,
                    "image " + image + " is built for " + platform.str() + ", not the " +
                        oci::Platform::parse(requested).str() + " that --platform asks for",
                    "pull it for that platform (gantry pull --platform " + requested + " " + image +
                        ") or run it with --pull missing, which does");
    auto host = oci::Platform::host();
    if (platform.architecture.empty() || host.accepts(platform)) return;
    const std::string what =
        "image " + image + " is built for " + platform.str() + ", this host is " + host.str();
    auto emulation = binfmt::emulation_for(binfmt::read_host(), platform, in_container);
    if (!emulation.handler)
        throw Error(Errc::run_failed, what + ", and " + emulation.why, emulation.fix);
    const std::string emulator =
        emulation.handler->interpreter +
        (emulation.by_path ? " (the image's own; binfmt_misc handler " : " (binfmt_misc handler ") +
        emulation.handler->name + ")";
    // docker warns likewise when no --platform said that a foreign image is meant
    if (requested.empty())
        log::warn(what + ": its programs run under " + emulator +
                  ", several times slower than natively; --platform " + platform.str() +
                  " says it is meant");
}

std::vector<findings::Finding> platform_findings(const store::Store& store,
                                                 const store::Image& image) {
    std::vector<findings::Finding> out;
    const auto& platform = image.config.platform;
    if (platform.architecture.empty()) return out;
    auto host = oci::Platform::host();
    if (!host.accepts(platform)) {
        rootfs::LayerFiles files(store, image.config.diff_ids);
        auto emulation =
            binfmt::emulation_for(binfmt::read_host(), platform, [&](const std::string& path) {
                return path.size() > 1 && path[0] == '/' && files.has(path.substr(1));
            });
        if (emulation.handler)
            out.push_back({"PLATFORM-EMULATION", findings::Severity::warn,
                           "the image is built for " + platform.str() + ", this host is " +
                               host.str() + ": its programs run under " +
                               emulation.handler->interpreter +
                               (emulation.by_path ? " (the image's own; binfmt_misc handler "
                                                  : " (binfmt_misc handler ") +
                               emulation.handler->name + "), several times slower than natively",
                           "use an image for " + host.str() + " where speed matters"});
        else
            out.push_back({"PLATFORM-EMULATION", findings::Severity::fail,
                           "the image is built for " + platform.str() + ", this host is " +
                               host.str() + ", and " + emulation.why,
                           emulation.fix});
    }
    // the ELF files whose machine is not the platform's, by the architecture they are for
    std::map<std::string, std::vector<std::string>> foreign;
    std::size_t matching = 0;
    rootfs::walk_image_files(store, image.config.diff_ids,
                             [&](const std::string& path, const std::string& host_path) {
                                 auto arch = binfmt::architecture_of(head_of(host_path));
                                 if (!arch) return;
                                 if (*arch == platform.architecture)
                                     ++matching;
                                 else
                                     foreign[*arch].push_back("/" + path);
                             });
    if (foreign.empty()) {
        if (matching > 0)
            out.push_back({"IMAGE-ELF-PLATFORM", findings::Severity::pass,
                           std::to_string(matching) + " ELF file(s), all built for " +
                               platform.architecture + " as the image's platform says",
                           ""});
        return out;
    }
    std::vector<std::string> parts;
    std::size_t count = 0;
    for (auto& [arch, paths] : foreign) {
        count += paths.size();
        std::sort(paths.begin(), paths.end());
        std::vector<std::string> named(
            paths.begin(),
            paths.begin() + static_cast<std::ptrdiff_t>(std::min(paths.size(), kElfFilesNamed)));
        parts.push_back(std::to_string(paths.size()) + " for " + arch + " (" +
                        text::join(named, ", ") + (paths.size() > kElfFilesNamed ? ", ..." : "") +
                        ")");
    }
    out.push_back({"IMAGE-ELF-PLATFORM", findings::Severity::fail,
                   std::to_string(count) + " ELF file(s) of the image are not built for the " +
                       platform.str() + " its config says: " + text::join(parts, "; ") +
                       (matching ? "; " + std::to_string(matching) + " are" : ""),
                   "give the image the platform of its files (its config's architecture: "
                   "gantry build --platform, or import --platform), or rebuild those files"});
    return out;
}

} // namespace gantry::engine
