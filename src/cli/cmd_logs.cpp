#include "cli/context.hpp"
#include "container_log/output.hpp"
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
    // docker's, refused with the reason rather than as unknown options
    cmd->add_flag("-t,--timestamps", o->timestamps, "Not available: no timestamps are recorded");
    cmd->add_option("--since", o->since, "Not available: no timestamps are recorded");
    cmd->add_option("--until", o->until, "Not available: no timestamps are recorded");
    cmd->footer("The output is the file the container's monitor writes from its stdout and "
                "stderr, each chunk marked with its stream, in the order read; no timestamps "
                "are recorded (so no -t, --since or --until).");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            if (o->timestamps || !o->since.empty() || !o->until.empty())
                throw Error(Errc::unsupported,
                            "gantry records a container's output without timestamps, so it "
                            "cannot print or select them (-t, --since, --until)",
                            "use --tail N for the last lines, or have the workload stamp its own "
                            "lines");
            auto tail = parse_tail(o->tail);
            records::StateDir states;
            auto s = states.get(o->name);
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
                follow = [&states, s] {
                    return (s.running() || s.monitor_alive()) &&
                           fs::stdfs::exists(states.dir() / s.name / "state.json");
                };
            container_log::print_output(*out, container_log::kStdout | container_log::kStderr,
                                        STDOUT_FILENO, STDERR_FILENO, follow);
            return 0;
        };
    });
}

} // namespace gantry::cli
