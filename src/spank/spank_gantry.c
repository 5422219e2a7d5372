/* spank_gantry.so: Slurm's `srun --container-image` for gantry (pyxis' options, gantry's
 * containers). The SPANK callbacks only route: options.c reads what the user asked,
 * container.c makes and joins the step's container by running the gantry binary. The plugin
 * links nothing of gantry: a slurmstepd loads it, and a library of gantry's size (threads,
 * static initializers, dlopen'ed libraries) has no business in that process; the gantry binary
 * does the work as the user, as pyxis runs enroot. docs/slurm.md has the design. */
#include "container.h"
#include "options.h"

#include <slurm/spank.h>
#include <stdlib.h>
#include <string.h>

SPANK_PLUGIN(gantry, 1)

int slurm_spank_init(spank_t sp, int ac, char** av) {
    spank_context_t ctx = spank_context();
    if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR &&
        ctx != S_CTX_JOB_SCRIPT)
        return 0;
    if (gs_parse_config(ac, av) != 0) return -1;
    return gs_register_options(sp);
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char** av) {
    (void)ac;
    (void)av;
    if (gs_read_environment(sp) != 0) return -1;
    if (!spank_remote(sp) || !gs_enabled()) return 0;
    return gs_prepare_runtime(sp);
}

int slurm_spank_user_init(spank_t sp, int ac, char** av) {
    (void)ac;
    (void)av;
    if (gs_enabled()) gs_remember_step(sp);
    return 0;
}

/* Errors raised in user_init are not reported by srun (SchedMD bug 7573): all work, and all
 * errors, are in task_init, where a failure fails the task and srun exits non-zero. */
int slurm_spank_task_init(spank_t sp, int ac, char** av) {
    (void)ac;
    (void)av;
    if (!gs_enabled()) return 0;
    return gs_task_join(sp) == 0 ? 0 : -1;
}

int slurm_spank_exit(spank_t sp, int ac, char** av) {
    (void)ac;
    (void)av;
    if (spank_remote(sp) && gs_enabled()) gs_step_cleanup(sp);
    return 0;
}

/* The job script context calls no init: the arguments are read here. */
int slurm_spank_job_epilog(spank_t sp, int ac, char** av) {
    if (gs_parse_config(ac, av) != 0) return 0;
    gs_job_cleanup(sp);
    return 0;
}
