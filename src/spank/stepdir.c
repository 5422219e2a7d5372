/* See stepdir.h. */
#define _GNU_SOURCE
#include "stepdir.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long gs_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* PATTERN with %n (node) and %u (uid) expanded */
void gs_expand(char* dst, size_t len, const char* pattern, const struct gs_step* s) {
    size_t o = 0;
    for (const char* c = pattern; *c && o + 1 < len; c++) {
        if (c[0] == '%' && c[1] == 'n') {
            o += snprintf(dst + o, len - o, "%s", s->node);
            c++;
        } else if (c[0] == '%' && c[1] == 'u') {
            o += snprintf(dst + o, len - o, "%u", (unsigned)s->uid);
            c++;
        } else {
            dst[o++] = *c;
        }
        if (o >= len) o = len - 1;
    }
    dst[o] = '\0';
}

void gs_write_file(const char* dir, const char* name, const char* text) {
    char tmp[1400], path[1400];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(tmp, "w");
    if (!f) return;
    fputs(text, f);
    if (fclose(f) == 0) rename(tmp, path);
}

bool gs_read_file(const char* dir, const char* name, char* buf, size_t len) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return true;
}

/* DIR and the plain files in it (the step directory holds no subdirectories) */
void gs_remove_tree(const char* dir) {
    DIR* d = opendir(dir);
    if (d) {
        struct dirent* e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

bool gs_alive(pid_t pid) {
    return pid > 0 && kill(pid, 0) == 0;
}

bool gs_is_holder(pid_t pid) {
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE* f = pid > 0 ? fopen(path, "r") : NULL;
    if (!f) return false;
    bool ok = fgets(comm, sizeof comm, f) && strcmp(comm, ".gantry-hold\n") == 0;
    fclose(f);
    return ok;
}
