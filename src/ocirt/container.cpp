#include "ocirt/container.hpp"

#include "oci/seccomp_spec.hpp"
#include "ocirt/state_file.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace gantry::ocirt {

namespace stdfs = std::filesystem;

stdfs::path record_dir(const Container& c) {
    return c.container_dir;
}

stdfs::path fifo(const Container& c) {
    return record_dir(c) / "exec.fifo";
}

bool alive(const Container& c) {
    return c.pid > 0 && records::process_running(c.pid, c.pid_start);
}

std::optional<runtime::ContainerCgroup> cgroups(const Container& c) {
    if (c.cgroup.is_null()) return std::nullopt;
    return runtime::ContainerCgroup::from_json(c.cgroup);
}

std::string status(const Container& c) {
    if (!alive(c)) return "stopped";
    if (auto cg = cgroups(c); cg && cg->frozen()) return "paused"; // runc: before created
    struct stat st {};
    return ::lstat(fifo(c).c_str(), &st) == 0 ? "created" : "running";
}

nlohmann::json state_json(const Container& c) {
    std::string s = status(c);
    nlohmann::json j = {
        {"ociVersion", "1.0.2"}, {"id", c.id},         {"pid", s == "stopped" ? 0 : c.pid},
        {"status", s},           {"bundle", c.bundle}, {"rootfs", c.rootfs},
        {"created", c.created},  {"owner", ""}};
    j["annotations"] = c.config.value("annotations", nlohmann::json::object());
    return j;
}

std::string default_root() {
    // root in a user namespace (rootless podman runs its runtime there) is not the host's root
    if (::geteuid() == 0 && running_as_real_root()) return "/run/gantry-oci";
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0] == '/') return std::string(xdg) + "/gantry-oci";
    return "/tmp/gantry-oci-" + std::to_string(::geteuid());
}

stdfs::path root_dir(const Global& g) {
    stdfs::path r = g.root.empty() ? default_root() : g.root;
    // --root's parents are made as runc makes them (containerd's shim names
    // /run/containerd/runc/NAMESPACE, whose parent may not exist yet); the directory itself is
    // checked as private
    std::error_code ec;
    if (r.has_parent_path()) stdfs::create_directories(r.parent_path(), ec);
    return records::private_dir(r, ::geteuid());
}

void check_id(const std::string& id) {
    bool ok = !id.empty() && id != "." && id != ".." && id.size() <= 1024;
    for (char c : id)
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' ||
                    c == '-' || c == '.');
    if (!ok)
        throw Error(Errc::usage, "invalid container id format: " + id,
                    "an id is letters, digits, '_', '+', '-' and '.'");
}

stdfs::path claim(const Global& g, const std::string& id) {
    check_id(id);
    stdfs::path dir = root_dir(g) / id;
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST)
            throw Error(Errc::conflict, "container with id exists: " + id,
                        "delete it first: `gantry-oci delete --force " + id + "`");
        throw sys_error(errno, "cannot create " + dir.string());
    }
    return dir;
}

void save(const Container& c) {
    nlohmann::json j = {{"id", c.id},           {"bundle", c.bundle}, {"rootfs", c.rootfs},
                        {"created", c.created}, {"pid", c.pid},       {"pid_start", c.pid_start},
                        {"config", c.config}};
    if (!c.cgroup.is_null()) j["cgroup"] = c.cgroup;
    if (c.monitor > 0) j["monitor"] = {{"pid", c.monitor}, {"start", c.monitor_started}};
    if (c.kernel_cache_monitor > 0)
        j["kernel_cache_monitor"] = {{"pid", c.kernel_cache_monitor},
                                     {"start", c.kernel_cache_monitor_started}};
    fs::write_atomic(record_dir(c) / "state.json", j.dump(), 0600,
                     fs::Sync::volatile_only); // in --root
}

std::optional<Container> find(const Global& g, const std::string& id) {
    check_id(id);
    stdfs::path dir = root_dir(g) / id;
    std::error_code ec;
    if (!stdfs::exists(dir / "state.json", ec)) return std::nullopt;
    return parse_state(fs::read_file(dir / "state.json"), id, dir);
}

Container load(const Global& g, const std::string& id) {
    auto c = find(g, id);
    if (!c)
        throw Error(Errc::not_found, "container does not exist: " + id,
                    "`gantry-oci list` shows the containers under " + root_dir(g).string());
    return *c;
}

void write_pid_file(const std::string& path, pid_t pid) {
    if (path.empty()) return;
    fs::write_atomic(stdfs::absolute(path), std::to_string(pid), 0644, fs::Sync::volatile_only);
}

void send_console(const std::string& path, int master) {
    Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket failed");
    struct sockaddr_un a {};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path)
        throw Error(Errc::usage, "console socket path too long: " + path);
    std::memcpy(a.sun_path, path.c_str(), path.size());
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw sys_error(errno, "cannot connect to the console socket " + path,
                        "--console-socket names a unix socket the caller listens on");
    // runc's message: the terminal's name as the payload, the master in SCM_RIGHTS
    char name[] = "/dev/ptmx";
    struct iovec iov {
        name, sizeof name - 1
    };
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &master, sizeof(int));
    if (::sendmsg(s.get(), &msg, 0) < 0)
        throw sys_error(errno, "cannot send the terminal to the console socket " + path);
}

std::optional<seccomp::SeccompFilter> seccomp_filter(const nlohmann::json& config) {
    if (!config.is_object() || !config.contains("linux") || !config["linux"].is_object() ||
        !config["linux"].contains("seccomp"))
        return std::nullopt;
    auto spec = oci::SeccompSpec::from_json(config["linux"]["seccomp"]);
    if (!spec) return std::nullopt;
    return seccomp::SeccompFilter{seccomp::seccomp_program(*spec), spec->flags};
}

} // namespace gantry::ocirt
