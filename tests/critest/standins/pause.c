/* A stand-in for Kubernetes' pause container (registry.k8s.io/pause): sleeps until SIGINT or
 * SIGTERM and exits 0, reaping whatever children it inherits as a PID namespace's first process.
 * Its name is "pause", as the real one's is: critest looks for `sleep` processes in a pod that
 * shares its PID namespace and must not find the pause. Built static by tests/critest/run.py;
 * not part of gantry. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void pause_stop(int sig) {
    (void)sig;
    _exit(0);
}

static void pause_reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction stop = {.sa_handler = pause_stop};
    struct sigaction reap = {.sa_handler = pause_reap, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGCHLD, &reap, NULL);
    for (;;) pause();
}
