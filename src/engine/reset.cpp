#include "engine/reset.hpp"

#include "store/owned_tree.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

namespace stdfs = std::filesystem;

namespace {

// ROOT absolute and without a trailing separator ("/a/b/" -> "/a/b"), links left as they are.
stdfs::path clean_root(const stdfs::path& root) {
    auto p = stdfs::absolute(root).lexically_normal();
    if (p.filename().empty() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
    return p;
}

bool same_dir(const std::string& a, const stdfs::path& b) {
    if (a.empty()) return false;
    std::error_code ec;
    if (stdfs::equivalent(a, b, ec)) return true;
    return clean_root(a) == b;
}

bool inside(const std::string& path, const stdfs::path& root) {
    auto p = clean_root(path);
    return std::mismatch(root.begin(), root.end(), p.begin(), p.end()).first == root.end();
}

// What every gantry store holds from its first use (store::Store's constructor makes them).
bool looks_like_store(const stdfs::path& root) {
    std::error_code ec;
    return stdfs::is_directory(root / "blobs", ec) && stdfs::is_directory(root / "locks", ec);
}

} // namespace

void remove_owned_tree(const stdfs::path& path) {
    store::remove_owned_tree(path);
}

ResetPlan plan_reset(const stdfs::path& root, const records::StateDir& states) {
    ResetPlan p;
    p.root = clean_root(root);
    struct stat st {};
    if (::lstat(p.root.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode) || !looks_like_store(p.root))
            throw Error(Errc::invalid,
                        p.root.string() +
                            " is not a gantry store (no blobs/ and locks/ in it): nothing was "
                            "removed",
                        "check --root and $GANTRY_ROOT: system reset removes gantry's store only");
        p.exists = true;
        p.images = store::Store(p.root).refs().size();
    } else if (errno != ENOENT) {
        throw_errno("cannot look at " + p.root.string());
    }
    for (auto& s : states.list()) {
        if (!same_dir(s.store_root, p.root)) continue;
        if (s.running()) ++p.running;
        p.containers.push_back(s);
    }
    return p;
}

std::string describe(const ResetPlan& plan) {
    std::string out = "WARNING! This will remove:\n";
    out += "        - the store " + plan.root.string() + ": " + std::to_string(plan.images) +
           " image reference(s), every layer, blob and cache in it\n";
    out += "        - " + std::to_string(plan.containers.size()) + " container(s)";
    if (plan.running) out += ", stopping the " + std::to_string(plan.running) + " running";
    out += "\n";
    return out;
}

ResetResult reset(const ResetPlan& plan, records::StateDir& states) {
    ResetResult r;
    auto writers_busy = [&] {
        return Error(Errc::conflict,
                     "a command is writing to the store " + plan.root.string() +
                         " (pull, load, build or push): nothing was removed",
                     "let it finish (or stop it), then run `gantry system reset` again");
    };
    auto foreground_busy = [&] {
        return Error(Errc::conflict,
                     "a container started in the foreground still runs with an image of " +
                         plan.root.string() + " (`gantry run` without -d): nothing was removed",
                     "end that `gantry run` (it is not listed by `gantry ps` unless named), "
                     "then run `gantry system reset` again");
    };
    std::optional<store::Store> st;
    if (plan.exists && stdfs::exists(plan.root / "locks")) {
        st.emplace(plan.root);
        if (!FileLock::try_lock(plan.root / "locks/gc", FileLock::Mode::exclusive).held())
            throw writers_busy();
        // an image in use but by none of the recorded running containers: a foreground run
        std::set<std::string> recorded;
        for (auto& s : plan.containers)
            if (s.running()) recorded.insert(s.manifest);
        for (auto& d : st->images_in_use())
            if (!recorded.contains(d.str())) throw foreground_busy();
    }
    for (auto& s : plan.containers) {
        records::remove_container(states, s);
        if (!s.container_dir.empty() && !inside(s.container_dir, plan.root))
            remove_owned_tree(s.container_dir);
        ++r.containers;
    }
    if (st) {
        FileLock gc = FileLock::try_lock(plan.root / "locks/gc", FileLock::Mode::exclusive);
        if (!gc.held()) throw writers_busy();
        if (!st->images_in_use().empty()) throw foreground_busy();
        // gone from its path at once (a gantry started meanwhile makes a new, empty store),
        // then deleted; a mount point (EBUSY) or another filesystem is emptied in place
        auto doomed = plan.root.parent_path() / ("." + plan.root.filename().string() + ".reset-" +
                                                 std::to_string(::getpid()));
        if (::rename(plan.root.c_str(), doomed.c_str()) == 0) {
            remove_owned_tree(doomed);
        } else {
            std::error_code ec;
            for (auto& e : stdfs::directory_iterator(plan.root, ec))
                if (e.path().filename() != "locks") remove_owned_tree(e.path());
            remove_owned_tree(plan.root / "locks");
            ::rmdir(plan.root.c_str());
        }
    }
    if (states.list().empty()) {
        remove_owned_tree(states.dir());
        r.runtime_dir_removed = true;
    }
    return r;
}

} // namespace gantry::engine
