/* The step's GPUs: which ones Slurm's GRES gave it (SLURM_STEP_GPUS, CUDA_VISIBLE_DEVICES,
 * ROCR_VISIBLE_DEVICES) or --container-gpus names, as gantry's `--gpus`, and the task's
 * CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES renumbered for the container, where the step's GPUs
 * are numbered from 0. Which vendor is the host's business (gantry's GPU layer decides). */
#pragma once

#include <slurm/spank.h>
#include <stddef.h>

/* gantry's --gpus value (BUF holds it), or NULL when the step has no GPU */
const char* gs_step_gpus(spank_t sp, char* buf, size_t len);
/* task_init: the task's GPU variables rewritten to their places in the step's list */
void gs_renumber_gpus(spank_t sp);
