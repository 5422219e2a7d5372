/* gantry-hold: the first process of a Slurm step's container (src/spank/container.h). It only
 * keeps the container's namespaces alive for the tasks that join them, so an image needs no
 * shell; built static, it runs in any image. It exits on SIGTERM or SIGINT (gantry rm). */
#include <signal.h>
#include <unistd.h>

static void done(int sig) {
    (void)sig;
    _exit(0);
}

int main(void) {
    signal(SIGTERM, done);
    signal(SIGINT, done);
    for (;;) pause();
}
