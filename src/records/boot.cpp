// Records kept for a boot (records/boot.hpp).
#include "records/boot.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace gantry::records {

bool wanted_after_boot(const ContainerState& s) {
    return s.restart_policy == "always" ||
           (s.restart_policy == "unless-stopped" && !s.stopped_by_user);
}

void keep_for_boot(const ContainerState& s) {
    if (s.container_dir.empty()) return;
    auto path = std::filesystem::path(s.container_dir) / kBootFile;
    if (!wanted_after_boot(s)) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            throw Error(Errc::io, "cannot remove " + path.string() + ": " + std::strerror(errno),
                        "remove it by hand, or the container comes back at the next boot");
        return;
    }
    // what a boot finds: exited, no process of this boot's named
    ContainerState kept = s;
    kept.status = "exited";
    kept.pid = 0;
    kept.pid_start = 0;
    kept.monitor = 0;
    kept.server = 0;
    kept.server_start = 0;
    kept.network_helper = 0;
    kept.stdin_fd = 0;
    fs::write_atomic(path, record_text(kept), 0600, fs::Sync::durable);
}

std::vector<ContainerState> kept_for_boot(const std::filesystem::path& store_root) {
    std::vector<ContainerState> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(store_root / "containers", ec)) {
        auto path = e.path() / kBootFile;
        if (!std::filesystem::exists(path, ec)) continue;
        try {
            auto s = record_from_json(nlohmann::json::parse(fs::read_file(path, 1 << 20)));
            // its own directory's: a copy moved elsewhere names another container
            if (s.id.empty() || s.id != e.path().filename().string() ||
                std::filesystem::path(s.container_dir).filename() != e.path().filename())
                throw Error(Errc::invalid, "it names another container (" + s.id + ")");
            out.push_back(std::move(s));
        } catch (const std::exception& ex) {
            log::warn("skipped " + path.string() + ": " + ex.what());
        }
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.created < b.created; });
    return out;
}

} // namespace gantry::records
