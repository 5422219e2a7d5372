// The parent's side of a running container (`run`, and `exec`'s process): the signals it
// forwards to the container, a terminal it proxies, and the wait for the exit status.
#pragma once

#include "runtime/detach_keys.hpp"

#include <signal.h>
#include <sys/types.h>

namespace gantry::runtime::detail {

// The signals gantry forwards to a container.
sigset_t forwarded_signals();

// The forwarded signals blocked for a scope (before the container process exists, so none is
// lost before supervise() waits for them), and the caller's mask restored at its end.
class ForwardedSignalsBlocked {
  public:
    // A forwarded signal that gantry's caller ignored (a shell's `gantry run ... &` ignores
    // SIGINT, nohup SIGHUP) is taken at its default action while blocked, so that the signalfd
    // sees it and passes it on, as docker's CLI does (Go's signal.Notify); restored after.
    ForwardedSignalsBlocked();
    ~ForwardedSignalsBlocked();
    ForwardedSignalsBlocked(const ForwardedSignalsBlocked&) = delete;
    ForwardedSignalsBlocked& operator=(const ForwardedSignalsBlocked&) = delete;
    const sigset_t& set() const { return set_; }

  private:
    sigset_t set_, old_, was_ignored_;
};

// Forwards the signals in `fwd` (blocked by the caller) to pid, proxies a terminal when
// pty_master >= 0 (raw mode on our stdin if it is a tty, window size on SIGWINCH), and returns
// the exit status of pid (128+N when killed by signal N). PROXY false (run --sig-proxy=false):
// the signals are taken and dropped instead of passed on, and the container goes on.
// KEYS (a terminal on both sides only: docker's detach keys): once they come, our terminal is
// restored, a process of its own session takes over reading the pty (its output dropped) so
// that PID runs on, and supervise returns at once with DETACHED set (PID is left unwaited).
int supervise(pid_t pid, const sigset_t& fwd, int pty_master, bool proxy = true,
              DetachKeys* keys = nullptr, bool* detached = nullptr);

} // namespace gantry::runtime::detail
