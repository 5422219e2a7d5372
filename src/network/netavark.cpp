#include "network/netavark.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::network {

namespace {

std::string podman_helper(const std::string& name, const std::string& package) {
    for (const char* dir : {"/usr/lib/podman/", "/usr/libexec/podman/", "/usr/local/lib/podman/",
                            "/usr/local/libexec/podman/"}) {
        const std::string p = dir + name;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    std::string p = fs::find_program(name);
    if (p.empty())
        throw Error(Errc::unsupported, "user networks need " + name + ", which is not installed",
                    "install it (Debian and Ubuntu: apt-get install " + package +
                        "), or use --network bridge");
    return p;
}

std::string memfd_text(int fd, std::size_t max) {
    std::string all;
    char buf[4096];
    ssize_t n;
    while (all.size() < max &&
           (n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(all.size()))) > 0)
        all.append(buf, static_cast<std::size_t>(n));
    return all;
}

// netavark's error lines (its log's "[ERROR netavark] ..." or a JSON {"error": ...}) on one line
std::string netavark_said(const std::string& err, const std::string& out) {
    std::string said;
    for (auto line : text::lines(err + "\n" + out)) {
        auto t = std::string(text::trim(line));
        if (t.empty()) continue;
        if (t.front() == '{') {
            try {
                auto j = nlohmann::json::parse(t);
                if (j.is_object() && j.contains("error") && j["error"].is_string())
                    t = j["error"].get<std::string>();
            } catch (const nlohmann::json::exception&) {
            }
        }
        said += (said.empty() ? "" : "; ") + t;
    }
    return said.size() > 2000 ? said.substr(0, 2000) + "..." : said;
}

} // namespace

std::string netavark_program() {
    return podman_helper("netavark", "netavark");
}

std::string aardvark_program() {
    return podman_helper("aardvark-dns", "aardvark-dns");
}

nlohmann::json netavark_options(const std::string& id, const std::string& name,
                                const std::vector<Endpoint>& endpoints,
                                const std::vector<UserNetwork>& networks) {
    nlohmann::json nets = nlohmann::json::object(), info = nlohmann::json::object();
    for (auto& e : endpoints) {
        const UserNetwork* n = nullptr;
        for (auto& candidate : networks)
            if (candidate.name == e.network) n = &candidate;
        if (!n) throw Error(Errc::internal, "network " + e.network + " is not among those given");
        auto ips = nlohmann::json::array({e.ip});
        auto subnets = nlohmann::json::array({{{"subnet", n->subnet}, {"gateway", n->gateway}}});
        if (n->ipv6()) {
            if (e.ip6.empty())
                throw Error(Errc::internal, "network " + n->name + ": no IPv6 address given");
            ips.push_back(e.ip6);
            subnets.push_back({{"subnet", n->subnet6}, {"gateway", n->gateway6}});
        }
        nets[e.network] = {
            {"interface_name", e.interface}, {"static_ips", ips}, {"aliases", e.aliases}};
        info[e.network] = {{"name", n->name},
                           {"id", n->id},
                           {"driver", "bridge"},
                           {"network_interface", n->bridge},
                           {"subnets", subnets},
                           {"ipv6_enabled", n->ipv6()},
                           {"internal", n->internal},
                           {"dns_enabled", true},
                           {"ipam_options", {{"driver", "host-local"}}}};
    }
    return {
        {"container_id", id}, {"container_name", name}, {"networks", nets}, {"network_info", info}};
}

std::string netavark_mac(const std::string& response, const std::string& network,
                         const std::string& interface) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(response);
    } catch (const nlohmann::json::exception&) {
        throw Error(Errc::run_failed, "netavark answered no JSON: " + response.substr(0, 200),
                    "check the netavark package (netavark --version)");
    }
    if (!j.is_object()) return "";
    auto n = j.find(network);
    if (n == j.end() || !n->is_object()) return "";
    auto ifs = n->find("interfaces");
    if (ifs == n->end() || !ifs->is_object()) return "";
    auto i = ifs->find(interface);
    if (i == ifs->end() || !i->is_object()) return "";
    auto mac = i->find("mac_address");
    return mac != i->end() && mac->is_string() ? mac->get<std::string>() : "";
}

std::string run_netavark(pid_t holder, const std::string& config_dir, const std::string& command,
                         const std::string& netns, const nlohmann::json& options,
                         const std::vector<int>& keep, const std::vector<std::string>& pin,
                         const std::vector<std::string>& dns) {
    const std::string program = netavark_program(), aardvark = aardvark_program();
    // the namespaces, opened before the fork: a holder gone fails here, named
    std::vector<std::pair<Fd, int>> ns;
    if (holder > 0) {
        const std::string proc = "/proc/" + std::to_string(holder) + "/ns/";
        // rootless, the holder's user namespace owns the containers' network namespaces too;
        // root stays root of the host's, which has a say over both
        const bool own_user = ::geteuid() != 0;
        const std::vector<std::pair<const char*, int>> kinds = {{"user", CLONE_NEWUSER},
                                                                {"net", CLONE_NEWNET},
                                                                {"mnt", CLONE_NEWNS},
                                                                {"pid", CLONE_NEWPID}};
        for (auto& [name, type] : kinds) {
            if (type == CLONE_NEWUSER && !own_user) continue;
            Fd fd(::open((proc + name).c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd)
                throw_errno("cannot open the user networks' namespace " + proc + name,
                            "the namespace's holder ended: start the container again");
            ns.emplace_back(std::move(fd), type);
        }
    }
    Fd in(::memfd_create("netavark-in", MFD_CLOEXEC)), out(::memfd_create("netavark-out", 0)),
        err(::memfd_create("netavark-err", 0));
    if (!in || !out || !err) throw_errno("cannot make memfds for netavark");
    const std::string body = options.dump();
    fs::write_all(in.get(), body.data(), body.size(), "netavark's input");
    std::vector<std::string> args{program,
                                  "--config",
                                  config_dir,
                                  "--rootless",
                                  ::geteuid() == 0 ? "false" : "true",
                                  "--aardvark-binary",
                                  aardvark,
                                  command,
                                  netns};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    std::vector<ifreq> pins;
    for (auto& b : pin) {
        ifreq r{};
        if (b.size() >= sizeof r.ifr_name) continue;
        b.copy(r.ifr_name, b.size());
        pins.push_back(r);
    }
    // /proc/net/udp's local_address of GATEWAY:53 ("%08X:0035" of the address as the kernel's
    // u32 prints it), searched for after the setup
    std::vector<std::string> dns_bound;
    for (auto& gw : dns) {
        in_addr a{};
        if (::inet_pton(AF_INET, gw.c_str(), &a) != 1) continue;
        char hex[16];
        std::snprintf(hex, sizeof hex, "%08X:0035", a.s_addr);
        dns_bound.emplace_back(hex);
    }
    std::string lock_env = "XTABLES_LOCKFILE=" + config_dir + "/xtables.lock";
    char* envp[] = {path_env.data(), lock_env.data(), nullptr};
    const pid_t child = ::fork();
    if (child < 0) throw_errno("cannot start netavark");
    if (child == 0) { // async-signal-safe calls only
        for (auto& [fd, type] : ns)
            if (::setns(fd.get(), type) != 0) ::_exit(120);
        ::lseek(in.get(), 0, SEEK_SET);
        ::dup2(in.get(), 0);
        ::dup2(out.get(), 1);
        ::dup2(err.get(), 2);
        for (int fd : keep) ::fcntl(fd, F_SETFD, 0);
        // the PID namespace is the children's: netavark and the aardvark-dns it starts live
        // (and end) with the holder
        const pid_t grandchild = ::fork();
        if (grandchild < 0) ::_exit(121);
        if (grandchild == 0) {
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::execve(argv[0], argv.data(), envp);
            ::_exit(127);
        }
        int st = 0;
        while (::waitpid(grandchild, &st, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !pins.empty()) {
            // a bridge takes the lowest MAC address of its ports unless one was set: pinned,
            // so that a container leaving does not change the gateway's address under the
            // others' ARP caches (netavark 1.4 leaves it free)
            const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            for (auto& r : pins)
                if (s >= 0 && ::ioctl(s, SIOCGIFHWADDR, &r) == 0) ::ioctl(s, SIOCSIFHWADDR, &r);
        }
        // aardvark-dns 1.4 tells netavark it is ready before it binds its port (later ones
        // after): a container started at once would find no DNS server. No event says when
        // it binds: /proc/net/udp of the network's namespace is read until it shows the
        // gateway's port 53 bound, every 5 ms for at most 3 s
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            for (auto& needle : dns_bound)
                for (int tries = 0; tries < 600; ++tries) {
                    char buf[16384];
                    std::size_t used = 0;
                    bool found = false;
                    const int fd = ::open("/proc/net/udp", O_RDONLY | O_CLOEXEC);
                    ssize_t n;
                    while (fd >= 0 && !found &&
                           (n = ::read(fd, buf + used, sizeof buf - used - 1)) > 0) {
                        used += static_cast<std::size_t>(n);
                        buf[used] = '\0';
                        found = ::strstr(buf, needle.c_str()) != nullptr;
                        if (used > sizeof buf / 2) { // keep the tail: a needle may straddle
                            const std::size_t keep_tail = 64;
                            ::memmove(buf, buf + used - keep_tail, keep_tail);
                            used = keep_tail;
                        }
                    }
                    if (fd >= 0) ::close(fd);
                    if (found) break;
                    const timespec pause{0, 5'000'000};
                    ::nanosleep(&pause, nullptr);
                }
        ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 122);
    }
    int st = 0;
    while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    const std::string stdout_text = memfd_text(out.get(), 1 << 20);
    if (code == 0) return stdout_text;
    std::string why = code == 120   ? "cannot enter the user networks' namespace"
                      : code == 127 ? "cannot execute " + program
                                    : netavark_said(memfd_text(err.get(), 1 << 16), stdout_text);
    throw Error(Errc::run_failed,
                "netavark " + command + " failed" + (why.empty() ? "" : ": " + why),
                "check the netavark and aardvark-dns packages; GANTRY_LOG=debug shows more");
}

} // namespace gantry::network
