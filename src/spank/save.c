/* See save.h. */
#define _GNU_SOURCE
#include "save.h"

#include "gantry_exec.h"
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MOUNTS 256

/* mountinfo's escapes (\040 space, \011 tab, \012 newline, \134 backslash) undone in place */
static void unescape(char* p) {
    char* o = p;
    for (char* i = p; *i; i++) {
        if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] >= '0' && i[2] <= '7' &&
            i[3] >= '0' && i[3] <= '7') {
            *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
            i += 3;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
}

int gs_save_container(const struct gs_step* s, pid_t pid, const char* path, char* err,
                      size_t errlen) {
    char mi[64], src[64], tmp[1100];
    snprintf(mi, sizeof mi, "/proc/%d/mountinfo", (int)pid);
    snprintf(src, sizeof src, "/proc/%d/root/.", (int)pid);
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE* f = fopen(mi, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", mi, strerror(errno));
        return -1;
    }
    /* the container's mount points (field 5), relative to its root, as mksquashfs's -e list */
    static char points[MAX_MOUNTS][1024];
    int n = 0;
    char line[4096];
    while (n < MAX_MOUNTS && fgets(line, sizeof line, f)) {
        char* save = NULL;
        char* field = strtok_r(line, " ", &save);
        for (int i = 1; field && i < 5; i++) field = strtok_r(NULL, " ", &save);
        if (!field || field[0] != '/' || field[1] == '\0') continue;
        unescape(field);
        snprintf(points[n++], sizeof points[0], "%s", field + 1);
    }
    fclose(f);
    char* argv[MAX_MOUNTS + 16];
    int argc = 0;
    argv[argc++] = gs_config.mksquashfs;
    argv[argc++] = src;
    argv[argc++] = tmp;
    argv[argc++] = "-noappend";
    argv[argc++] = "-all-root";
    argv[argc++] = "-no-progress";
    argv[argc++] = "-quiet";
    argv[argc++] = "-comp";
    argv[argc++] = "zstd";
    if (n > 0) {
        argv[argc++] = "-e";
        for (int i = 0; i < n; i++) argv[argc++] = points[i];
    }
    argv[argc] = NULL;
    char out[8192];
    int rc = gs_exec_gantry(argv, s->uid, s->gid, s->env, out, sizeof out);
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "--container-save %s: mksquashfs failed: %s", path,
                 gs_error_line(out));
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "--container-save %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
