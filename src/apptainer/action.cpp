#include "apptainer/action.hpp"

#include "apptainer/sandbox.hpp"
#include "engine/apptainer_run.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "rootfs/dir_files.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <pwd.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

extern char** environ;

namespace gantry::apptainer {

namespace {

// Apptainer's SetContainerEnv (internal/pkg/util/env/create.go): alwaysPassKeys pass even with
// --cleanenv; alwaysOmitKeys never pass (HOME and PATH are set by the run itself)
constexpr std::array<std::string_view, 11> kAlwaysPass = {
    "TERM",     "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy",
    "NO_PROXY", "all_proxy",  "ALL_PROXY",  "ftp_proxy",   "FTP_PROXY"};
constexpr std::array<std::string_view, 7> kAlwaysOmit = {"HOME",
                                                         "PATH",
                                                         "APPTAINER_SHELL",
                                                         "APPTAINER_APPNAME",
                                                         "SINGULARITY_SHELL",
                                                         "SINGULARITY_APPNAME",
                                                         "LD_LIBRARY_PATH"};

// The working directories Apptainer does not bind (container_linux.go, createCwdDir): the
// operating system's own directories and the virtual file systems
bool apptainer_system_dir(const std::string& dir) {
    static constexpr std::array<std::string_view, 10> os = {
        "/", "/etc", "/bin", "/mnt", "/usr", "/var", "/opt", "/sbin", "/lib", "/lib64"};
    if (std::find(os.begin(), os.end(), dir) != os.end()) return true;
    return dir.starts_with("/sys") || dir.starts_with("/proc") || dir.starts_with("/dev");
}

bool apptainer_under(const std::string& path, const std::string& dir) {
    if (dir == "/") return true;
    return path == dir ||
           (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

std::string apptainer_clean(const std::string& path) {
    return fs::stdfs::path(path).lexically_normal().string();
}

void apptainer_absolute(const std::string& path, const std::string& flag) {
    if (path.empty() || path[0] != '/')
        throw Error(Errc::usage, flag + " " + path + ": not an absolute path",
                    "give the path from /");
}

bool apptainer_is_dir(const std::string& path) {
    std::error_code ec;
    return fs::stdfs::is_directory(path, ec);
}

std::vector<std::string> apptainer_split(std::string_view s, char sep) {
    std::vector<std::string> out;
    for (auto part : text::split(s, sep)) out.emplace_back(part);
    return out;
}

std::string apptainer_getenv(const std::vector<std::string>& environ, std::string_view name) {
    for (const auto& e : environ)
        if (e.size() > name.size() && e.starts_with(name) && e[name.size()] == '=')
            return e.substr(name.size() + 1);
    return {};
}

// Go's strconv.ParseBool, as Apptainer reads a boolean flag's environment twin
bool apptainer_bool(const std::string& name, const std::string& value) {
    for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
        if (value == t) return true;
    for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
        if (value == f) return false;
    throw Error(Errc::usage, name + "=" + value + ": not a boolean",
                "set it to 1 or 0 (true or false), or unset it");
}

} // namespace

Flags with_environment(Flags f, const std::vector<std::string>& environ) {
    // APPTAINER_KEY, else SINGULARITY_KEY: the first key of a flag that is set
    std::string name;
    auto twin = [&](const std::vector<const char*>& keys) {
        for (const char* prefix : {"APPTAINER_", "SINGULARITY_"})
            for (const char* key : keys) {
                name = std::string(prefix) + key;
                if (auto v = apptainer_getenv(environ, name); !v.empty()) return v;
            }
        return std::string();
    };
    struct BoolTwin {
        bool Flags::*flag;
        std::vector<const char*> keys;
    };
    static const std::vector<BoolTwin> bools = {{&Flags::contain, {"CONTAIN"}},
                                                {&Flags::containall, {"CONTAINALL"}},
                                                {&Flags::cleanenv, {"CLEANENV"}},
                                                {&Flags::nv, {"NV"}},
                                                {&Flags::rocm, {"ROCM"}},
                                                {&Flags::no_home, {"NO_HOME"}},
                                                {&Flags::fakeroot, {"FAKEROOT"}},
                                                {&Flags::writable_tmpfs, {"WRITABLE_TMPFS"}},
                                                {&Flags::writable, {"WRITABLE"}},
                                                {&Flags::ipc, {"IPC", "UNSHARE_IPC"}},
                                                {&Flags::pid, {"PID", "UNSHARE_PID"}}};
    for (const auto& b : bools)
        if (!(f.*b.flag))
            if (auto v = twin(b.keys); !v.empty()) f.*b.flag = apptainer_bool(name, v);
    struct StringTwin {
        std::string Flags::*flag;
        std::vector<const char*> keys;
    };
    static const std::vector<StringTwin> strings = {{&Flags::home, {"HOME"}},
                                                    {&Flags::pwd, {"PWD", "TARGET_PWD"}},
                                                    {&Flags::hostname, {"HOSTNAME"}},
                                                    {&Flags::app, {"APP", "APPNAME"}}};
    for (const auto& t : strings)
        if ((f.*t.flag).empty()) f.*t.flag = twin(t.keys);
    if (f.env_files.empty())
        if (auto v = twin({"ENV_FILE"}); !v.empty()) f.env_files.push_back(v);
    if (f.overlay.empty())
        if (auto v = twin({"OVERLAY", "OVERLAYIMAGE"}); !v.empty()) f.overlay.push_back(v);
    // the twins of flags gantry does not take: said, not silently dropped
    for (const char* key :
         {"MOUNT",       "SCRATCH",  "SCRATCHDIR",     "WORKDIR",  "NETWORK",     "NETWORK_ARGS",
          "DNS",         "SECURITY", "NO_MOUNT",       "CWD",      "TARGET_CWD",  "NVCCLI",
          "CONTAINLIBS", "USERNS",   "UNSHARE_USERNS", "NET",      "UNSHARE_NET", "UTS",
          "UNSHARE_UTS", "NOENV",    "KEEP_PRIVS",     "NO_PRIVS", "ADD_CAPS",    "DROP_CAPS"})
        if (auto v = twin({key}); !v.empty())
            log::warn(name + " is set: gantry apptainer does not take that flag of Apptainer's, "
                             "and ignores it");
    return f;
}

const char* action_word(Action action) {
    switch (action) {
    case Action::run:
        return "run";
    case Action::exec:
        return "exec";
    case Action::shell:
        return "shell";
    case Action::test:
        return "test";
    case Action::instance_start:
        return "start";
    }
    return "run";
}

Host Host::current() {
    Host h;
    h.uid = ::geteuid();
    h.gid = ::getegid();
    if (const char* home = std::getenv("HOME"); home && *home)
        h.home = home;
    else if (const passwd* pw = ::getpwuid(h.uid); pw && pw->pw_dir)
        h.home = pw->pw_dir;
    std::error_code ec;
    h.cwd = fs::stdfs::current_path(ec).string();
    for (char** e = ::environ; e && *e; ++e) h.environ.emplace_back(*e);
    for (const gpu_vendors::Backend* b : gpu_vendors::backends())
        if (const std::string flag(b->apptainer_flag()); !flag.empty())
            if (b->present(gpu_vendors::Roots{})) h.gpu_flags_present.push_back(flag);
    h.localtime = ::access("/etc/localtime", R_OK) == 0;
    return h;
}

std::vector<std::string> bind_volumes(const std::string& value) {
    std::vector<std::string> out;
    for (const auto& spec : apptainer_split(value, ',')) {
        auto parts = apptainer_split(spec, ':');
        if (spec.empty() || parts.size() > 3)
            throw Error(Errc::usage, "--bind \"" + spec + "\": not SRC[:DST[:OPTS]]",
                        "write -B SRC, -B SRC:DST or -B SRC:DST:ro (a comma between binds)");
        std::string src = parts[0], dst = parts.size() > 1 ? parts[1] : parts[0];
        std::string opts = parts.size() > 2 ? parts[2] : "rw";
        apptainer_absolute(src, "--bind");
        apptainer_absolute(dst, "--bind");
        if (opts != "ro" && opts != "rw")
            throw Error(Errc::usage,
                        "--bind " + spec + ": gantry takes the options ro and rw, not \"" + opts +
                            "\"",
                        "image binds (image-src=, id=) are not supported: bind a host path");
        out.push_back(src + ":" + dst + (opts == "ro" ? ":ro" : ""));
    }
    return out;
}

std::vector<std::string> env_pairs(const std::string& value) {
    std::vector<std::string> out;
    for (const auto& pair : apptainer_split(value, ',')) {
        auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(Errc::usage, "--env \"" + pair + "\" must be formatted as key=value",
                        "--env NAME=VALUE (several: --env A=1,B=2)");
        out.push_back(pair);
    }
    return out;
}

std::vector<std::string> env_file_pairs(const std::string& path) {
    std::string text;
    try {
        text = fs::read_file(path, 1u << 20);
    } catch (const Error& e) {
        throw Error(Errc::usage, "--env-file " + path + ": " + e.message(),
                    "give a readable file of NAME=VALUE lines");
    }
    std::vector<std::string> out;
    int number = 0;
    for (auto line : apptainer_split(text, '\n')) {
        ++number;
        auto where = "--env-file " + path + ":" + std::to_string(number);
        line = std::string(text::trim(line));
        if (line.empty() || line[0] == '#') continue;
        if (line.starts_with("export ")) line = std::string(text::trim(line.substr(7)));
        auto eq = line.find('=');
        std::string name = line.substr(0, eq);
        bool name_ok = eq != std::string::npos && !name.empty() &&
                       !std::isdigit(static_cast<unsigned char>(name[0])) &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                       });
        if (!name_ok)
            throw Error(Errc::usage, where + ": not NAME=VALUE",
                        "write one NAME=VALUE per line (Apptainer evaluates the file as shell; "
                        "gantry reads these lines only)");
        std::string value = line.substr(eq + 1);
        // what needs no shell: a bare word, '...' without a quote, "..." without $ ` \ "
        const char* forbidden = "$`\\\"' \t;&|<>(){}*?[~";
        if (value.size() >= 2 && value[0] == '\'' && value.back() == '\'') {
            value = value.substr(1, value.size() - 2);
            forbidden = "'";
        } else if (value.size() >= 2 && value[0] == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
            forbidden = "$`\\\"";
        }
        if (value.find_first_of(forbidden) != std::string::npos)
            throw Error(Errc::usage,
                        where + ": the value needs a shell to be read (an expansion, a quote "
                                "inside, a space outside quotes)",
                        "Apptainer evaluates the file as shell; gantry reads NAME=VALUE, "
                        "VALUE bare or quoted whole: set this one with --env");
        out.push_back(name + "=" + value);
    }
    return out;
}

std::vector<std::string> overlay_directories(const std::vector<std::string>& values,
                                             const std::string& cwd, bool writable_tmpfs,
                                             bool writable) {
    std::vector<std::string> out;
    std::string writable_one;
    for (const auto& value : values) {
        // Apptainer splits at the first ':' (strings.SplitN(path, ":", 2)); only "ro" reads
        auto colon = value.find(':');
        std::string path = value.substr(0, colon);
        const bool ro = colon != std::string::npos && value.substr(colon + 1) == "ro";
        if (path.empty())
            throw Error(Errc::usage, "--overlay " + value + ": no directory",
                        "--overlay DIR (writable) or --overlay DIR:ro");
        if (path[0] != '/') path = (cwd.empty() ? std::string("/") : cwd + "/") + path;
        path = apptainer_clean(path);
        if (path == "/")
            throw Error(Errc::usage, "--overlay /: the host's root as an overlay",
                        "give a directory of its own: mkdir DIR; --overlay DIR");
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            throw_errno("failed to open overlay image " + path,
                        "make the overlay directory first: mkdir -p " + path);
        if (!S_ISDIR(st.st_mode))
            throw Error(Errc::usage,
                        "--overlay " + path +
                            ": an overlay image (an ext3 or squashfs file, Apptainer's `overlay "
                            "create`): gantry lays overlay directories only",
                        "use a directory: mkdir DIR; gantry apptainer exec --overlay DIR ...");
        if (writable)
            throw Error(Errc::usage, "cannot use --overlay in conjunction with --writable",
                        "--writable writes into the sandbox itself: drop one of them");
        bool rw = !ro;
        if (rw && ::access(path.c_str(), W_OK) != 0) {
            log::warn("Overlay image " + path + " is not writable, proceeding with read-only");
            rw = false;
        }
        if (rw && !writable_one.empty())
            throw Error(Errc::usage,
                        "you can't specify more than one writable overlay, " + writable_one +
                            " contains a writable overlay, requires to use '--overlay " + path +
                            ":ro'",
                        "add :ro to all overlays but one");
        if (rw) writable_one = path;
        out.push_back(rw ? path : path + ":ro");
    }
    if (writable_tmpfs && !writable_one.empty())
        throw Error(Errc::usage,
                    "you can't specify --writable-tmpfs with another writable overlay image (" +
                        writable_one + ")",
                    "drop --writable-tmpfs, or add :ro to the overlay");
    return out;
}

std::vector<std::string> passed_environment(const std::vector<std::string>& environ,
                                            bool cleanenv) {
    std::vector<std::string> out;
    if (cleanenv) out.push_back("LANG=C");
    for (const auto& e : environ) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        std::string_view name(e.data(), eq);
        bool pass = std::find(kAlwaysPass.begin(), kAlwaysPass.end(), name) != kAlwaysPass.end();
        if (!pass) {
            if (cleanenv) continue;
            if (std::find(kAlwaysOmit.begin(), kAlwaysOmit.end(), name) != kAlwaysOmit.end())
                continue;
            // Apptainer's own settings and the APPTAINERENV_ ones (the engine applies those)
            if (name.starts_with("APPTAINER") || name.starts_with("SINGULARITY")) continue;
        }
        out.push_back(e);
    }
    return out;
}

engine::RunRequest request(Action action, const Flags& flags, const Host& host,
                           const std::string& image, const std::vector<std::string>& args,
                           const std::string& name) {
    const Flags f = with_environment(flags, host.environ);
    if (!f.shell.empty() && action != Action::shell)
        throw Error(Errc::usage, "--shell applies to gantry apptainer shell", "drop --shell");
    engine::RunRequest r;
    r.apptainer_action = action_word(action);
    // docker://REF: the registry image, pulled into the store when missing (Apptainer converts
    // it to a SIF in its cache); Apptainer's other sources are pull's
    r.image = image.starts_with("docker://") ? image.substr(9) : image;
    if (auto scheme = image.find("://");
        scheme != std::string::npos && !image.starts_with("docker://"))
        throw Error(
            Errc::usage, image.substr(0, scheme) + ":// images are not run directly by gantry",
            "pull it first (gantry apptainer pull FILE.sif " + image + "), then run FILE.sif");
    r.command = args;
    const bool contain = f.contain || f.containall;
    const bool cleanenv = f.cleanenv || f.containall;
    if (action == Action::instance_start) {
        r.detach = true;
        r.rm = true; // `instance stop` removes it, as Apptainer's
        r.name = name;
        r.labels.push_back("org.apptainer.instance=" + name);
    } else {
        r.rm = true;
    }
    // namespaces: the host's, but those asked for (instances have their own PID namespace)
    r.network = "host";
    r.pid = f.pid || f.containall || action == Action::instance_start ? "private" : "host";
    r.ipc = f.ipc || f.containall ? "private" : "host";
    r.uts = f.hostname.empty() ? "host" : "";
    r.hostname = f.hostname;
    r.userns = f.fakeroot ? "auto" : "keep-id";
    if (f.writable && f.writable_tmpfs)
        throw Error(Errc::usage, "--writable and --writable-tmpfs",
                    "give one: --writable writes into a sandbox directory, --writable-tmpfs "
                    "into memory");
    r.apptainer_writable = f.writable;
    r.apptainer_overlays = overlay_directories(f.overlay, host.cwd, f.writable_tmpfs, f.writable);
    const bool writable_overlay =
        std::any_of(r.apptainer_overlays.begin(), r.apptainer_overlays.end(),
                    [](const std::string& o) { return !o.ends_with(":ro"); });
    r.read_only = !f.writable_tmpfs && !f.writable && !writable_overlay;
    // Apptainer's writable tmpfs is its session directory: 64 MiB (apptainer.conf's
    // "sessiondir max size", pkg/util/apptainerconf/config.go)
    if (f.writable_tmpfs) r.writable_layer = "memory:64m";

    // the home directory: its source and where it appears
    std::string home_src = host.home, home_dst = host.home;
    const bool custom_home = !f.home.empty();
    if (custom_home) {
        auto parts = apptainer_split(f.home, ':');
        if (parts.size() > 2)
            throw Error(Errc::usage, "--home " + f.home + ": not SRC[:DST]",
                        "--home /path, or --home /host/path:/container/path");
        home_src = parts[0];
        home_dst = parts.size() > 1 ? parts[1] : parts[0];
        apptainer_absolute(home_src, "--home");
        apptainer_absolute(home_dst, "--home");
        if (f.no_home) throw Error(Errc::usage, "--home and --no-home", "give one of them");
    } else if (f.fakeroot) {
        home_dst = "/root";
    }
    if (home_dst.empty()) home_dst = "/";
    home_src = apptainer_clean(home_src);
    home_dst = apptainer_clean(home_dst);

    // the default binds, in Apptainer's order, then the user's
    std::vector<std::string> same_path; // host directories bound at their own path
    if (!contain) {
        r.volumes.push_back("/dev:/dev");
        for (const char* tmp : {"/tmp", "/var/tmp"})
            if (apptainer_is_dir(tmp)) {
                r.volumes.push_back(std::string(tmp) + ":" + tmp);
                same_path.push_back(tmp);
            }
    } else {
        r.tmpfs.push_back("/tmp");
        r.tmpfs.push_back("/var/tmp");
    }
    if (!f.no_home && home_dst != "/") {
        if (contain && !custom_home) {
            r.tmpfs.push_back(home_dst); // a home of its own, empty
        } else if (!custom_home && !apptainer_is_dir(home_src)) {
            log::warn("the home directory " + home_src +
                      " is not a directory here: not bound (--home SRC names another)");
        } else {
            r.volumes.push_back(home_src + ":" + home_dst);
            if (home_src == home_dst) same_path.push_back(home_src);
        }
    }
    if (host.localtime) r.volumes.push_back("/etc/localtime:/etc/localtime:ro");
    std::vector<std::string> user_binds;
    for (const char* var :
         {"APPTAINER_BIND", "APPTAINER_BINDPATH", "SINGULARITY_BIND", "SINGULARITY_BINDPATH"})
        if (auto v = apptainer_getenv(host.environ, var); !v.empty())
            for (auto& b : bind_volumes(v)) user_binds.push_back(b);
    for (const auto& value : f.bind)
        for (auto& b : bind_volumes(value)) user_binds.push_back(b);
    for (const auto& b : user_binds) {
        auto parts = apptainer_split(b, ':');
        if (parts[0] == parts[1]) same_path.push_back(apptainer_clean(parts[0]));
    }
    const std::string cwd = host.cwd.empty() ? std::string() : apptainer_clean(host.cwd);
    const bool cwd_bound =
        std::any_of(same_path.begin(), same_path.end(),
                    [&](const std::string& d) { return apptainer_under(cwd, d); });
    if (!contain && !cwd.empty() && !apptainer_system_dir(cwd) && !cwd_bound)
        r.volumes.push_back(cwd + ":" + cwd);
    r.volumes.insert(r.volumes.end(), user_binds.begin(), user_binds.end());
    if (f.writable && is_sandbox(r.image)) {
        // Apptainer makes no mount point in an image it writes in place: a bind whose
        // destination the sandbox lacks is skipped with its warning (container_linux.go,
        // mountGeneric)
        rootfs::DirFiles files(r.image);
        std::vector<std::string> kept;
        for (const auto& v : r.volumes) {
            auto parts = apptainer_split(v, ':');
            if (files.has(parts.at(1).substr(1))) {
                kept.push_back(v);
                continue;
            }
            log::warn("Skipping mount " + parts[0] + ": " + parts[1] +
                      " doesn't exist in container (--writable makes no mount point in " + r.image +
                      ")");
        }
        r.volumes = std::move(kept);
    }

    // where it starts
    if (!f.pwd.empty()) {
        apptainer_absolute(f.pwd, "--pwd");
        r.workdir = f.pwd;
    } else {
        r.workdir = contain || cwd.empty() ? home_dst : cwd;
    }

    // the environment: the caller's under the image's; then APPTAINERENV_, --env-file, --env
    r.apptainer_host_env = passed_environment(host.environ, cleanenv);
    std::vector<const char*> env_ptrs;
    for (const auto& e : host.environ) env_ptrs.push_back(e.c_str());
    env_ptrs.push_back(nullptr);
    r.apptainer_env = engine::apptainer_env_from(env_ptrs.data());
    r.env.push_back("HOME=" + home_dst);
    for (const auto& file : f.env_files)
        for (auto& e : env_file_pairs(file)) r.env.push_back(e);
    for (const auto& value : f.env)
        for (auto& e : env_pairs(value)) r.env.push_back(e);
    if (!f.shell.empty()) r.env.push_back("SINGULARITY_SHELL=" + f.shell);
    // --app: the SCIF app, as Apptainer's launcher sets it (APPNAME under both prefixes); its
    // directory, environment and scripts (runscript, test, instance start's startscript: its
    // %appstart) are the action script's (sif::action_entrypoint)
    if (!f.app.empty()) {
        if (f.app == "." || f.app == ".." ||
            f.app.find_first_of("/ \t\n\"'$`\\") != std::string::npos)
            throw Error(Errc::usage, "--app " + f.app + ": not an app's name",
                        "gantry apptainer inspect --list-apps IMAGE lists them");
        r.env.push_back("SINGULARITY_APPNAME=" + f.app);
        r.env.push_back("APPTAINER_APPNAME=" + f.app);
    }

    // GPUs: a flag whose driver this host lacks warns and runs without, as Apptainer's
    for (auto [asked, flag, files] :
         {std::tuple{f.nv, "--nv", "nv"}, std::tuple{f.rocm, "--rocm", "rocm"}}) {
        if (!asked) continue;
        if (std::find(host.gpu_flags_present.begin(), host.gpu_flags_present.end(), flag) !=
            host.gpu_flags_present.end())
            r.apptainer_gpu_flags[flag] = true;
        else
            log::warn(std::string("Could not find any ") + files + " files on this host! (" + flag +
                      ": no driver found, running without GPUs, as Apptainer does)");
    }
    return r;
}

} // namespace gantry::apptainer
