// sandbox/thread_confinement: the code of gantry that parses hostile input (the squashfs FUSE
// server, fuse/server.hpp: a process forked for it) confined: root's ids given up for nobody's,
// no capabilities (effective, permitted, inheritable, ambient, bounding), no_new_privs, and a
// seccomp filter that allows only the system calls it names; any other fails with EPERM, so code
// an attacker took over there cannot open, exec, mount, ptrace or connect, even when gantry runs
// as root. Capabilities, no_new_privs and a filter loaded without TSYNC belong to the calling
// thread: call it in a process of its own (one thread), so that no other thread of it keeps
// anything (a thread would still share gantry's memory). The reader's own bounds
// (sqsh/image.hpp) and the fuzzing are the first line, this the second.
#pragma once

#include <functional>
#include <linux/filter.h>
#include <string>
#include <vector>

namespace gantry::sandbox {

// The filter allowing SYSCALLS (names, as libseccomp knows them) and nothing else (EPERM),
// compiled with libseccomp (dlopen; Error(unsupported) naming the package when it is missing).
// Compile before starting the thread: confine_this_thread only loads it.
std::vector<sock_filter> confinement_program(const std::vector<std::string>& syscalls);

// Confines the calling thread: as root, becomes nobody (65534, no supplementary groups); drops
// every capability, sets no_new_privs, loads PROGRAM. A parent-death signal the thread had
// (PR_SET_PDEATHSIG, which the change of ids clears) is set again, and Error(run_failed) if the
// parent ended before it was.
// Throws Error(run_failed) naming the step that failed.
void confine_this_thread(const std::vector<sock_filter>& program);

// What a confined process calls first: confine_this_thread with the program of SYSCALLS, a list
// that lives as long as the process (a function's static list: fuse::Server::syscalls(),
// lazy::server_calls()). Compiled here, in the caller, before it forks (compiling allocates),
// once per list and process. Every door that serves a tree over FUSE confines its server so.
std::function<void()> confinement(const std::vector<std::string>& syscalls);

} // namespace gantry::sandbox
