#include "cli/context.hpp"
#include "cli/registry_flags.hpp"
#include "registry/auth.hpp"
#include "registry/client.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <cstdio>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

namespace gantry::cli {

namespace {

// "https://host:5000/v2/" -> "host:5000"; "" -> "docker.io"
std::string registry_domain(std::string s) {
    for (std::string_view scheme : {"https://", "http://"})
        if (s.starts_with(scheme)) s.erase(0, scheme.size());
    if (auto slash = s.find('/'); slash != std::string::npos) s.resize(slash);
    if (s.empty() || s == "index.docker.io" || s == "registry-1.docker.io") return "docker.io";
    if (s.find_first_of(" \t@") != std::string::npos)
        throw Error(Errc::usage, "\"" + s + "\" is not a registry host",
                    "give HOST[:PORT], for example registry.example.com:5000");
    return s;
}

// Reads a line from the terminal, without echo when secret.
std::string prompt(const char* label, bool secret) {
    Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC));
    if (!tty)
        throw Error(Errc::usage, std::string("no terminal to ask for the ") + label,
                    "give --username and --password-stdin");
    std::string q = std::string(label) + ": ";
    (void)!::write(tty.get(), q.data(), q.size());
    termios old{};
    bool restore = secret && ::tcgetattr(tty.get(), &old) == 0;
    if (restore) {
        termios t = old;
        t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(tty.get(), TCSAFLUSH, &t);
    }
    std::string line;
    char c;
    while (::read(tty.get(), &c, 1) == 1 && c != '\n') line += c;
    if (restore) {
        ::tcsetattr(tty.get(), TCSAFLUSH, &old);
        (void)!::write(tty.get(), "\n", 1);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

} // namespace

void register_login(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string server, username, password;
        bool password_stdin = false, all = false;
        RegistryFlags reg;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "login", "Log in to a registry (credentials are verified, then stored with mode 0600)");
    cmd->add_option("registry", o->server, "HOST[:PORT] (default: docker.io)");
    cmd->add_option("-u,--username", o->username, "User name (asked when missing)");
    cmd->add_option("-p,--password", o->password,
                    "Password (visible in the process list: prefer --password-stdin)");
    cmd->add_flag("--password-stdin", o->password_stdin, "Read the password from standard input");
    add_registry_flags(cmd, o->reg, false);
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            std::string domain = registry_domain(o->server);
            if (o->password_stdin && !o->password.empty())
                throw Error(Errc::usage, "--password and --password-stdin are mutually exclusive",
                            "give one of them");
            if (o->username.empty()) {
                if (o->password_stdin)
                    throw Error(Errc::usage, "--password-stdin needs --username", "add -u USER");
                o->username = prompt("Username", false);
            }
            if (o->username.empty()) throw Error(Errc::usage, "no user name given", "pass -u USER");
            if (o->password_stdin) {
                std::string all = fs::read_stream(STDIN_FILENO, 64 * 1024, "standard input");
                o->password = text::trim_right(all, "\r\n");
            } else if (o->password.empty()) {
                o->password = prompt("Password", true);
            }
            if (o->password.empty())
                throw Error(Errc::usage, "empty password",
                            "give the password on standard input with --password-stdin");
            auto co = client_options(o->reg);
            co.creds = registry::Credentials{o->username, o->password, "the command line"};
            co.retries = 1;
            registry::Client client(domain, co);
            client.login_check();
            registry::store_credentials(domain, *co.creds, o->reg.authfile);
            if (!ctx.quiet)
                std::fprintf(stderr, "credentials stored in %s\n",
                             o->reg.authfile.empty() ? registry::gantry_auth_file().c_str()
                                                     : o->reg.authfile.c_str());
            std::printf("Login Succeeded!\n");
            return 0;
        };
    });

    auto* out = app.add_subcommand("logout", "Remove the stored credentials of a registry");
    out->add_option("registry", o->server, "HOST[:PORT] (default: docker.io)");
    out->add_flag("-a,--all", o->all, "Remove the credentials of every registry");
    out->add_option("--authfile", o->reg.authfile, "Auth file to use instead of gantry's");
    out->callback([&ctx, o] {
        ctx.action = [o] {
            if (o->all) {
                auto n = registry::remove_all_credentials(o->reg.authfile);
                std::printf("Removed the credentials of %zu registr%s\n", n, n == 1 ? "y" : "ies");
                return 0;
            }
            std::string domain = registry_domain(o->server);
            if (registry::remove_credentials(domain, o->reg.authfile)) {
                std::printf("Removed login credentials for %s\n", domain.c_str());
                return 0;
            }
            std::optional<registry::Credentials> c;
            try { // only for the message: a broken credential helper must not change the answer
                c = registry::find_credentials(domain);
            } catch (const Error&) {
            }
            if (c)
                throw Error(
                    Errc::not_found,
                    "gantry holds no credentials for " + domain + "; the ones in use come from " +
                        c->source + ", which gantry only reads",
                    "remove them with the tool that wrote them (docker logout / podman logout " +
                        domain + ")");
            throw Error(Errc::not_found, "not logged in to " + domain,
                        "`gantry login " + domain + "` stores credentials");
        };
    });
}

} // namespace gantry::cli
