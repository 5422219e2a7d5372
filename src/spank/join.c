/* See join.h. */
#define _GNU_SOURCE
#include "join.h"

#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool listed(const char* name, size_t len) {
    for (int i = 0; i < gs_args.n_env; i++)
        if (strlen(gs_args.env_names[i]) == len && strncmp(gs_args.env_names[i], name, len) == 0)
            return true;
    return false;
}

/* The image's environment (the container process's) into the task's, --container-env excepted */
int gs_import_environment(spank_t sp, pid_t pid) {
    static const char* locale[] = {"LANG", "LANGUAGE", "LC_ALL"};
    for (size_t i = 0; i < 3; i++)
        if (!listed(locale[i], strlen(locale[i]))) spank_unsetenv(sp, locale[i]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE* f = fopen(path, "r");
    if (!f) return -1;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (char* v = buf; v < buf + n; v += strlen(v) + 1) {
        char* eq = strchr(v, '=');
        if (!eq || listed(v, (size_t)(eq - v))) continue;
        /* --container-mount-home: the host's HOME, which is mounted */
        if (gs_args.mount_home == 1 && eq - v == 4 && strncmp(v, "HOME", 4) == 0) continue;
        *eq = '\0';
        spank_setenv(sp, v, eq + 1, 1);
    }
    return 0;
}

int gs_join_namespaces(pid_t pid, char* err, size_t errlen) {
    static const struct {
        const char* name;
        int flag;
    } order[] = {{"user", CLONE_NEWUSER},
                 {"mnt", CLONE_NEWNS},
                 {"ipc", CLONE_NEWIPC},
                 {"uts", CLONE_NEWUTS}};
    int fds[4];
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
    int cwd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < 4; i++) {
        struct stat a, b;
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, order[i].name);
        char self[64];
        snprintf(self, sizeof self, "/proc/self/ns/%s", order[i].name);
        fds[i] = -1;
        if (stat(path, &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            continue;
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0) continue;
        if (setns(fds[i], order[i].flag) != 0) {
            snprintf(err, errlen, "cannot join the container's %s namespace: %s", order[i].name,
                     strerror(errno));
            return -1;
        }
        close(fds[i]);
    }
    if (gs_args.workdir) {
        if (chdir(gs_args.workdir) != 0) {
            snprintf(err, errlen,
                     "--container-workdir %s: %s in the container (give a directory the image "
                     "has, or mount one there)",
                     gs_args.workdir, strerror(errno));
            return -1;
        }
    } else if (cwd < 0 || fchdir(cwd) != 0) {
        if (chdir("/") != 0) return -1;
    }
    if (cwd >= 0) close(cwd);
    return 0;
}
