// `gantry attach`: this terminal attached to a running detached container, as docker's attach:
// the Engine API's attach loop (engine/attach.hpp) with this process's stdout and stderr as the
// client's output and its stdin as the client's input.
#include "cli/context.hpp"
#include "container_log/output.hpp"
#include "engine/attach.hpp"
#include "records/state.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace gantry::cli {

namespace {

// all of DATA to FD; false when it is closed
bool attach_out(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// stdin in raw mode while attached to a container's terminal (its keys go to the container as
// typed, the detach keys among them), restored after
struct RawStdin {
    bool on = false;
    termios saved{};
    void enable() {
        if (::tcgetattr(STDIN_FILENO, &saved) != 0) return;
        termios raw = saved;
        ::cfmakeraw(&raw);
        on = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    void restore() {
        if (on) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        on = false;
    }
    ~RawStdin() { restore(); }
};

// docker's --sig-proxy: the signals this process receives are sent to the container's process
// (all but the ones a terminal or a child raise)
void proxy_signals(const records::ContainerState& s) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig = 1; sig < SIGRTMIN; ++sig)
        if (sig != SIGCHLD && sig != SIGPIPE && sig != SIGURG && sig != SIGWINCH &&
            sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE &&
            sig != SIGILL && sig != SIGTRAP && sig != SIGABRT && sig != SIGSYS)
            sigaddset(&set, sig);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set, s] {
        for (;;) {
            int sig = ::sigwaitinfo(&set, nullptr);
            if (sig <= 0) continue;
            try {
                records::kill_container(s, sig);
            } catch (const Error&) {
                // it ended meanwhile: the attach ends with it
            }
        }
    }).detach();
}

} // namespace

void register_attach(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string name, detach_keys;
        bool no_stdin = false, sig_proxy = true;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "attach", "Attach this terminal's input and output to a running detached container");
    cmd->add_option("container", o->name, "Container name or ID")->required();
    cmd->add_option("--detach-keys", o->detach_keys,
                    "The keys that detach and leave the container running, on a terminal "
                    "(default ctrl-p,ctrl-q; ctrl-<a-z, @, [, \\, ], ^ or _> or one character, "
                    "separated by commas)");
    cmd->add_flag("--no-stdin", o->no_stdin, "Do not attach this process's stdin");
    cmd->add_flag("--sig-proxy", o->sig_proxy,
                  "Send the signals this process receives to the container's process (default "
                  "true, without a terminal; --sig-proxy=false: none)");
    cmd->footer("The container's output from now on, as it writes it (its stdout to stdout, its "
                "stderr to stderr; a terminal's as it is), until it ends: then the exit status "
                "is its own. A container run with -i takes this process's stdin (-i is needed: "
                "docker's OpenStdin); with -t too, the detach keys end the attach (\"read escape "
                "sequence\", status 1, as docker's) and leave it running.");
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            auto keys = runtime::DetachKeys::parse(o->detach_keys);
            records::StateDir states;
            auto s = states.get(o->name);
            if (!s.running())
                throw Error(Errc::conflict,
                            "You cannot attach to a stopped container, start it first",
                            "gantry start -a " + s.name + " starts it with this terminal attached");
            if (s.paused())
                throw Error(Errc::conflict,
                            "You cannot attach to a paused container, unpause it first",
                            "gantry unpause " + s.name);
            if (!s.detached)
                throw Error(Errc::conflict,
                            "container " + s.name +
                                " runs in the foreground of the terminal that started it: gantry "
                                "keeps no copy of its output to attach to",
                            "start it with `gantry run -d` to attach to it later");
            const bool tty = s.spec.terminal;
            std::optional<engine::AttachedStdin> in;
            if (!o->no_stdin && s.open_stdin) {
                if (tty && !::isatty(STDIN_FILENO))
                    throw Error(Errc::usage, "the input device is not a TTY",
                                "container " + s.name +
                                    " has a terminal: attach from one, or give --no-stdin");
                if (Fd fd = s.stdin_writer())
                    in = engine::AttachedStdin{std::move(fd),
                                               tty ? std::optional(keys) : std::nullopt};
            }
            RawStdin raw;
            if (in && tty) raw.enable();
            if (o->sig_proxy && !tty) proxy_signals(s);
            engine::Attachment a;
            a.output = [tty](int stream, const char* data, std::size_t n) {
                return attach_out(tty || stream == 1 ? STDOUT_FILENO : STDERR_FILENO, data, n);
            };
            if (in) {
                a.input_fd = STDIN_FILENO;
                a.on_input = [&in](short) {
                    char buf[4096];
                    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
                    if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        return engine::InputStep::more;
                    if (n <= 0) return engine::InputStep::ended;
                    return in->forward(std::string_view(buf, static_cast<std::size_t>(n)))
                               ? engine::InputStep::more
                               : engine::InputStep::detached;
                };
            }
            switch (engine::attach(s, a)) {
            case engine::AttachEnd::detached:
                raw.restore(); // the terminal back first
                std::fputs("read escape sequence\n", stderr);
                return 1;
            case engine::AttachEnd::gone:
                return 1;
            case engine::AttachEnd::no_output:
                throw Error(Errc::not_found, "container " + s.name + " has no output file",
                            "it was removed while attaching");
            case engine::AttachEnd::ended:
                break;
            }
            try {
                return states.get(s.id).exit_code;
            } catch (const Error&) {
                return 0; // removed as it ended (--rm): docker's status is not kept
            }
        };
    });
}

} // namespace gantry::cli
