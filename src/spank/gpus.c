/* See gpus.h. */
#define _GNU_SOURCE
#include "gpus.h"

#include "options.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The step's GPUs as Slurm numbers them on the node (SLURM_STEP_GPUS, else the task's
 * CUDA_VISIBLE_DEVICES or ROCR_VISIBLE_DEVICES), "" when it has none. The vendor is the host's. */
static bool gres_gpus(spank_t sp, char* v, size_t len) {
    static const char* vars[] = {"SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"};
    for (size_t i = 0; i < 3; i++)
        if (spank_getenv(sp, vars[i], v, (int)len) == ESPANK_SUCCESS && v[0] &&
            strcmp(v, "NoDevFiles") != 0)
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

/* In the container the step's GPUs are numbered from 0: the task's CUDA_VISIBLE_DEVICES (and
 * ROCR_VISIBLE_DEVICES) name host GPUs, rewritten to their places in the step's list. Left as
 * they are when a value is not in the list (Slurm's cgroup device constraint numbers them so). */
void gs_renumber_gpus(spank_t sp) {
    char step[512];
    if (gs_args.gpus || !gres_gpus(sp, step, sizeof step)) return;
    static const char* vars[] = {"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"};
    for (size_t i = 0; i < 2; i++) {
        char v[512], out[512] = "", *save = NULL;
        if (spank_getenv(sp, vars[i], v, sizeof v) != ESPANK_SUCCESS) continue;
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
        if (all && out[0]) spank_setenv(sp, vars[i], out, 1);
    }
}
