#include "network/holder.hpp"

#include "network/addresses.hpp"
#include "network/attachment_files.hpp"
#include "network/pasta.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::network {

namespace fsys = std::filesystem;
using namespace detail; // network/attachment_files.hpp

namespace {

constexpr std::size_t kMaxAttachment = 1 << 20;

std::string maps_text(const std::vector<oci::IdMapping>& maps) {
    std::string t;
    for (auto& m : maps)
        t += (t.empty() ? "" : ",") + std::to_string(m.container_id) + ":" +
             std::to_string(m.host_id) + ":" + std::to_string(m.size);
    return t;
}

std::vector<oci::IdMapping> maps_of(const std::string& text) {
    std::vector<oci::IdMapping> out;
    for (auto& part : text::split(text, ',')) {
        auto f = text::split(part, ':');
        if (f.size() != 3) continue;
        out.push_back({static_cast<std::uint32_t>(std::stoul(std::string(f[0]))),
                       static_cast<std::uint32_t>(std::stoul(std::string(f[1]))),
                       static_cast<std::uint32_t>(std::stoul(std::string(f[2])))});
    }
    return out;
}

// Starts `gantry __network-holder DIR UIDS GIDS` detached (its own session, no descriptor of
// ours but the ready pipe) and waits for its word.
pid_t start_holder(const fsys::path& dir, const std::string& uids, const std::string& gids) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd ready_r(p[0]), ready_w(p[1]);
    const std::string self = fs::self_exe(), d = dir.string();
    std::vector<std::string> args{self, "__network-holder", d, uids.empty() ? "-" : uids,
                                  gids.empty() ? "-" : gids};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t child = ::fork();
    if (child < 0) throw_errno("cannot start the user networks' holder");
    if (child == 0) { // async-signal-safe calls only
        if (::fork() != 0) ::_exit(0);
        ::setsid();
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::dup2(ready_w.get(), 3);
        ::syscall(SYS_close_range, 4U, ~0U, 0U);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ready_w.reset();
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    std::string word;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(ready_r.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) word.append(buf, static_cast<std::size_t>(n));
    if (word != "ok")
        throw Error(Errc::run_failed,
                    "cannot start the user networks' namespace" +
                        (word.empty() ? std::string(" (its holder said nothing)") : ": " + word),
                    "rootless: pasta needs /dev/net/tun; GANTRY_LOG=debug shows more");
    auto h = running_holder(dir);
    if (!h) throw Error(Errc::run_failed, "the user networks' holder ended as it started");
    return h->inner;
}

void remove_attachment(int dirfd, const std::string& id) {
    ::unlinkat(dirfd, (id + ".json").c_str(), 0);
    ::unlinkat(dirfd, (id + ".lock").c_str(), 0);
}

// An attachment whose supervisor is gone: its names taken out of aardvark-dns and its rules
// out of the firewall by netavark's teardown, on a namespace of its own (the container's is
// gone with it), then removed. HOLDER: 0 when the caller is the holder (in the namespaces).
void clean_stale(pid_t holder, const fsys::path& dir, int dirfd, const Found& f) {
    if (f.body.contains("options")) {
        try {
            const pid_t child = ::fork();
            if (child == 0) { // a network namespace of its own for netavark to find nothing in
                if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
                int fd = ::open("/proc/self/ns/net", O_RDONLY);
                if (fd < 0) ::_exit(1);
                try {
                    run_netavark(holder, (dir / "netavark").string(), "teardown",
                                 "/proc/self/fd/" + std::to_string(fd), f.body["options"], {fd});
                } catch (...) {
                }
                ::_exit(0);
            }
            if (child > 0)
                while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
                }
        } catch (...) {
        }
    }
    remove_attachment(dirfd, f.id);
}

} // namespace

namespace detail {

std::optional<RunningHolder> running_holder(const fsys::path& dir) {
    Fd f(::open((dir / "holder").c_str(), O_RDONLY | O_CLOEXEC));
    if (!f) return std::nullopt;
    if (::flock(f.get(), LOCK_SH | LOCK_NB) == 0) return std::nullopt; // its holder is gone
    char buf[4096];
    const ssize_t n = ::pread(f.get(), buf, sizeof buf - 1, 0);
    if (n <= 0) return std::nullopt;
    const std::string content(buf, static_cast<std::size_t>(n)); // the fields' views' storage
    auto fields = text::split(content, ' ');
    if (fields.size() < 3 || fields[0].empty() ||
        fields[0].find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    RunningHolder h;
    h.inner = static_cast<pid_t>(std::stol(std::string(fields[0])));
    h.uid_maps = std::string(fields[1]);
    h.gid_maps = std::string(text::trim(fields[2]));
    return h;
}

std::string ip_on(const nlohmann::json& attachment, const std::string& network, bool v6) {
    if (!attachment.contains("endpoints") || !attachment["endpoints"].is_array()) return "";
    for (auto& e : attachment["endpoints"])
        if (e.is_object() && e.value("network", "") == network)
            return e.value(v6 ? "ip6" : "ip", "");
    return "";
}

// (read-only opens: closing them gives the holder's inotify no IN_CLOSE_WRITE of its own)
std::vector<Found> read_attachments(int dirfd) {
    std::vector<Found> out;
    Fd d(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) return out;
    DIR* listing = ::fdopendir(::dup(d.get()));
    if (!listing) return out;
    while (auto* e = ::readdir(listing)) {
        std::string name = e->d_name;
        if (!name.ends_with(".json") || name.find(".tmp") != std::string::npos) continue;
        Found f;
        f.id = name.substr(0, name.size() - 5);
        try {
            Fd file(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC));
            if (!file) continue;
            f.body = nlohmann::json::parse(fs::read_stream(file.get(), kMaxAttachment, name));
        } catch (const std::exception&) {
            f.body = nlohmann::json::object();
        }
        Fd lock(::openat(dirfd, (f.id + ".lock").c_str(), O_RDONLY | O_CLOEXEC));
        f.live = lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        out.push_back(std::move(f));
    }
    ::closedir(listing);
    return out;
}

void give_addresses(Endpoint& e, const UserNetwork& n, const std::vector<Found>& found) {
    auto used = [&](const std::string& ip, bool v6) {
        return std::ranges::any_of(found,
                                   [&](const Found& f) { return ip_on(f.body, n.name, v6) == ip; });
    };
    for (bool v6 : {false, true}) {
        if (v6 && !n.ipv6()) break;
        std::string& ip = v6 ? e.ip6 : e.ip;
        if (!ip.empty()) { // static: docker's words when another container has it
            if (used(ip, v6))
                throw Error(Errc::conflict,
                            "Address already in use (" + ip + " on network " + n.name +
                                " is another running container's)",
                            "give another address, or stop the container that has it (gantry "
                            "network inspect " +
                                n.name + ")");
            continue;
        }
        if (v6) {
            const Cidr6 c = parse_cidr6(n.subnet6, "network " + n.name);
            const std::string gw = ipv6_text(parse_ipv6(n.gateway6, "network " + n.name));
            for (std::uint64_t i = 1; i <= c.size() && ip.empty(); ++i) {
                std::string a = ipv6_text(c.nth(i));
                if (a != gw && !used(a, true)) ip = a;
            }
        } else {
            const Cidr c = parse_cidr(n.subnet, "network " + n.name);
            const std::uint32_t gw = parse_ipv4(n.gateway, "network " + n.name);
            for (std::uint32_t a = c.network + 1; a < c.broadcast() && ip.empty(); ++a)
                if (a != gw && !used(ipv4_text(a), false)) ip = ipv4_text(a);
        }
        if (ip.empty())
            throw Error(Errc::conflict,
                        "network " + n.name + " has no free address left in " +
                            (v6 ? n.subnet6 : n.subnet),
                        "stop a container on it, or create a network with a wider --subnet");
    }
}

nlohmann::json endpoint_record(const Endpoint& e) {
    nlohmann::json j = {{"network", e.network}, {"ip", e.ip}};
    if (!e.ip6.empty()) j["ip6"] = e.ip6;
    return j;
}

} // namespace detail

fsys::path holder_dir(const fsys::path& runtime_dir, const std::string& store_root) {
    return runtime_dir / "networks" / Sha256::hex_of(store_root).substr(0, 12);
}

Attachment::Attachment(const fsys::path& dir, const std::string& id, const std::string& name,
                       std::vector<Endpoint> endpoints, std::vector<UserNetwork> networks,
                       const std::vector<oci::IdMapping>& uids,
                       const std::vector<oci::IdMapping>& gids)
    : dir_(dir), id_(id), endpoints_(std::move(endpoints)), networks_(std::move(networks)) {
    fs::make_dirs(dir_, 0700);
    FileLock lock(dir_ / "lock", FileLock::Mode::exclusive);
    // made under the lock: a holder that ends removes them under it
    fs::make_dirs(dir_ / "attachments", 0700);
    fs::make_dirs(dir_ / "netavark", 0700);
    Fd dirfd(::open((dir_ / "attachments").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) throw_errno("cannot open " + (dir_ / "attachments").string());
    const std::string um = ::geteuid() == 0 ? "" : maps_text(uids),
                      gm = ::geteuid() == 0 ? "" : maps_text(gids);
    auto found = read_attachments(dirfd.get());
    auto running = running_holder(dir_);
    if (running && (running->uid_maps != (um.empty() ? "-" : um) ||
                    running->gid_maps != (gm.empty() ? "-" : gm)))
        throw Error(Errc::conflict,
                    "the user networks' namespace maps ids " + running->uid_maps +
                        ", this container " + (um.empty() ? "-" : um),
                    "a container on a user network takes the store's default id maps: drop "
                    "--userns, or stop the containers on user networks first");
    if (!running) {
        // whatever a holder killed outright left is void: its namespace is gone
        for (auto& f : found) remove_attachment(dirfd.get(), f.id);
        found.clear();
        // and so are aardvark-dns' files: a name there would resolve on the new namespace
        std::error_code ec;
        std::filesystem::remove_all(dir_ / "netavark", ec);
        fs::make_dirs(dir_ / "netavark", 0700);
        ::unlink((dir_ / "holder").c_str());
        holder_ = start_holder(dir_, um, gm);
    } else {
        holder_ = running->inner;
        // a stale one's (its supervisor killed) the holder cleans, on its lock's release
        std::erase_if(found, [](const Found& f) { return !f.live; });
    }
    // an address each: the lowest of the subnet not the gateway's nor another container's
    for (auto& e : endpoints_) {
        const UserNetwork* n = nullptr;
        for (auto& candidate : networks_)
            if (candidate.name == e.network) n = &candidate;
        if (!n) throw Error(Errc::internal, "network " + e.network + " is not among those given");
        give_addresses(e, *n, found);
    }
    options_ = netavark_options(id_, name, endpoints_, networks_);
    held_ = FileLock(dir_ / "attachments" / (id_ + ".lock"), FileLock::Mode::exclusive);
    nlohmann::json eps = nlohmann::json::array();
    for (auto& e : endpoints_) eps.push_back(endpoint_record(e));
    fs::write_atomic(dir_ / "attachments" / (id_ + ".json"),
                     nlohmann::json{{"endpoints", eps}, {"options", options_}}.dump(), 0600,
                     fs::Sync::volatile_only);
}

Attachment::~Attachment() {
    detach();
}

std::vector<std::string> Attachment::connect(pid_t pid) {
    netns_.reset(
        ::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns_) throw_errno("cannot open the container's network namespace");
    std::vector<std::string> bridges, gateways;
    for (auto& n : networks_) {
        bridges.push_back(n.bridge);
        gateways.push_back(n.gateway);
    }
    const std::string answer = run_netavark(holder_, (dir_ / "netavark").string(), "setup",
                                            "/proc/self/fd/" + std::to_string(netns_.get()),
                                            options_, {netns_.get()}, bridges, gateways);
    std::vector<std::string> macs;
    for (auto& e : endpoints_) macs.push_back(netavark_mac(answer, e.network, e.interface));
    return macs;
}

std::vector<std::pair<std::string, std::string>> Attachment::networks_now() const {
    std::vector<std::pair<std::string, std::string>> out;
    try {
        auto body = nlohmann::json::parse(
            fs::read_file(dir_ / "attachments" / (id_ + ".json"), kMaxAttachment));
        for (auto& [name, info] : body.at("options").at("network_info").items())
            out.emplace_back(info.value("id", ""), name);
        return out;
    } catch (const std::exception&) {
    }
    out.clear();
    for (auto& n : networks_) out.emplace_back(n.id, n.name);
    return out;
}

void Attachment::detach() noexcept {
    if (!held_.held()) return;
    try {
        FileLock lock(dir_ / "lock", FileLock::Mode::exclusive);
        if (netns_) {
            // its file, as `network connect` and `disconnect` left it: the networks it is on now
            auto options = options_;
            try {
                auto body = nlohmann::json::parse(
                    fs::read_file(dir_ / "attachments" / (id_ + ".json"), kMaxAttachment));
                if (body.contains("options")) options = body["options"];
            } catch (const std::exception&) {
            }
            try {
                run_netavark(holder_, (dir_ / "netavark").string(), "teardown",
                             "/proc/self/fd/" + std::to_string(netns_.get()), options,
                             {netns_.get()});
            } catch (const Error& e) {
                log::debug("container " + id_ + ": " + e.message());
            }
            netns_.reset();
        }
        ::unlink((dir_ / "attachments" / (id_ + ".json")).c_str());
        ::unlink((dir_ / "attachments" / (id_ + ".lock")).c_str());
        held_.unlock(); // the holder sees it closed, and ends when it was the last
    } catch (...) {
        held_.unlock();
    }
}

namespace {

// The holder's namespaces' first process (the init of its PID namespace): mounts made private,
// systemd's run directory hidden (netavark would start aardvark-dns through systemd-run, out
// of this PID namespace), then it serves DIRFD's attachments until none is left.
[[noreturn]] void serve_inner(const fsys::path& dir, int go_r, int done_w, int ready_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(ready_fd); // the outer's word to the starting gantry, which reads it to its end
    char c;
    if (::read(go_r, &c, 1) != 1) ::_exit(1);
    auto fail = [&](const std::string& why) {
        (void)!::write(done_w, why.data(), why.size());
        ::_exit(1);
    };
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
        fail("cannot become root of the networks' user namespace");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        fail("cannot make the networks' mounts private");
    struct stat st {};
    if (::stat("/run/systemd", &st) == 0 &&
        ::mount("tmpfs", "/run/systemd", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
        fail("cannot hide /run/systemd from netavark");
    Fd dirfd(::open((dir / "attachments").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    Fd lockdir(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    Fd notify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!dirfd || !lockdir || !notify ||
        ::inotify_add_watch(notify.get(), (dir / "attachments").c_str(),
                            IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_CREATE) < 0)
        fail("cannot watch " + (dir / "attachments").string());
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    Fd children(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    (void)!::write(done_w, "ok", 2);
    ::close(done_w);
    for (;;) {
        {
            // the scan, under the directory's lock: a start never sees a holder about to end
            Fd lock(::openat(lockdir.get(), "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
            while (lock && ::flock(lock.get(), LOCK_EX) != 0 && errno == EINTR) {
            }
            bool any = false;
            for (auto& f : read_attachments(dirfd.get())) {
                if (f.live)
                    any = true;
                else
                    clean_stale(0, dir, dirfd.get(), f);
            }
            if (!any) {
                ::unlinkat(lockdir.get(), "holder", 0);
                // nothing of it left but the lock (which a start may be waiting on)
                std::error_code ec;
                std::filesystem::remove_all(dir / "netavark", ec);
                std::filesystem::remove(dir / "attachments", ec);
                ::_exit(0); // the PID namespace's end: aardvark-dns with it; pasta with the outer
            }
        }
        pollfd fds[2] = {{notify.get(), POLLIN, 0}, {children.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) ::_exit(1);
        char buf[4096];
        while (::read(notify.get(), buf, sizeof buf) > 0) {
        }
        signalfd_siginfo si;
        while (::read(children.get(), &si, sizeof si) > 0) {
        }
        while (::waitpid(-1, nullptr, WNOHANG) > 0) { // aardvark-dns' parents, orphaned here
        }
    }
}

} // namespace

int serve_holder(const fsys::path& dir, const std::string& uid_maps, const std::string& gid_maps,
                 int ready_fd) {
    Fd ready(ready_fd);
    // a user namespace of its own as root too (every id mapped to itself): pasta, which keeps
    // only two capabilities, may join a namespace whose user namespace root owns, not one
    // holding every capability of the host's (the kernel's ptrace check)
    const std::vector<oci::IdMapping> everyone{{0, 0, 4294967295u}};
    pid_t inner = -1;
    try {
        int go[2], done[2];
        if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(done, O_CLOEXEC) != 0)
            throw_errno("pipe failed");
        Fd go_r(go[0]), go_w(go[1]), done_r(done[0]), done_w(done[1]);
        const int flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUSER;
        inner = static_cast<pid_t>(
            ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
        if (inner < 0) throw_errno("cannot create the user networks' namespaces");
        if (inner == 0) {
            go_w.reset();
            done_r.reset();
            serve_inner(dir, go_r.get(), done_w.get(), ready.get());
        }
        go_r.reset();
        done_w.reset();
        userns::write_id_maps(inner, uid_maps.empty() ? everyone : maps_of(uid_maps),
                              gid_maps.empty() ? everyone : maps_of(gid_maps));
        if (::write(go_w.get(), "g", 1) != 1) throw_errno("cannot start the holder");
        std::string word;
        char buf[512];
        ssize_t n;
        while ((n = ::read(done_r.get(), buf, sizeof buf)) > 0)
            word.append(buf, static_cast<std::size_t>(n));
        if (word != "ok") throw Error(Errc::run_failed, word.empty() ? "it ended" : word);
        // the outside: pasta on the namespace (no port: published ports are refused on user
        // networks), a child of this process, which ends with it
        Pasta pasta(inner, StackOptions{{}, "", dir.string()});
        // published, locked before it is: a start that finds it unlocked knows it stale
        const auto tmp = dir / "holder.tmp";
        Fd f(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!f || ::flock(f.get(), LOCK_EX) != 0) throw_errno("cannot write " + tmp.string());
        const std::string text = std::to_string(inner) + " " + (uid_maps.empty() ? "-" : uid_maps) +
                                 " " + (gid_maps.empty() ? "-" : gid_maps) + "\n";
        fs::write_all(f.get(), text.data(), text.size(), tmp.string());
        if (::rename(tmp.c_str(), (dir / "holder").c_str()) != 0)
            throw_errno("cannot publish " + (dir / "holder").string());
        (void)!::write(ready.get(), "ok", 2);
        ready.reset();
        int st = 0;
        while (::waitpid(inner, &st, 0) < 0 && errno == EINTR) {
        }
        return 0;
    } catch (const Error& e) {
        const std::string why = e.message();
        if (ready) (void)!::write(ready.get(), why.data(), why.size());
        if (inner > 0) {
            ::kill(inner, SIGKILL);
            ::waitpid(inner, nullptr, 0);
        }
        return 1;
    }
}

} // namespace gantry::network
