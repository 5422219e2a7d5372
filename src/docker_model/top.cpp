#include "docker_model/top.hpp"

#include "network/ports.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/printable.hpp"
#include "util/spawn.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::docker_model {

namespace {

std::optional<std::pair<dev_t, ino_t>> pid_namespace(pid_t pid) {
    struct stat st {};
    if (::stat(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), &st) != 0) return std::nullopt;
    return std::pair{st.st_dev, st.st_ino};
}

std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string find_ps() {
    const char* path = std::getenv("PATH");
    std::string dirs = path && *path ? path : "/usr/bin:/bin";
    for (std::size_t i = 0; i <= dirs.size();) {
        std::size_t j = std::min(dirs.find(':', i), dirs.size());
        std::string candidate = dirs.substr(i, j - i) + "/ps";
        if (j > i && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        i = j + 1;
    }
    throw Error(Errc::not_found, "`top` runs the host's ps, and none is in PATH",
                "install procps (apt-get install procps)");
}

} // namespace

std::set<pid_t> namespace_members(pid_t pid) {
    std::set<pid_t> out;
    auto ns = pid_namespace(pid);
    if (!ns) return out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        pid_t p = pid_t(std::stol(name));
        if (pid_namespace(p) == ns) out.insert(p);
    }
    return out;
}

std::string top_table(std::string_view ps_output, const std::set<pid_t>& pids) {
    std::size_t end = ps_output.find('\n');
    std::string_view header = ps_output.substr(0, end);
    auto heads = fields(header);
    std::size_t column = heads.size();
    for (std::size_t i = 0; i < heads.size(); ++i)
        if (heads[i] == "PID") column = i;
    if (column == heads.size())
        throw Error(Errc::usage, "Couldn't find PID field in ps output",
                    "give ps options whose output has a PID column (e.g. -ef, aux, -o pid,comm)");
    std::string out = std::string(header) + "\n";
    while (end != std::string_view::npos && end + 1 < ps_output.size()) {
        std::size_t next = ps_output.find('\n', end + 1);
        std::string_view line = ps_output.substr(
            end + 1, next == std::string_view::npos ? std::string_view::npos : next - end - 1);
        auto f = fields(line);
        if (f.size() > column) {
            char* stop = nullptr;
            std::string pid(f[column]);
            long v = std::strtol(pid.c_str(), &stop, 10);
            if (stop && *stop == 0 && pids.count(pid_t(v)))
                out += text::printable(line) + "\n"; // a process's arguments end no line
        }
        end = next;
    }
    return out;
}

std::string container_top(const records::ContainerState& s, std::vector<std::string> ps_args) {
    if (!s.running())
        throw Error(Errc::conflict, "container " + s.name + " is not running",
                    "`gantry ps -a` shows its state; `top` lists a running container's processes");
    auto pids = namespace_members(s.pid);
    if (ps_args.empty()) ps_args = {"-ef"};
    ps_args.insert(ps_args.begin(), find_ps());
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd r(pipefd[0]), w(pipefd[1]);
    Spawned ps(ps_args, {{w.get(), 1}}, {2});
    w.reset();
    std::string output;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(r.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        output.append(buf, std::size_t(n));
        if (output.size() > (64u << 20))
            throw Error(Errc::io, "ps wrote over 64 MiB", "give ps fewer columns");
    }
    int status = ps.wait();
    if (!Spawned::ok(status))
        throw Error(Errc::usage, "ps failed: " + ps.messages(),
                    "`gantry top NAME` takes ps's options (default -ef)");
    return top_table(output, pids);
}

std::string container_ports(const records::ContainerState& s, const std::string& port) {
    const bool up = s.running();
    std::string out;
    for (auto& line : network::port_lines(up ? s.ports : std::vector<network::PortMapping>{}, port))
        out += line + "\n";
    if (!out.empty() || port.empty()) return out; // no mapping: docker prints nothing
    std::string p = port.find('/') == std::string::npos ? port + "/tcp" : port;
    throw Error(Errc::not_found, "No public port '" + p + "' published for " + s.name,
                s.network == "bridge"
                    ? "publish it with -p HOST_PORT:" + p.substr(0, p.find('/')) +
                          " when the container is made"
                    : "a container in the host's network (gantry run's default) serves its "
                      "ports as the host's own; --network bridge publishes them");
}

} // namespace gantry::docker_model
