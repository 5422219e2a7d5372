// trace_ips OUT PROGRAM [ARG...]: runs PROGRAM under ptrace, single-stepping it and every task
// it forks, vforks or clones, and appends to OUT the file offset of each distinct instruction
// executed inside PROGRAM's own text, in the order first executed, then a line "--". A task is
// left alone once it execs something else (the container's workload). tools/link_order.py turns
// the offsets into the function order gantry is linked with. A development tool: it slows the
// traced program down ~1000x and is not part of gantry.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS (1u << 22)

static uint64_t slot[SLOTS]; // offset + 1, 0 = empty
static uint64_t order[SLOTS];
static size_t count;

static void remember(uint64_t off) {
    uint64_t h = (off * 0x9E3779B97F4A7C15ull) >> 42;
    while (slot[h]) {
        if (slot[h] == off + 1) return;
        h = (h + 1) & (SLOTS - 1);
    }
    if (count >= SLOTS / 2) {
        fprintf(stderr, "trace_ips: more than %u distinct instructions\n", SLOTS / 2);
        exit(2);
    }
    slot[h] = off + 1;
    order[count++] = off;
}

// The executable mapping of `path` in `pid`: start, end and file offset.
static int text_mapping(pid_t pid, const char* path, uint64_t* lo, uint64_t* hi, uint64_t* off) {
    char maps[64], line[PATH_MAX + 128];
    snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
    FILE* f = fopen(maps, "r");
    if (!f) return -1;
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b, o;
        char perm[8];
        int name = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &a, &b, perm, &o, &name) < 4 || !name)
            continue;
        line[strcspn(line, "\n")] = 0;
        if (perm[2] == 'x' && strcmp(line + name, path) == 0) {
            *lo = a, *hi = b, *off = o;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: trace_ips OUT PROGRAM [ARG...]\n");
        return 2;
    }
    char exe[PATH_MAX];
    if (!realpath(argv[2], exe)) {
        fprintf(stderr, "trace_ips: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    pid_t child = fork();
    if (child < 0) return perror("fork"), 2;
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(exe, argv + 2);
        _exit(127);
    }
    int st;
    if (waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st))
        return fprintf(stderr, "trace_ips: no stop\n"), 2;
    ptrace(PTRACE_SETOPTIONS, child, 0,
           PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |
               PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, child, 0, 0);
    if (waitpid(child, &st, 0) < 0 || (st >> 16) != PTRACE_EVENT_EXEC)
        return fprintf(stderr, "trace_ips: %s did not start\n", exe), 2;
    uint64_t lo, hi, off;
    if (text_mapping(child, exe, &lo, &hi, &off) < 0)
        return fprintf(stderr, "trace_ips: no executable mapping of %s\n", exe), 2;

    int status = 0;
    long steps = 0;
    ptrace(PTRACE_SINGLESTEP, child, 0, 0);
    for (;;) {
        pid_t t = waitpid(-1, &st, __WALL);
        if (t < 0) break; // every task gone
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (t == child) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            continue;
        }
        int event = st >> 16, sig = WSTOPSIG(st);
        if (event == PTRACE_EVENT_EXEC) { // the workload: not gantry's code
            ptrace(PTRACE_DETACH, t, 0, 0);
            continue;
        }
        if (event || sig == SIGSTOP) { // a new task reported, or a new task's first stop
            ptrace(PTRACE_SINGLESTEP, t, 0, 0);
            continue;
        }
        if (sig == SIGTRAP) {
            struct user_regs_struct r;
            struct iovec io = {&r, sizeof r};
            if (ptrace(PTRACE_GETREGSET, t, NT_PRSTATUS, &io) == 0) {
#if defined(__x86_64__)
                uint64_t ip = r.rip;
#elif defined(__aarch64__)
                uint64_t ip = r.pc;
#else
#error "trace_ips: add this architecture's instruction pointer"
#endif
                if (ip >= lo && ip < hi) remember(ip - lo + off);
            }
            steps++;
            ptrace(PTRACE_SINGLESTEP, t, 0, 0);
            continue;
        }
        ptrace(PTRACE_SINGLESTEP, t, 0, sig); // deliver other signals
    }
    FILE* out = fopen(argv[1], "a");
    if (!out) return fprintf(stderr, "trace_ips: %s: %s\n", argv[1], strerror(errno)), 2;
    for (size_t i = 0; i < count; i++) fprintf(out, "%llx\n", (unsigned long long)order[i]);
    fprintf(out, "--\n");
    if (fclose(out)) return fprintf(stderr, "trace_ips: %s: %s\n", argv[1], strerror(errno)), 2;
    fprintf(stderr, "trace_ips: %ld steps, %zu distinct instructions, exit %d\n", steps, count,
            status);
    return status;
}
