/* See gpus.h. */
#define _GNU_SOURCE
#include "gpus.h"

#include "gantry_exec.h"
#include "options.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define GS_MAX_GPU_VARS 16

/* gs_learn_gpu_vendors: the gantry binary's lists (slurmstepd's memory, inherited by every task
 * it forks), or why they could not be read */
static char gpu_vars[GS_MAX_GPU_VARS][64];
static int n_gpu_vars;
static char vendors_error[1024];

/* A name as gantry prints one: not empty, not too long, of CHARS only. */
static bool name_of(const char* s, const char* chars) {
    size_t len = strlen(s);
    return len > 0 && len < sizeof gpu_vars[0] && strspn(s, chars) == len;
}

int gs_learn_gpu_vendors(uid_t uid, gid_t gid) {
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
    char* argv[] = {gs_config.gantry, (char*)"__slurm-gpu-vendors", NULL};
    char out[4096], flags[GS_MAX_ROOTS * 2][64];
    int n_flags = 0;
    n_gpu_vars = 0;
    vendors_error[0] = '\0';
    int rc = gs_exec_gantry(argv, uid, gid, NULL, out, sizeof out);
    if (rc != 0) {
        snprintf(vendors_error, sizeof vendors_error,
                 "%s __slurm-gpu-vendors failed (rc %d): %s (is plugstack.conf's gantry= a "
                 "gantry as new as this plugin?)",
                 gs_config.gantry, rc, gs_error_line(out));
        return -1;
    }
    char* save = NULL;
    for (char* line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "variable ", 9) == 0 && name_of(line + 9, upper) &&
            n_gpu_vars < GS_MAX_GPU_VARS) {
            snprintf(gpu_vars[n_gpu_vars++], sizeof gpu_vars[0], "%s", line + 9);
        } else if (strncmp(line, "root-flag --", 12) == 0 && name_of(line + 12, lower) &&
                   n_flags < GS_MAX_ROOTS * 2) {
            snprintf(flags[n_flags++], sizeof flags[0], "%s", line + 10);
        } else {
            snprintf(vendors_error, sizeof vendors_error,
                     "%s __slurm-gpu-vendors printed \"%.64s\", not \"variable NAME\" or "
                     "\"root-flag --NAME\" (at most %d variables, %d flags)",
                     gs_config.gantry, line, GS_MAX_GPU_VARS, GS_MAX_ROOTS * 2);
            n_gpu_vars = 0;
            return -1;
        }
    }
    /* every NAME_root= of plugstack.conf is a root flag of this gantry */
    for (int r = 0; r < gs_config.n_roots; r++) {
        bool found = false;
        for (int f = 0; f < n_flags && !found; f++)
            found = strcmp(flags[f], gs_config.roots[r].flag) == 0;
        if (found) continue;
        char have[GS_MAX_ROOTS * 2 * 66] = "";
        for (int f = 0; f < n_flags; f++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", f ? ", " : "",
                     flags[f]);
        snprintf(vendors_error, sizeof vendors_error,
                 "plugstack.conf names the GPU host root %s, which %s has not (it has %s): fix "
                 "the NAME_root= argument",
                 gs_config.roots[r].flag, gs_config.gantry, have[0] ? have : "none");
        return -1;
    }
    return 0;
}

const char* gs_gpu_vendors_error(void) {
    return vendors_error[0] ? vendors_error : NULL;
}

/* The step's GPUs as Slurm numbers them on the node (SLURM_STEP_GPUS, else the first of the
 * vendors' variables the task has), "" when it has none. The vendor is the host's. */
static bool gres_gpus(spank_t sp, char* v, size_t len) {
    for (int i = -1; i < n_gpu_vars; i++)
        if (spank_getenv(sp, i < 0 ? "SLURM_STEP_GPUS" : gpu_vars[i], v, (int)len) ==
                ESPANK_SUCCESS &&
            v[0] && strcmp(v, "NoDevFiles") != 0)
            return true;
    return false;
}

/* The GPUs: --container-gpus, else the ones Slurm's GRES gave the step. */
const char* gs_step_gpus(spank_t sp, char* buf, size_t len) {
    if (gs_args.gpus) return gs_args.gpus;
    char v[512];
    if (!gres_gpus(sp, v, sizeof v)) return NULL;
    snprintf(buf, len, "device=%s", v);
    return buf;
}

/* In the container the step's GPUs are numbered from 0: the task's vendor variables
 * (CUDA_VISIBLE_DEVICES, ZE_AFFINITY_MASK, ...: gantry's list) name host GPUs, rewritten to their
 * places in the step's list. Left as they are when a value is not in the list (Slurm's cgroup
 * device constraint numbers them so). */
void gs_renumber_gpus(spank_t sp) {
    char step[512];
    if (gs_args.gpus || !gres_gpus(sp, step, sizeof step)) return;
    for (int i = 0; i < n_gpu_vars; i++) {
        char v[512], out[512] = "", *save = NULL;
        if (spank_getenv(sp, gpu_vars[i], v, sizeof v) != ESPANK_SUCCESS) continue;
        bool all = true;
        for (char* g = strtok_r(v, ",", &save); g && all; g = strtok_r(NULL, ",", &save)) {
            char list[512], *save2 = NULL;
            snprintf(list, sizeof list, "%s", step);
            int pos = 0, found = -1;
            for (char* s = strtok_r(list, ",", &save2); s; s = strtok_r(NULL, ",", &save2), pos++)
                if (strcmp(s, g) == 0) found = pos;
            if (found < 0)
                all = false;
            else
                snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d", out[0] ? "," : "",
                         found);
        }
        if (all && out[0]) spank_setenv(sp, gpu_vars[i], out, 1);
    }
}
