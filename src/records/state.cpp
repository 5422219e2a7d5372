#include "records/state.hpp"

#include "records/boot.hpp"
#include "records/events.hpp"
#include "records/state_cache.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::records {

using nlohmann::json;

bool ContainerState::running() const {
    return status == "running" && process_running(pid, pid_start);
}

unsigned long long ContainerState::monitor_start() const {
    auto started = process_start_time(monitor);
    bool ours = process_running(monitor, started) && (pid_start == 0 || started <= pid_start);
    return ours ? started : 0;
}

bool ContainerState::kill_server() const {
    if (server <= 0 || !process_running(server, server_start)) return false;
    return ::kill(server, SIGKILL) == 0;
}

bool valid_container_name(const std::string& n) {
    if (n.empty() || n.size() > 128 || !std::isalnum(static_cast<unsigned char>(n[0])))
        return false;
    for (char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
            return false;
    return true;
}

StateDir::StateDir() : StateDir(runtime_dir()) {}

StateDir::StateDir(std::filesystem::path dir) : dir_(std::move(dir)) {
    fs::make_dirs(dir_);
    ::chmod(dir_.c_str(), 0700);
}

namespace {

// The lock file in a name's directory that its owner holds (flock) for as long as it owns the
// name: the gantry that claimed it, then the -d monitor, which inherits the lock across fork.
// The kernel releases it when the last of them exits, kill -9 included.
constexpr const char* kOwnerLock = "owner.lock";

// Whether a process owns the name directory D: true while its owner lock is held, false once
// it is free, nullopt when D has none (a crash between mkdir and the lock, or a directory made
// by a gantry from before the lock: the recorded processes decide then).
std::optional<bool> owner_alive(const std::filesystem::path& d) {
    auto path = d / kOwnerLock;
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("cannot open " + path.string());
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return false; // released when fd closes
    if (errno != EWOULDBLOCK) throw_errno("cannot lock " + path.string());
    return true;
}

std::optional<ContainerState> load(const std::filesystem::path& d) {
    try {
        return record_from_json(json::parse(fs::read_file(d / "state.json", 1 << 20)));
    } catch (...) {
        return std::nullopt;
    }
}

// The ID index: DIR/.ids/ID, a symbolic link whose text is the container's name (never
// followed: its text is read with readlink). A container's directory is its name, so a lookup
// by ID without it parsed every record (75 us each: a docker client's every request names the
// ID). A hint only: the record it names is read and checked (that record's id), a stale entry
// (a crash between the steps, a record deleted by hand) is passed over, and without an entry
// the records are scanned. remove() deletes a container's entry.
constexpr const char* kIdIndex = ".ids";

bool indexable_id(std::string_view id) {
    if (id.size() < 4 || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Links ID to NAME in DIR's index: made under a temporary name and renamed over any old entry.
// Best effort: without the entry a lookup by ID scans (log::debug says why).
void index_id(const std::filesystem::path& dir, const std::string& id, const std::string& name) {
    if (!indexable_id(id)) return;
    auto index = dir / kIdIndex;
    if (::mkdir(index.c_str(), 0700) != 0 && errno != EEXIST)
        return log::debug("no ID index in " + index.string() + ": " + std::strerror(errno));
    auto tmp = index / (id + ".tmp-" + fs::unique_name());
    if (::symlink(name.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), (index / id).c_str()))
        log::debug("container " + name + " is not in the ID index: " + std::strerror(errno));
    ::unlink(tmp.c_str()); // gone when renamed
}

void unindex_id(const std::filesystem::path& dir, const std::string& id) {
    if (indexable_id(id)) ::unlink((dir / kIdIndex / id).c_str());
}

// The name the index links ID to, if any
std::optional<std::string> indexed_name(const std::filesystem::path& dir, const std::string& id) {
    char buf[256];
    ssize_t n = ::readlink((dir / kIdIndex / id).c_str(), buf, sizeof buf);
    if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace

namespace {

// A record that stays until `gantry rm`: an exited container, or a created one (gantry create).
bool state_kept(const ContainerState& s) {
    return s.status == "exited" || (s.status == "created" && s.startable);
}

Error state_name_in_use(const std::string& name, const ContainerState& old, bool live) {
    return Error(Errc::conflict,
                 "Conflict. The container name \"/" + name +
                     "\" is already in use by container \"" + old.id +
                     "\". You have to remove (or rename) that container to be able to reuse that "
                     "name.",
                 !live ? "remove it with `gantry rm " + name + "`"
                       : "stop and remove it (`gantry rm -f " + name + "`) or choose another name");
}

} // namespace

FileLock StateDir::take(const ContainerState& s) {
    FileLock claim(dir_ / ".claim.lock", FileLock::Mode::exclusive);
    auto d = dir_ / s.name;
    auto now = load(d);
    if (!now || now->id != s.id)
        throw Error(Errc::not_found, "container " + s.name + " was removed",
                    "`gantry ps -a` lists containers");
    // a moment's patience: a short-lived holder (the `docker cp` HEAD's helper, whose child that
    // mounted the stopped root ends a moment after it) must not fail the next command (seen in
    // CI under load); a running container's monitor holds it for good
    auto owner = FileLock::try_lock(d / kOwnerLock, FileLock::Mode::exclusive);
    for (int i = 0; i < 300 && !owner.held(); ++i) {
        ::usleep(10 * 1000);
        owner = FileLock::try_lock(d / kOwnerLock, FileLock::Mode::exclusive);
    }
    if (!owner.held())
        throw Error(Errc::conflict, "container " + s.name + " is running (or being started)",
                    "stop it first: `gantry stop " + s.name + "`");
    return owner;
}

bool StateDir::save_current(ContainerState& s) {
    FileLock claim(dir_ / ".claim.lock", FileLock::Mode::exclusive);
    auto now = load(dir_ / s.name);
    if (!now || now->id != s.id) {
        now = find(s.id);
        if (!now || now->id != s.id) return false;
        s.name = now->name;
    }
    if (now->stopped_by_user) s.stopped_by_user = true; // a stop's mark is never undone here
    save(s);
    return true;
}

bool StateDir::mark_stopped_by_user(const std::string& id) {
    FileLock claim(dir_ / ".claim.lock", FileLock::Mode::exclusive);
    auto now = find(id);
    if (!now || now->id != id) return false;
    if (!now->stopped_by_user) {
        now->stopped_by_user = true;
        save(*now);
        try { // unless-stopped: not brought back after a boot from now on
            keep_for_boot(*now);
        } catch (const Error& e) {
            log::warn(e.message());
        }
    }
    return true;
}

ContainerState StateDir::rename(const std::string& key, const std::string& new_name) {
    if (!valid_container_name(new_name))
        throw Error(Errc::usage,
                    "Invalid container name (" + new_name +
                        "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                    "choose a name that matches [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    FileLock claim(dir_ / ".claim.lock", FileLock::Mode::exclusive);
    auto s = get(key);
    if (s.name == new_name)
        throw Error(Errc::usage, "Renaming a container with the same name as its current name",
                    "give another name");
    auto to = dir_ / new_name;
    if (auto old = load(to)) {
        auto owned = owner_alive(to);
        bool live = owned ? *owned : old->running();
        if (live || state_kept(*old)) throw state_name_in_use(new_name, *old, live);
    }
    if (std::filesystem::exists(to)) fs::remove_tree(to); // debris of a crashed gantry
    // the directory moves with its owner lock (a flock is the file's, whatever its name): a
    // running container's monitor keeps the name it owns, and saves under it (save_current)
    if (::rename((dir_ / s.name).c_str(), to.c_str()) != 0)
        throw_errno("cannot rename container state " + (dir_ / s.name).string());
    s.name = new_name;
    save(s);
    index_id(dir_, s.id, s.name);
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(s.container_dir) / kBootFile, ec)) try {
            keep_for_boot(s); // brought back after a boot with its new name
        } catch (const Error& e) {
            log::warn(e.message());
        }
    return s;
}

FileLock StateDir::create(const ContainerState& s) {
    if (!valid_container_name(s.name))
        throw Error(Errc::usage, "invalid container name \"" + s.name + "\"",
                    "names match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    (void)record_text(s); // refused before anything is made
    // One claim at a time: a directory without state.json is then a crashed gantry's debris,
    // never another run's claim in progress (two `run -d --name N` at once: the second removed
    // the first one's new directory, so one failed with ENOENT or both ran under one name).
    // Names cannot begin with '.', so the lock file is no container.
    FileLock claim(dir_ / ".claim.lock", FileLock::Mode::exclusive);
    auto d = dir_ / s.name;
    if (::mkdir(d.c_str(), 0700) != 0) {
        if (errno != EEXIST) throw_errno("cannot create container state " + d.string());
        // Whether the owner lives comes from its lock, not from the recorded pids: the state
        // read first and the process looked up after are two moments, and the -d hand-over
        // (the monitor records itself, starts the workload, the parent returns) fitted between
        // them, so the name's live owner was taken for a crashed one and two ran as N.
        auto old = load(d);
        auto owned = owner_alive(d);
        bool live =
            owned ? *owned
                  : old && (old->running() || (old->status != "exited" && old->monitor_alive()));
        if (old && (live || state_kept(*old))) throw state_name_in_use(s.name, *old, live);
        if (live) // held, its state.json unreadable: an owner whose record failed
            throw Error(Errc::conflict,
                        "Conflict. The container name \"/" + s.name +
                            "\" is already in use by a container that has no state yet",
                        "wait for it to start, or choose another name");
        fs::remove_tree(d); // debris of a crashed gantry
        if (::mkdir(d.c_str(), 0700) != 0)
            throw_errno("cannot create container state " + d.string());
    }
    auto owner = FileLock::try_lock(d / kOwnerLock, FileLock::Mode::exclusive);
    if (!owner.held()) // a new directory's new file, under the claim lock: nobody else has it
        throw Error(Errc::conflict, "cannot lock " + (d / kOwnerLock).string(),
                    "another gantry holds it; try again");
    save(s);
    index_id(dir_, s.id, s.name);
    return owner;
}

void StateDir::save(const ContainerState& s) {
    fs::write_atomic(dir_ / s.name / "state.json", record_text(s), 0600,
                     fs::Sync::volatile_only); // under the runtime directory: gone at boot
}

namespace {

// The state recorded in DIR (a container's directory), null when unreadable or damaged: the
// cache's shared snapshot. A monitor that died without recording the end leaves "running":
// corrected here, in a copy (its exit status is unknown: 255, as docker reports such a
// container). While the monitor lives, it is about to record the end.
std::shared_ptr<const ContainerState> read_state_in(const std::filesystem::path& dir) {
    auto s = cached_state(dir / "state.json", [](const std::string& text) {
        return record_from_json(json::parse(text));
    });
    if (s && s->status == "running" && !s->running() && !s->monitor_alive()) {
        auto ended = std::make_shared<ContainerState>(*s);
        ended->status = "exited";
        ended->exit_code = 255;
        return ended;
    }
    return s;
}

} // namespace

std::optional<ContainerState> StateDir::find(const std::string& key) const {
    // a name is its directory's: one read (a scan of every state made `ps` quadratic)
    if (!key.empty() && key.find('/') == std::string::npos && key != "." && key != "..")
        if (auto s = read_state_in(dir_ / key); s && s->name == key) return *s;
    if (indexable_id(key)) { // by the ID index: the ID itself, else the IDs KEY begins
        auto indexed = [&](const std::string& id) -> std::shared_ptr<const ContainerState> {
            auto name = indexed_name(dir_, id);
            if (!name || !valid_container_name(*name)) return nullptr;
            auto s = read_state_in(dir_ / *name);
            return s && s->name == *name && s->id == id ? s : nullptr;
        };
        if (auto s = indexed(key)) return *s;
        std::error_code ec;
        for (auto& e : std::filesystem::directory_iterator(dir_ / kIdIndex, ec)) {
            const std::string id = e.path().filename().string();
            if (id.size() > key.size() && id.starts_with(key) && indexable_id(id))
                if (auto s = indexed(id)) return *s;
        }
    }
    // a record the index lacks (made by an older gantry, or its entry lost in a crash)
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir_, ec)) {
        auto s = read_state_in(e.path());
        if (s && s->name == e.path().filename().string() &&
            (s->name == key || (key.size() >= 4 && s->id.rfind(key, 0) == 0)))
            return *s;
    }
    return std::nullopt;
}

ContainerState StateDir::get(const std::string& key) const {
    auto s = find(key);
    if (!s)
        throw Error(
            Errc::not_found, "no container named \"" + key + "\"",
            "`gantry ps -a` lists containers; start one with `gantry run -d --name NAME IMAGE`");
    return *s;
}

std::optional<ContainerState> StateDir::find_started(const std::string& key, double seconds) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    auto s = find(key);
    while (s && s->status == "created" && s->monitor_alive() &&
           std::chrono::steady_clock::now() < until) {
        ::usleep(5000);
        s = find(key);
    }
    return s;
}

ContainerState StateDir::get_started(const std::string& key) const {
    if (auto s = find_started(key)) return *s;
    return get(key); // not_found, with its hint
}

std::vector<std::shared_ptr<const ContainerState>> StateDir::snapshots() const {
    std::vector<std::shared_ptr<const ContainerState>> out;
    std::error_code ec;
    // a container's directory is its name: others (.removed-*, a claim being made) are not
    for (auto& e : std::filesystem::directory_iterator(dir_, ec))
        if (auto s = read_state_in(e.path()); s && s->name == e.path().filename().native())
            out.push_back(std::move(s));
    return out;
}

std::vector<ContainerState> StateDir::list() const {
    std::vector<ContainerState> out;
    for (auto& s : snapshots()) out.push_back(*s);
    return out;
}

bool StateDir::remove(const std::string& name) {
    auto was = read_state_in(dir_ / name);
    // renamed first: of two removers (`gantry rm` and the container's --rm monitor) one wins
    auto gone = dir_ / (".removed-" + fs::unique_name());
    if (::rename((dir_ / name).c_str(), gone.c_str()) != 0) {
        if (errno == ENOENT) return false;
        throw_errno("cannot remove container state " + (dir_ / name).string());
    }
    if (was && was->name == name) unindex_id(dir_, was->id);
    fs::remove_tree(gone);
    return true;
}

std::vector<const oci::Mount*> user_mounts(const ContainerState& s) {
    std::vector<const oci::Mount*> out;
    for (auto& m : s.spec.mounts)
        if (std::find(s.user_mounts.begin(), s.user_mounts.end(), m.destination) !=
            s.user_mounts.end())
            out.push_back(&m);
    return out;
}

std::string status_text(const ContainerState& s, bool up) {
    std::string status = s.status;
    if (up) {
        status = "Up";
        if (auto t = units::seconds_since(s.started_at.empty() ? s.created : s.started_at))
            status += " " + units::human_duration(*t);
        if (s.paused()) status += " (Paused)";
    } else if (s.status == "exited" || s.status == "restarting") {
        status = std::string(s.status == "exited" ? "Exited" : "Restarting") + " (" +
                 std::to_string(s.exit_code) + ")";
        if (auto t = units::seconds_since(s.finished))
            status += " " + units::human_duration(*t) + " ago";
    }
    return status;
}

} // namespace gantry::records
