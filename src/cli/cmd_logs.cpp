#include "cli/context.hpp"
#include "container_log/output.hpp"
#include "docker_model/events.hpp"
#include "records/events.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <optional>

namespace gantry::cli {

namespace {

// docker's --tail: "all" or a number of lines
std::optional<std::size_t> parse_tail(const std::string& v) {
    if (v == "all") return std::nullopt;
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size())
        throw Error(Errc::usage, "--tail \"" + v + "\" is not a number of lines",
                    "give a number, e.g. --tail 20, or --tail all");
    return n;
}

} // namespace

void register_logs(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string name, tail = "all";
        bool follow = false, timestamps = false;
        std::string since, until;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "logs", "Print a detached container's output (its stdout to stdout, its stderr to "
                "stderr, in the order written)");
    cmd->add_option("container", o->name, "Container name or ID")->required();
    cmd->add_flag("-f,--follow", o->follow, "Keep printing new output until the container exits");
    cmd->add_option("-n,--tail", o->tail, "Print only the last N lines (default: all)");
    cmd->add_flag("-t,--timestamps", o->timestamps,
                  "Prefix each line with the time its chunk was recorded (RFC 3339, UTC)");
    cmd->add_option("--since", o->since,
                    "Only output recorded since then: a duration before now (10m, 1h30m), Unix "
                    "seconds or an RFC 3339 time");
    cmd->add_option("--until", o->until,
                    "Only output recorded until then (the same forms as --since); with -f, "
                    "follow until then");
    cmd->footer("The output is the file the container's monitor writes from its stdout and "
                "stderr, each chunk marked with its stream and the time it was read, in the "
                "order read (a chunk recorded by an older gantry has no time: --since and "
                "--until leave it out, -t prints docker's zero time).");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            auto tail = parse_tail(o->tail);
            container_log::LogView view;
            view.timestamps = o->timestamps;
            std::int64_t now = records::realtime_nanos();
            if (!o->since.empty()) view.since = docker_model::event_time(o->since, now, "--since");
            if (!o->until.empty()) view.until = docker_model::event_time(o->until, now, "--until");
            records::StateDir states;
            auto s = states.get(o->name);
            if (s.log_driver == "none")
                throw Error(Errc::unsupported,
                            "container " + s.name +
                                " keeps no log (its log driver is none): configured logging "
                                "driver does not support reading",
                            "run it with the default log driver (json-file) to read its output "
                            "with `gantry logs`");
            if (!s.detached)
                throw Error(Errc::not_found,
                            "container " + s.name +
                                " was started in the foreground: its output goes to the "
                                "terminal that started it, and gantry keeps no copy",
                            "start it with `gantry run -d` to read its output with `gantry logs`");
            auto out = container_log::OutputReader::open(s.container_dir);
            auto path = s.container_dir + "/" + container_log::kOutputFile;
            if (!out && errno == ENOENT)
                throw Error(Errc::not_found,
                            "container " + s.name + " has no output file (" + path + ")",
                            "it was removed while being read, or the store moved; `gantry ps -a` "
                            "lists containers");
            if (!out)
                throw_errno("cannot open the output of container " + s.name + " (" + path + ")");
            if (tail) out->tail(*tail, container_log::kStdout | container_log::kStderr);
            std::function<bool()> follow;
            if (o->follow)
                // its workload, then its monitor recording the end; until then, or its removal
                // (the pids and start times are the container's for its whole life: no need to
                // read every container's state again at each wake)
                // (with --until: until then)
                follow = [&states, s, until = view.until] {
                    return (!until || records::realtime_nanos() <= until) &&
                           (s.running() || s.monitor_alive()) &&
                           fs::stdfs::exists(states.dir() / s.name / "state.json");
                };
            container_log::print_output(*out, container_log::kStdout | container_log::kStderr,
                                        STDOUT_FILENO, STDERR_FILENO, follow, view);
            return 0;
        };
    });
}

} // namespace gantry::cli
