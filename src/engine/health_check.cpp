// The health checker of a running container (engine/health.hpp): `gantry __health ID`.
#include "engine/health.hpp"
#include "records/events.hpp"
#include "records/health.hpp"
#include "records/state.hpp"
#include "runtime/monitor.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::engine {

namespace {

using Clock = std::chrono::steady_clock;

// TEST's command as `gantry exec ID ...` runs it
std::vector<std::string> probe_argv(const std::string& id, const HealthConfig& c) {
    std::vector<std::string> argv = {"gantry", "exec", id};
    if (c.test[0] == "CMD-SHELL")
        argv.insert(argv.end(), {"/bin/sh", "-c", c.test[1]});
    else
        argv.insert(argv.end(), c.test.begin() + 1, c.test.end());
    return argv;
}

// One test: its exit status (-1 when it outran the timeout, then ended: SIGTERM, a second,
// SIGKILL to its process group), its stdout and stderr together in OUTPUT (the first 4096 bytes
// are kept)
int run_probe(const std::string& self, const std::vector<std::string>& argv, double timeout_s,
              std::string& output) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        output = "cannot make a pipe for the health check";
        return 1;
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t child = ::fork();
    if (child == 0) {
        ::setpgid(0, 0);
        int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) ::dup2(null, 0);
        ::dup2(pipefd[1], 1);
        ::dup2(pipefd[1], 2);
        ::execv(self.c_str(), args.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    Fd out(pipefd[0]);
    if (child < 0) {
        output = "cannot fork the health check";
        return 1;
    }
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    bool timed_out = false;
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{out.get(), POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        ssize_t got = ::read(out.get(), buf, sizeof buf);
        if (got <= 0) break; // EOF: the test ended (or closed its output)
        if (output.size() < 4096) output.append(buf, static_cast<std::size_t>(got));
    }
    int status = 0;
    if (timed_out) {
        ::kill(-child, SIGTERM);
        for (int i = 0; i < 100 && ::waitpid(child, &status, WNOHANG) == 0; ++i) ::usleep(10000);
        ::kill(-child, SIGKILL);
        ::waitpid(child, &status, 0);
        char msg[96];
        std::snprintf(msg, sizeof msg, "Health check exceeded timeout (%gs)", timeout_s);
        output = msg;
        return -1;
    }
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

} // namespace

void start_health_checker(const std::string& id) {
    const std::string self = fs::self_exe();
    pid_t pid = runtime::fork_monitor({.null_output = true, .keep_only = std::vector<int>{}});
    if (pid == 0) {
        ::execl(self.c_str(), "gantry", "__health", id.c_str(), nullptr);
        ::_exit(127);
    }
    if (pid < 0) log::warn("container " + id + " gets no health checks: cannot fork");
}

void run_health_checks(const std::string& id) {
    records::StateDir states;
    auto s = states.find(id);
    if (!s || s->id != id) return;
    const auto config = HealthConfig::from_json(s->healthcheck);
    if (!config.any() || s->container_dir.empty()) return;
    const std::filesystem::path dir = s->container_dir;
    const std::string self = fs::self_exe();
    const auto argv = probe_argv(id, config);
    records::HealthState health; // "starting", as the launcher recorded it
    const auto began = Clock::now();
    records::EventJournal journal;
    for (;;) {
        if (records::await_exit(s->pid, s->pid_start,
                                static_cast<double>(config.interval_ns) / 1e9))
            return; // the container ended
        records::HealthResult result;
        result.start = records::now_rfc3339();
        result.exit_code =
            run_probe(self, argv, static_cast<double>(config.timeout_ns) / 1e9, result.output);
        result.end = records::now_rfc3339();
        if (!records::process_running(s->pid, s->pid_start)) return; // it says nothing then
        const bool in_start_period =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - began).count() <
            config.start_period_ns;
        const std::string before = health.status;
        const auto& after = records::record_health_result(health, std::move(result),
                                                          in_start_period, config.retries);
        records::write_health(dir, health);
        if (after != before)
            journal.append(records::container_event(*s, "health_status: " + after));
    }
}

} // namespace gantry::engine
