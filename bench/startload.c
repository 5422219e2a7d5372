// The loaded mode of bench/run.sh (issue 21, "Start cost on a busy machine"): busy loops that
// stand in for the other work of a busy node, a batch of concurrent starts that hyperfine can
// time as one command, and the accounting of the processes a start leaves behind.
//
//   startload spin N               N busy loops, pinned nowhere, until this process is
//                                  terminated (SIGTERM/SIGINT/SIGHUP): then it prints how much
//                                  CPU they got. Each loop dies with this process (even by
//                                  SIGKILL: PR_SET_PDEATHSIG), and this one with its parent.
//   startload batch N CMD [ARG...] N concurrent starts of CMD, as a Slurm step starts its tasks:
//                                  N children are forked first and held at a gate, then all
//                                  exec CMD at once; waits for all of them and for whatever
//                                  they leave behind (it is a child subreaper: a runtime's
//                                  keeper that outlives the runtime is reparented to us), up to
//                                  $STARTLOAD_LINGER_MS (5000) after the last of them. So the
//                                  wall time is the whole batch's, and the CPU time hyperfine
//                                  reads (the children's rusage) is everything the batch ran.
//                                  Exit status: 0, or the first failing start's (128+N: signal).
//   startload repeat N CMD [ARG...] runs CMD N times, one after the other (bench/startcpu.py
//                                  traces such a loop). Exit status: the first failure's.
//   startload reap LOG CMD [ARG...] runs CMD (hyperfine) as a child subreaper: the processes a
//                                  timed command leaves behind (a keeper that outlives gantry
//                                  or the floor) are reparented to us instead of init, and we
//                                  append "COMM<TAB>CPU_US" for each to LOG when reaping it,
//                                  so their CPU can be added to the row that left them.
//                                  Exit status: CMD's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested, alarm_rang;

static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}
static void on_alarm(int sig) {
    (void)sig;
    alarm_rang = 1;
}

static void die(const char* what) {
    fprintf(stderr, "startload: %s: %s\n", what, strerror(errno));
    exit(125);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long cpu_us(const struct rusage* ru) {
    return (long)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000L + ru->ru_utime.tv_usec +
           ru->ru_stime.tv_usec;
}

static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Dies with our parent (the script that started us), whatever kills it.
static void die_with_parent(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0); // it died before the line above
}

static int spin(int n) {
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    die_with_parent(getppid());
    pid_t self = getpid();
    pid_t* loops = calloc((size_t)n, sizeof *loops);
    if (!loops) die("calloc");
    for (int i = 0; i < n; ++i) {
        loops[i] = fork();
        if (loops[i] < 0) die("fork");
        if (loops[i] == 0) {
            die_with_parent(self);
            sigprocmask(SIG_SETMASK, &old, NULL);
            signal(SIGTERM, SIG_DFL);
            for (volatile unsigned long x = 0;; ++x) {
            }
        }
    }
    double t0 = now_s();
    while (!stop_requested) sigsuspend(&old);
    double wall = now_s() - t0;
    long total = 0;
    for (int i = 0; i < n; ++i) {
        kill(loops[i], SIGKILL);
        struct rusage ru;
        int st;
        while (wait4(loops[i], &st, 0, &ru) < 0 && errno == EINTR) {
        }
        total += cpu_us(&ru);
    }
    printf("%d busy loops ran %.1f s and got %.2f s of CPU: %.2f CPUs\n", n, wall, total / 1e6,
           wall > 0 ? total / 1e6 / wall : 0.0);
    return 0;
}

// Reaps children until none is left or the linger timer rang; returns how many were reaped.
static int reap_rest(long linger_ms) {
    struct sigaction sa = {.sa_handler = on_alarm}; // no SA_RESTART: wait4 returns EINTR
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {linger_ms / 1000, (linger_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    int reaped = 0, st;
    while (!alarm_rang && waitpid(-1, &st, __WALL) > 0) ++reaped;
    if (alarm_rang) {
        fprintf(stderr, "startload: processes left behind still ran %ld ms after the batch\n",
                linger_ms);
    }
    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
    return reaped;
}

static long linger_ms(void) {
    const char* v = getenv("STARTLOAD_LINGER_MS");
    return v && *v ? atol(v) : 5000;
}

static int batch(int n, char** cmd) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("PR_SET_CHILD_SUBREAPER");
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) != 0) die("pipe");
    pid_t* kids = calloc((size_t)n, sizeof *kids);
    if (!kids) die("calloc");
    for (int i = 0; i < n; ++i) {
        kids[i] = fork();
        if (kids[i] < 0) die("fork");
        if (kids[i] == 0) {
            close(gate[1]);
            char c;
            while (read(gate[0], &c, 1) < 0 && errno == EINTR) { // EOF: the gate opens
            }
            execvp(cmd[0], cmd);
            fprintf(stderr, "startload: cannot run %s: %s\n", cmd[0], strerror(errno));
            _exit(127);
        }
    }
    close(gate[1]); // all of them go at once
    int left = n, status = 0, st;
    while (left > 0) {
        pid_t p = waitpid(-1, &st, __WALL);
        if (p < 0) {
            if (errno == EINTR) continue;
            die("waitpid");
        }
        for (int i = 0; i < n; ++i)
            if (kids[i] == p) {
                --left;
                if (exit_code(st) != 0 && status == 0) status = exit_code(st);
            }
    }
    reap_rest(linger_ms());
    return status;
}

static int repeat(int n, char** cmd) {
    int status = 0;
    for (int i = 0; i < n; ++i) {
        pid_t p = fork();
        if (p < 0) die("fork");
        if (p == 0) {
            execvp(cmd[0], cmd);
            fprintf(stderr, "startload: cannot run %s: %s\n", cmd[0], strerror(errno));
            _exit(127);
        }
        int st;
        while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
        }
        if (exit_code(st) != 0 && status == 0) status = exit_code(st);
    }
    return status;
}

static int reap(const char* log_path, char** cmd) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("PR_SET_CHILD_SUBREAPER");
    FILE* log = fopen(log_path, "a");
    if (!log) die(log_path);
    pid_t main_pid = fork();
    if (main_pid < 0) die("fork");
    if (main_pid == 0) {
        fclose(log);
        execvp(cmd[0], cmd);
        fprintf(stderr, "startload: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    struct sigaction sa = {.sa_handler = on_alarm}; // no SA_RESTART: waitid returns EINTR
    sigaction(SIGALRM, &sa, NULL);
    int status = -1;
    while (!alarm_rang) {
        siginfo_t si = {0};
        if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | __WALL) != 0) {
            if (errno == EINTR) continue;
            break; // ECHILD: nothing left
        }
        pid_t p = si.si_pid;
        char comm[64] = "?", path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)p);
        FILE* f = fopen(path, "r"); // a zombie's name is still there
        if (f) {
            if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
            fclose(f);
        }
        struct rusage ru;
        int st;
        if (wait4(p, &st, __WALL, &ru) != p) continue;
        if (p == main_pid) { // then what it left behind, for a while
            status = exit_code(st);
            long ms = linger_ms();
            struct itimerval it = {.it_value = {ms / 1000, (ms % 1000) * 1000}};
            setitimer(ITIMER_REAL, &it, NULL);
            continue;
        }
        fprintf(log, "%s\t%ld\n", comm, cpu_us(&ru));
    }
    if (alarm_rang)
        fprintf(stderr, "startload: processes left behind still ran after %s exited\n", cmd[0]);
    fclose(log);
    return status < 0 ? 125 : status;
}

static int count(const char* s) {
    char* end;
    long n = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || n < 1 || n > 100000) {
        fprintf(stderr, "startload: '%s' is not a count (1-100000)\n", s);
        exit(2);
    }
    return (int)n;
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "spin") == 0) return spin(count(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "batch") == 0) return batch(count(argv[2]), argv + 3);
    if (argc >= 4 && strcmp(argv[1], "repeat") == 0) return repeat(count(argv[2]), argv + 3);
    if (argc >= 4 && strcmp(argv[1], "reap") == 0) return reap(argv[2], argv + 3);
    fprintf(stderr, "usage: startload spin N | batch N CMD [ARG...] | repeat N CMD [ARG...] | "
                    "reap LOG CMD [ARG...]\n");
    return 2;
}
