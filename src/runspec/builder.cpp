#include "runspec/builder.hpp"

#include "oci/passwd.hpp"
#include "runspec/user_spec.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::runspec {

using nlohmann::json;

namespace {

constexpr long kMqueueMagic = 0x19800202; // the mqueue filesystem's (ipc/mqueue.c)

std::vector<std::string> split(const std::string& s, char sep) {
    auto fields = text::split(s, sep);
    return {fields.begin(), fields.end()};
}

void set_env(std::vector<std::string>& env, const std::string& kv) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    for (auto& e : env)
        if (e.starts_with(key + "=")) {
            e = kv;
            return;
        }
    env.push_back(kv);
}

bool has_env(const std::vector<std::string>& env, const std::string& key) {
    for (auto& e : env)
        if (e.starts_with(key + "=")) return true;
    return false;
}

// "-e K=V" as given; "-e K" takes K from the host environment (skipped if unset, as docker).
void add_user_env(std::vector<std::string>& env, const std::string& item) {
    if (item.find('=') != std::string::npos) {
        if (item[0] == '=')
            throw Error(Errc::usage, "invalid environment variable \"" + item + "\"");
        set_env(env, item);
    } else if (const char* v = std::getenv(item.c_str())) {
        set_env(env, item + "=" + v);
    }
}

} // namespace

std::string absolute_source(const std::string& src, const std::string& what) {
    if (src.empty()) throw Error(Errc::usage, what + ": empty source path");
    if (src[0] != '/' && src[0] != '.')
        throw Error(Errc::usage, what + ": named volumes are not supported (\"" + src + "\")",
                    "give a host path: an absolute path or one starting with ./");
    std::error_code ec;
    auto p = std::filesystem::absolute(src, ec).lexically_normal().string();
    if (!std::filesystem::exists(p, ec))
        throw Error(Errc::not_found, what + ": host path " + p + " does not exist",
                    "create it first (docker would create a directory; gantry does not guess)");
    return p;
}

void check_destination(const std::string& dst, const std::string& what) {
    if (dst.empty() || dst[0] != '/')
        throw Error(Errc::usage, what + ": destination \"" + dst + "\" must be an absolute path",
                    "name the path inside the container from /, e.g. /data");
}

BindMount parse_volume(const std::string& text) {
    auto parts = split(text, ':');
    if (parts.size() < 2 || parts.size() > 3)
        throw Error(Errc::usage, "invalid volume \"" + text + "\"", "use -v SRC:DST[:ro|rw]");
    BindMount b;
    b.source = absolute_source(parts[0], "-v " + text);
    b.destination = parts[1];
    check_destination(b.destination, "-v " + text);
    if (parts.size() == 3) {
        for (auto& o : split(parts[2], ',')) {
            if (o == "ro")
                b.readonly = true;
            else if (o == "rw")
                b.readonly = false;
            else if (o == "z" || o == "Z" || o.empty()) {
            } else
                throw Error(Errc::usage, "unknown volume option \"" + o + "\" in \"" + text + "\"",
                            "use ro or rw");
        }
    }
    return b;
}

std::uint32_t numeric_id(std::string_view v, const char* what) {
    auto n = text::to_u32(v);
    if (!n || *n == 4294967295u)
        throw Error(Errc::usage, std::string(what) + " " + std::string(v) + " is out of range",
                    "user and group IDs go from 0 to 4294967294");
    return *n;
}

std::vector<std::string> read_env_file(const std::string& path) {
    std::string content = fs::read_file(path, 1 << 20);
    std::vector<std::string> out;
    for (auto line : text::lines(content)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        size_t s = line.find_first_not_of(" \t");
        if (s == std::string::npos || line[s] == '#') continue;
        out.emplace_back(line.substr(s));
    }
    return out;
}

std::vector<oci::DeviceNode> host_devices(const std::string& text) {
    auto parts = split(text, ':');
    const std::string what = "--device " + text;
    if (parts.size() > 3 || parts[0].empty() || parts[0][0] != '/')
        throw Error(
            Errc::usage, what + ": not a host device",
            "use --device /dev/HOST[:/dev/CONTAINER[:rwm]], or a CDI name vendor.com/class=name");
    std::string host = parts[0], inside = parts.size() > 1 && !parts[1].empty() ? parts[1] : host;
    check_destination(inside, what);
    if (parts.size() == 3) {
        const auto& perms = parts[2];
        if (perms.empty() || perms.find_first_not_of("rwm") != std::string::npos)
            throw Error(Errc::usage, what + ": permissions \"" + perms + "\" are not r, w, m",
                        "give rwm (the default), rw, or leave them out");
        if (perms.find('w') == std::string::npos)
            throw Error(Errc::usage,
                        what + ": gantry cannot make a device read-only: there is no device "
                               "cgroup to enforce it, and a read-only mount does not stop writes "
                               "to a device",
                        "give rw (or leave the permissions out) and have the program open it "
                        "read-only");
    }
    std::error_code ec;
    auto status = std::filesystem::status(host, ec); // a link is followed, as docker does
    if (ec || !std::filesystem::exists(status))
        throw Error(Errc::not_found, what + ": " + host + " does not exist on the host",
                    "check the path (ls -l " + host + ")");
    auto node = [&](const std::filesystem::path& from, const std::string& to) {
        struct stat st {};
        if (::stat(from.c_str(), &st) != 0) throw_errno(what + ": cannot stat " + from.string());
        oci::DeviceNode d;
        d.path = to;
        d.host_path = from.string();
        d.type = S_ISBLK(st.st_mode) ? 'b' : 'c';
        d.major = major(st.st_rdev);
        d.minor = minor(st.st_rdev);
        d.file_mode = st.st_mode & 07777;
        return d;
    };
    auto is_device = [](std::filesystem::file_type t) {
        return t == std::filesystem::file_type::character || t == std::filesystem::file_type::block;
    };
    std::vector<oci::DeviceNode> out;
    if (is_device(status.type())) {
        out.push_back(node(host, inside));
    } else if (std::filesystem::is_directory(status)) {
        std::vector<std::filesystem::path> found;
        for (auto it = std::filesystem::recursive_directory_iterator(host, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
            if (!it->is_symlink() && is_device(it->symlink_status().type()))
                found.push_back(it->path());
        if (ec) throw Error(Errc::io, what + ": cannot list " + host + ": " + ec.message());
        std::sort(found.begin(), found.end());
        for (auto& f : found)
            out.push_back(node(
                f, (std::filesystem::path(inside) / std::filesystem::relative(f, host)).string()));
        if (out.empty())
            throw Error(Errc::usage, what + ": " + host + " holds no device nodes",
                        "name a device, or a directory of devices such as /dev/infiniband");
    } else {
        throw Error(Errc::usage, what + ": " + host + " is not a device",
                    "bind files and directories with -v " + host + ":" + inside);
    }
    return out;
}

oci::Rlimit parse_ulimit(const std::string& text) {
    static const std::map<std::string, std::string> names = {{"as", "RLIMIT_AS"},
                                                             {"core", "RLIMIT_CORE"},
                                                             {"cpu", "RLIMIT_CPU"},
                                                             {"data", "RLIMIT_DATA"},
                                                             {"fsize", "RLIMIT_FSIZE"},
                                                             {"locks", "RLIMIT_LOCKS"},
                                                             {"memlock", "RLIMIT_MEMLOCK"},
                                                             {"msgqueue", "RLIMIT_MSGQUEUE"},
                                                             {"nice", "RLIMIT_NICE"},
                                                             {"nofile", "RLIMIT_NOFILE"},
                                                             {"nproc", "RLIMIT_NPROC"},
                                                             {"rss", "RLIMIT_RSS"},
                                                             {"rtprio", "RLIMIT_RTPRIO"},
                                                             {"rttime", "RLIMIT_RTTIME"},
                                                             {"sigpending", "RLIMIT_SIGPENDING"},
                                                             {"stack", "RLIMIT_STACK"}};
    const std::string usage = "use --ulimit NAME=SOFT[:HARD], e.g. --ulimit memlock=-1 or "
                              "--ulimit nofile=1024:4096 (-1: unlimited)";
    auto eq = text.find('=');
    std::string name = text.substr(0, eq);
    auto it = names.find(name);
    if (eq == std::string::npos || it == names.end()) {
        std::string known;
        for (auto& [n, r] : names) known += (known.empty() ? "" : ", ") + n;
        throw Error(Errc::usage,
                    eq == std::string::npos ? "invalid --ulimit \"" + text + "\""
                                            : "unknown --ulimit \"" + name + "\" (" + known + ")",
                    usage);
    }
    auto value = [&](const std::string& v) -> std::uint64_t {
        if (v == "-1" || v == "unlimited") return ~std::uint64_t{0}; // RLIM_INFINITY
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (v.empty() || ec != std::errc{} || end != v.data() + v.size())
            throw Error(Errc::usage, "invalid --ulimit " + name + " value \"" + v + "\"", usage);
        return n;
    };
    auto limits = text.substr(eq + 1);
    auto colon = limits.find(':');
    oci::Rlimit r{it->second, value(limits.substr(0, colon)), 0};
    r.hard = colon == std::string::npos ? r.soft : value(limits.substr(colon + 1));
    if (r.soft > r.hard)
        throw Error(Errc::usage, "--ulimit " + text + ": the soft limit is above the hard limit",
                    "give SOFT:HARD with SOFT <= HARD, or one value for both");
    return r;
}

std::vector<std::string> capabilities(const std::vector<std::string>& add,
                                      const std::vector<std::string>& drop) {
    const auto& all = oci::all_capabilities();
    auto normal = [&](const std::string& flag, const std::string& name) {
        std::string n = text::upper(name);
        if (n == "ALL") return n;
        if (!n.starts_with("CAP_")) n = "CAP_" + n;
        if (std::find(all.begin(), all.end(), n) == all.end())
            throw Error(Errc::usage, flag + ": unknown capability \"" + name + "\"",
                        "use a name from capabilities(7) such as SYS_PTRACE or IPC_LOCK, or ALL");
        return n;
    };
    std::vector<std::string> adds, drops;
    for (auto& a : add) adds.push_back(normal("--cap-add", a));
    for (auto& d : drop) drops.push_back(normal("--cap-drop", d));
    auto in = [](const std::vector<std::string>& v, const std::string& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    std::vector<std::string> caps;
    auto put = [&](const std::string& c) {
        if (c != "ALL" && !in(caps, c)) caps.push_back(c);
    };
    if (in(adds, "ALL")) {
        for (auto& c : all)
            if (!in(drops, c)) put(c);
    } else if (in(drops, "ALL")) {
        for (auto& c : adds) put(c);
    } else {
        for (auto& c : oci::default_capabilities())
            if (!in(drops, c)) put(c);
        for (auto& c : adds) put(c);
    }
    return caps;
}

std::vector<oci::Rlimit> parse_ulimits(const std::vector<std::string>& texts) {
    std::vector<oci::Rlimit> out;
    for (auto& t : texts) {
        auto r = parse_ulimit(t);
        std::erase_if(out, [&](const oci::Rlimit& x) { return x.type == r.type; });
        out.push_back(r);
    }
    return out;
}

std::vector<std::string> namespaces(const RunOptions& opt) {
    std::vector<std::string> ns{"mount", "user"};
    if (!opt.uts_host) ns.insert(ns.begin(), "uts");
    if (!opt.ipc_host) ns.insert(ns.begin(), "ipc");
    if (!opt.pid_host) ns.insert(ns.begin(), "pid");
    if (opt.network_none || opt.network_private) ns.push_back("network");
    return ns;
}

std::vector<std::string> environment(const json& image_config, const RunOptions& opt) {
    std::vector<std::string> env;
    // image Env, then --env-file, then -e (later wins)
    if (image_config.contains("config") && image_config["config"].is_object()) {
        const auto& cfg = image_config["config"];
        if (cfg.contains("Env") && cfg["Env"].is_array())
            for (auto& e : cfg["Env"])
                if (e.is_string()) set_env(env, e.get<std::string>());
    }
    if (!has_env(env, "PATH"))
        set_env(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for (auto& f : opt.env_files)
        for (auto& e : read_env_file(f)) add_user_env(env, e);
    for (auto& e : opt.env) add_user_env(env, e);
    return env;
}

oci::RuntimeSpec build(const json& image_config, const RunOptions& opt, const std::string& passwd,
                       const std::string&) {
    const json cfg = image_config.contains("config") && image_config["config"].is_object()
                         ? image_config["config"]
                         : json::object();
    auto strings = [&](const char* key) {
        std::vector<std::string> v;
        if (cfg.contains(key) && cfg[key].is_array())
            for (auto& s : cfg[key])
                if (s.is_string()) v.push_back(s.get<std::string>());
        return v;
    };
    oci::RuntimeSpec s;

    // Entrypoint and command, with docker's override rules.
    std::vector<std::string> entry = strings("Entrypoint");
    std::vector<std::string> cmd = strings("Cmd");
    if (opt.entrypoint) {
        entry = opt.entrypoint->empty() ? std::vector<std::string>{}
                                        : std::vector<std::string>{*opt.entrypoint};
        cmd.clear(); // docker: --entrypoint discards the image's CMD
    }
    if (!opt.command.empty()) cmd = opt.command;
    s.args = entry;
    s.args.insert(s.args.end(), cmd.begin(), cmd.end());
    if (s.args.empty())
        throw Error(Errc::run_failed, "no command specified: the image has no ENTRYPOINT or CMD",
                    "give a command after the image name");

    s.env = opt.environment ? *opt.environment : environment(image_config, opt);

    // User.
    std::string user = !opt.user.empty() ? opt.user : cfg.value("User", std::string());
    auto users = oci::parse_passwd(passwd);
    std::string home;
    if (!user.empty()) {
        auto who = resolve_user(user, passwd);
        s.uid = who.uid;
        s.gid = who.gid;
        home = who.home;
    } else {
        for (auto& p : users)
            if (p.uid == 0) home = p.home;
    }
    if (!opt.group_add_names.empty())
        throw Error(Errc::internal, "--group-add " + opt.group_add_names.front() +
                                        ": the name was not looked up in the image");
    for (auto g : opt.group_add) // docker's --group-add: beside the user's own
        if (std::find(s.additional_gids.begin(), s.additional_gids.end(), g) ==
            s.additional_gids.end())
            s.additional_gids.push_back(g);
    if (!has_env(s.env, "HOME"))
        set_env(s.env, "HOME=" + (home.empty() ? (s.uid == 0 ? "/root" : "/") : home));
    s.hostname = opt.hostname;
    if (s.hostname.empty()) {
        char buf[256] = {};
        ::gethostname(buf, sizeof buf - 1);
        s.hostname = opt.network_none ? "gantry" : buf;
    }
    if (!has_env(s.env, "HOSTNAME")) set_env(s.env, "HOSTNAME=" + s.hostname);
    if (opt.tty && !has_env(s.env, "TERM")) set_env(s.env, "TERM=xterm");

    s.cwd = !opt.workdir.empty() ? opt.workdir : cfg.value("WorkingDir", std::string());
    if (s.cwd.empty()) s.cwd = "/";
    if (s.cwd[0] != '/')
        throw Error(Errc::usage,
                    std::string(opt.workdir.empty() ? "the image's WorkingDir" : "-w") + " \"" +
                        s.cwd + "\" is not an absolute path",
                    "give the directory inside the container from /, e.g. -w /workspace");
    // cleaned as docker's daemon does (filepath.Clean): "/../../x" is /x, as the kernel has it
    s.cwd = std::filesystem::path(s.cwd).lexically_normal().string();
    if (s.cwd.size() > 1 && s.cwd.back() == '/') s.cwd.pop_back();
    s.terminal = opt.tty;
    s.capabilities = oci::CapabilitySets::same(opt.cap_add.empty() && opt.cap_drop.empty()
                                                   ? oci::default_capabilities()
                                                   : capabilities(opt.cap_add, opt.cap_drop));
    s.no_new_privileges = true;
    s.seccomp = opt.seccomp;
    s.root_readonly = opt.read_only;

    s.namespaces = namespaces(opt);
    if (opt.privileged_user) {
        s.uid_mappings = {{0, 0, 4294967295u}};
        s.gid_mappings = {{0, 0, 4294967295u}};
    } else if (!opt.uid_maps.empty() && !opt.gid_maps.empty()) {
        s.uid_mappings = opt.uid_maps;
        s.gid_mappings = opt.gid_maps;
    } else {
        s.uid_mappings = {{0, opt.host_uid, 1}};
        s.gid_mappings = {{0, opt.host_gid, 1}};
    }

    using M = oci::Mount;
    // --pid host: a procfs of the host's PID namespace may only be mounted by its owner (the
    // initial user namespace), so the host's /proc is bound, as rootless podman does
    if (opt.pid_host)
        s.mounts.push_back(M{"/proc", "bind", "/proc", {"rbind", "nosuid", "noexec", "nodev"}});
    else
        s.mounts.push_back(M{"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}});
    s.mounts.push_back(
        M{"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}});
    s.mounts.push_back(M{"/dev/pts",
                         "devpts",
                         "devpts",
                         {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}});
    if (opt.ipc_host) { // docker's --ipc host: the host's /dev/shm (and POSIX queues) as they are
        s.mounts.push_back(
            M{"/dev/shm", "bind", "/dev/shm", {"rbind", "nosuid", "nodev", "noexec"}});
        if (struct statfs st{}; ::statfs("/dev/mqueue", &st) == 0 && st.f_type == kMqueueMagic)
            s.mounts.push_back(
                M{"/dev/mqueue", "bind", "/dev/mqueue", {"rbind", "nosuid", "nodev", "noexec"}});
    } else {
        s.mounts.push_back(
            M{"/dev/shm",
              "tmpfs",
              "shm",
              {"nosuid", "noexec", "nodev", "mode=1777",
               "size=" + (opt.shm_size ? std::to_string(*opt.shm_size) : std::string("65536k"))}});
        s.mounts.push_back(M{"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}});
    }
    if (opt.network_none || opt.network_private) // the namespace's owner may mount one
        s.mounts.push_back(M{"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}});
    else // sysfs can only be mounted by the owner of the network namespace: bind the host's
        s.mounts.push_back(M{"/sys", "bind", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}});
    for (const auto& dev : oci::default_device_nodes()) // the host's, bound (rootless: no mknod)
        s.mounts.push_back(M{dev.path, "bind", dev.path, {"bind", "nosuid", "noexec"}});
    for (const char* f : {"/etc/hosts", "/etc/resolv.conf"})
        if (::access(f, R_OK) == 0)
            s.mounts.push_back(M{f, "bind", f, {"bind", "nosuid", "nodev", "noexec", "ro"}});
    for (auto& b : opt.binds) {
        std::vector<std::string> o{"rbind"};
        if (b.readonly) o.push_back("ro");
        if (!b.propagation.empty()) o.push_back(b.propagation);
        s.mounts.push_back(M{b.destination, "bind", b.source, o});
    }
    for (auto& t : opt.tmpfs) {
        auto colon = t.find(':');
        std::string dst = t.substr(0, colon);
        check_destination(dst, "--tmpfs " + t);
        std::vector<std::string> o{"nosuid", "nodev"};
        if (colon != std::string::npos)
            for (auto& x : split(t.substr(colon + 1), ','))
                if (!x.empty()) o.push_back(x);
        s.mounts.push_back(M{dst, "tmpfs", "tmpfs", o});
    }
    s.rlimits = opt.rlimits;
    for (auto& d : opt.devices) {
        std::erase_if(s.devices, [&](const oci::DeviceNode& x) { return x.path == d.path; });
        s.devices.push_back(d);
    }
    s.masked_paths = oci::default_masked_paths();
    s.readonly_paths = oci::default_readonly_paths();
    return s;
}

} // namespace gantry::runspec
