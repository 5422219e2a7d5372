// runtime/thread_confinement: a thread of gantry that parses hostile input (the squashfs FUSE
// server, sqsh/server.hpp) confined on its own: no capabilities (effective, permitted,
// inheritable, ambient, bounding), no_new_privs, and a seccomp filter that allows only the
// system calls it names; any other fails with EPERM, so code an attacker took over in that thread
// cannot open, exec, mount, ptrace or connect, even in a gantry that runs as root. All of these
// belong to the calling thread only (capabilities and no_new_privs are per task, and a filter
// loaded without TSYNC applies to its thread): the process's other threads keep theirs.
//
// Not a process boundary: the thread shares the process's memory, so a memory corruption there
// could still reach the other threads' data; the reader's own bounds (sqsh/image.hpp) and the
// fuzzing are the first line, this the second.
#pragma once

#include <linux/filter.h>
#include <string>
#include <vector>

namespace gantry::runtime {

// The filter allowing SYSCALLS (names, as libseccomp knows them) and nothing else (EPERM),
// compiled with libseccomp (dlopen; Error(unsupported) naming the package when it is missing).
// Compile before starting the thread: confine_this_thread only loads it.
std::vector<sock_filter> confinement_program(const std::vector<std::string>& syscalls);

// Confines the calling thread: drops every capability, sets no_new_privs, loads PROGRAM.
// Throws Error(run_failed) naming the step that failed.
void confine_this_thread(const std::vector<sock_filter>& program);

} // namespace gantry::runtime
