// A container's cgroup and the processes in it (ContainerCgroup, container_cgroup.hpp): a process
// moved in (`add`: a container's own, or a fake tree's line in tests; `join_process`: an exec'd
// one, skipping the hierarchies the caller already shares and, rootless, the ones it may not
// write, with a warning), the freezer (`freeze` waits until the kernel reports every task
// stopped, 10 s at most, and thaws again when it does not; `thaw`; `frozen`), and the pids of
// every process below the cgroup (`pids`, as runc's ps lists them).
#include "runtime/container_cgroup.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>
#include <unistd.h>

namespace gantry::runtime {

using namespace detail;

void ContainerCgroup::add(pid_t pid) const {
    for (const auto& [key, d] : dirs_) {
        int err = simulated_ ? append_simulated(d + "/cgroup.procs", std::to_string(pid))
                             : write_value(d + "/cgroup.procs", std::to_string(pid));
        if (err != 0 && err != ESRCH)
            throw Error(Errc::run_failed,
                        "cannot move process " + std::to_string(pid) + " into the cgroup " + d +
                            ": " + std::strerror(err),
                        permission_error(err) ? std::string(kDelegateHint) : "");
    }
}

void ContainerCgroup::join_process(pid_t pid) const {
    const ContainerCgroup own = of_process(0);
    for (const auto& [key, d] : dirs_) {
        if (auto it = own.dirs_.find(key); it != own.dirs_.end() && it->second == d) continue;
        int err = write_value(d + "/cgroup.procs", std::to_string(pid));
        if (err == 0 || err == ESRCH) continue;
        if (::geteuid() != 0 && permission_error(err)) {
            log::warn("the process is not in the container's cgroup " + d + " (" +
                      std::strerror(err) + "): its limits do not hold for it");
            continue;
        }
        throw Error(Errc::run_failed, "cannot move process " + std::to_string(pid) +
                                          " into the cgroup " + d + ": " + std::strerror(err));
    }
}

void ContainerCgroup::freeze() const {
    const bool v1 = version_ == CgroupVersion::v1;
    const std::string d = dir("freezer");
    if (d.empty())
        throw Error(Errc::run_failed, "cannot pause the container: it has no freezer cgroup",
                    "the freezer controller is not mounted, or the container was made rootless "
                    "without a cgroup it may write");
    const std::string file = d + (v1 ? "/freezer.state" : "/cgroup.freeze");
    auto is_frozen = [&] {
        if (v1) return read_value(file) == "FROZEN";
        return read_value(d + "/cgroup.events").find("frozen 1") != std::string::npos;
    };
    // the kernel freezes asynchronously: v1 reports FREEZING until every task stopped
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int i = 0;; ++i) {
        if (i % 100 == 0) {
            int err = write_value(file, v1 ? "FROZEN" : "1");
            if (err != 0)
                throw Error(Errc::run_failed, "cannot pause the container: writing " + file + ": " +
                                                  std::strerror(err));
        }
        if (is_frozen()) return;
        if (std::chrono::steady_clock::now() > deadline) {
            thaw();
            throw Error(Errc::run_failed,
                        "cannot pause the container: " + file + " did not report frozen in 10 s");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(i < 100 ? 200 : 2000));
    }
}

void ContainerCgroup::thaw() const {
    const bool v1 = version_ == CgroupVersion::v1;
    const std::string d = dir("freezer");
    if (d.empty()) return;
    const std::string file = d + (v1 ? "/freezer.state" : "/cgroup.freeze");
    int err = write_value(file, v1 ? "THAWED" : "0");
    if (err != 0 && err != ENOENT)
        throw Error(Errc::run_failed,
                    "cannot resume the container: writing " + file + ": " + std::strerror(err));
}

std::vector<pid_t> ContainerCgroup::pids() const {
    std::set<pid_t> out;
    for (const auto& [key, top] : dirs_) {
        std::error_code ec;
        std::vector<std::string> dirs{top};
        for (auto it = std::filesystem::recursive_directory_iterator(top, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec)) dirs.push_back(it->path().string());
        for (const auto& d : dirs) {
            const std::string procs = read_value(d + "/cgroup.procs");
            for (auto word : text::split(procs, '\n')) {
                char* end = nullptr;
                std::string w(text::trim(word));
                long p = std::strtol(w.c_str(), &end, 10);
                if (!w.empty() && *end == 0 && p > 0) out.insert(static_cast<pid_t>(p));
            }
        }
    }
    return {out.begin(), out.end()};
}

bool ContainerCgroup::frozen() const {
    const std::string d = dir("freezer");
    if (d.empty()) return false;
    if (version_ == CgroupVersion::v1) return read_value(d + "/freezer.state") == "FROZEN";
    return read_value(d + "/cgroup.freeze") == "1";
}

} // namespace gantry::runtime
