// apptainer/action: Apptainer's actions as gantry runs them (`gantry apptainer run|exec|shell|
// test|instance start`, docs/apptainer.md "gantry apptainer"): Apptainer's flags and defaults,
// read as Apptainer 1.x reads them, turned into one engine::RunRequest that engine::execute runs
// as it runs every other door's. What Apptainer does by default and what gantry makes of it:
//
//   binds      $HOME, the working directory, /tmp, /var/tmp, /etc/localtime, /dev as bind mounts
//              (/proc, /sys and /etc/hosts are the host's in every gantry run of the host's PID
//              and network namespaces); --contain: a private home, /tmp, /var/tmp and /dev
//   identity   --userns keep-id: the caller's uid and gid inside; --fakeroot: root of a user
//              namespace (gantry run's default)
//   namespaces the host's PID, IPC, UTS and network namespaces, but for --pid, --ipc,
//              --containall, --hostname and instances (their own PID namespace)
//   root       read-only, but for --writable-tmpfs (a writable layer in memory) and
//              --writable of a sandbox directory (the directory itself, written in place; a
//              bind whose destination it lacks is left out with Apptainer's warning)
//   environment the caller's (less HOME, PATH, LD_LIBRARY_PATH and Apptainer's own), under the
//              image's; --cleanenv passes only TERM, the proxies and LANG=C
//   directory  the caller's working directory (--pwd: another one; --contain: the home)
//
// Everything a user writes is checked here and refused with Error(usage) naming the flag; the
// request then goes through engine::prepare's checks as gantry run's does.
#pragma once

#include "engine/run_request.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace gantry::apptainer {

enum class Action { run, exec, shell, test, instance_start };
// "run", "exec", "shell", "test", "start": RunRequest::apptainer_action's words
const char* action_word(Action action);

// Apptainer's flags of the actions, as written (cmd/internal/cli/action_flags.go)
struct Flags {
    std::vector<std::string> bind;            // -B/--bind SRC[:DST[:ro|rw]], comma-separated lists
    std::vector<std::string> env;             // --env K=V, comma-separated lists
    std::vector<std::string> env_files;       // --env-file FILE
    std::vector<std::string> overlay;         // -o/--overlay DIR[:ro] (overlay_directories)
    std::string home;                         // -H/--home SRC[:DST]
    std::string pwd;                          // --pwd DIR
    std::string hostname;                     // --hostname NAME
    std::string shell;                        // -s/--shell PROGRAM (shell action)
    std::string app;                          // --app NAME (a SCIF app)
    bool nv = false, rocm = false;            // --nv, --rocm
    bool writable_tmpfs = false;              // --writable-tmpfs
    bool writable = false;                    // -w/--writable (a sandbox directory)
    bool contain = false, containall = false; // -c/--contain, -C/--containall
    bool cleanenv = false;                    // -e/--cleanenv
    bool no_home = false;                     // --no-home
    bool fakeroot = false;                    // -f/--fakeroot
    bool ipc = false, pid = false;            // -i/--ipc, -p/--pid
};

// What an action reads of the process that asks for it.
struct Host {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;                 // $HOME, else the user's passwd entry's
    std::string cwd;                  // the working directory ("" when it cannot be read)
    std::vector<std::string> environ; // "K=V" entries
    // the --nv / --rocm flags whose vendor's driver this host has (the others warn and run)
    std::vector<std::string> gpu_flags_present;
    bool localtime = false; // /etc/localtime is there to bind
    static Host current();
};

// FLAGS with Apptainer's environment twins of its flags (action_flags.go's EnvKeys) for those
// the line does not give: APPTAINER_KEY, else SINGULARITY_KEY (CONTAIN, CONTAINALL, CLEANENV,
// NV, ROCM, NO_HOME, FAKEROOT, WRITABLE, WRITABLE_TMPFS, IPC, PID, HOME, PWD, HOSTNAME, ENV_FILE,
// OVERLAY; BIND is request()'s). Booleans as Go's ParseBool reads them (Error(usage) otherwise);
// the twins of flags gantry does not take are warned about.
Flags with_environment(Flags flags, const std::vector<std::string>& environ);

// The -o/--overlay values (PATH[:ro]) as RunRequest::apptainer_overlays ("DIR", "DIR:ro"),
// each PATH made absolute from CWD, with Apptainer's rules (prepare_linux.go,
// loadOverlayImages): at most one writable overlay ("you can't specify more than one writable
// overlay"), none with --writable, the writable one not with --writable-tmpfs; one the caller
// may not write is read only, with Apptainer's warning. Error(usage) for an overlay image file
// (ext3 or squashfs: gantry lays directories only) and for "/"; Error(not_found) for a missing
// PATH.
std::vector<std::string> overlay_directories(const std::vector<std::string>& values,
                                             const std::string& cwd, bool writable_tmpfs,
                                             bool writable);

// docker's -v entries (SRC:DST[:ro]) of one -B value: comma-separated SRC[:DST[:OPTS]] specs, DST
// SRC when left out, OPTS "ro" or "rw". Error(usage) naming the spec for an empty or relative
// path, or another option (Apptainer's image-src=, id=).
std::vector<std::string> bind_volumes(const std::string& value);

// --env's K=V pairs of one value (comma-separated, as pflag's stringToString reads it).
// Error(usage) for a pair without '=' or an empty name.
std::vector<std::string> env_pairs(const std::string& value);

// An --env-file's variables: KEY=VALUE lines (with `export ` before them, VALUE bare or quoted
// whole in '...' or "..." without $, ` or \ inside), blank lines and # comments. Apptainer
// evaluates the file as shell; a line that needs a shell (an expansion, a command, several
// quotings) is refused with Error(usage) naming FILE:LINE, as are unreadable files.
std::vector<std::string> env_file_pairs(const std::string& path);

// The caller's environment as Apptainer passes it in (internal/pkg/util/env/create.go): all but
// HOME, PATH, LD_LIBRARY_PATH and the APPTAINER_/SINGULARITY_ variables (APPTAINERENV_ ones are
// the engine's: RunRequest::apptainer_env); with CLEANENV only TERM and the proxy variables,
// and LANG=C.
std::vector<std::string> passed_environment(const std::vector<std::string>& environ, bool cleanenv);

// The request of ACTION of IMAGE with ARGS (run's, test's and instance start's: the script's
// arguments; exec's: the command; shell's: the shell's) under FLAGS, on HOST. NAME: the
// instance's. Warnings (a missing GPU driver) are logged here.
engine::RunRequest request(Action action, const Flags& flags, const Host& host,
                           const std::string& image, const std::vector<std::string>& args,
                           const std::string& name = {});

} // namespace gantry::apptainer
