/* The step's GPUs: which ones Slurm's GRES gave it (SLURM_STEP_GPUS, or the variables Slurm
 * sets for each vendor's GPUs: CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES, ZE_AFFINITY_MASK, ...)
 * or --container-gpus names, as gantry's `--gpus`, and the task's vendor variables renumbered for
 * the container, where the step's GPUs are numbered from 0. The variables, and the host-root
 * flags plugstack.conf's NAME_root= may name, are gantry's to say (`gantry __slurm-gpu-vendors`,
 * every vendor's): the plugin names no vendor, and a plugin built once keeps working with a
 * gantry that gains one. Which vendor is the host's business
 * (gantry's GPU layer decides). */
#pragma once

#include <slurm/spank.h>
#include <stddef.h>
#include <sys/types.h>

/* init_post_opt (slurmstepd, once per node and step): asks the gantry binary, as the job's
 * user, for the vendors' variables and host-root flags, and checks plugstack.conf's NAME_root=
 * against the flags; -1 when it could not or one is not gantry's (gs_gpu_vendors_error says
 * why). */
int gs_learn_gpu_vendors(uid_t uid, gid_t gid);
/* Why gs_learn_gpu_vendors failed, or NULL: a task fails with it rather than lose its GPUs. */
const char* gs_gpu_vendors_error(void);

/* gantry's --gpus value (BUF holds it), or NULL when the step has no GPU */
const char* gs_step_gpus(spank_t sp, char* buf, size_t len);
/* task_init: the task's GPU variables rewritten to their places in the step's list */
void gs_renumber_gpus(spank_t sp);
