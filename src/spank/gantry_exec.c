/* See gantry_exec.h. */
#define _GNU_SOURCE
#include "gantry_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int gs_exec_gantry(char* const argv[], uid_t uid, gid_t gid, char* const env[], char* out,
                   size_t outlen) {
    int p[2];
    out[0] = '\0';
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(out, outlen, "pipe: %s", strerror(errno));
        return -1;
    }
    char* envp[16] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "LANG=C.UTF-8"};
    for (int i = 0, n = 2; env && env[i] && n < 15; i++) envp[n++] = env[i];
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(out, outlen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        /* slurmstepd runs at -1000: a container the kernel could never pick is not wanted */
        int oom = open("/proc/self/oom_score_adj", O_WRONLY);
        if (oom >= 0) {
            ssize_t n = write(oom, "0", 1);
            (void)n;
            close(oom);
        }
        if (geteuid() == 0 && uid != 0) {
            if (setgroups(0, NULL) != 0 || setregid(gid, gid) != 0 || setreuid(uid, uid) != 0) {
                fprintf(stderr, "gantry: error: cannot become uid %u: %s\n", (unsigned)uid,
                        strerror(errno));
                _exit(127);
            }
        }
        execve(argv[0], argv, envp);
        fprintf(stderr, "gantry: error: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    char buf[4096];
    for (;;) {
        ssize_t n = read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        /* keep the tail: errors come last */
        if ((size_t)n >= outlen - 1) {
            memcpy(out, buf + n - (outlen - 1), outlen - 1);
            len = outlen - 1;
        } else {
            if (len + n > outlen - 1) {
                size_t drop = len + n - (outlen - 1);
                memmove(out, out + drop, len - drop);
                len -= drop;
            }
            memcpy(out + len, buf, n);
            len += n;
        }
    }
    out[len] = '\0';
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    snprintf(out + len, outlen - len, "gantry killed by signal %d", WTERMSIG(st));
    return -1;
}

const char* gs_error_line(char* out) {
    char* e = strstr(out, "gantry: error:");
    char* line = e ? e + strlen("gantry: error: ") : out;
    while (*line == '\n' || *line == ' ') line++;
    char* nl = strchr(line, '\n');
    /* keep a hint line that follows the error */
    if (nl && strncmp(nl + 1, "hint:", 5) == 0) {
        char* nl2 = strchr(nl + 1, '\n');
        *nl = ' ';
        nl = nl2;
    }
    if (nl) *nl = '\0';
    return line;
}
