/* The container of one Slurm step on one node: created once, by the first local task, by running
 * the gantry binary as the user (`gantry run -d --pidfile` on the image, holding the
 * namespaces with gantry-hold), then joined by every local task (setns: user, mount, IPC, UTS;
 * the host's network and the job's cgroup are kept) with the image's environment imported
 * into the task's. Owns the node-local step directory (lock, pid, error), the gantry command
 * lines, and the removal at the end of the step. docs/slurm.md describes the lifecycle. */
#pragma once

#include <slurm/spank.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct gs_step {
    uid_t uid;
    gid_t gid;
    uint32_t job, step, nodeid;
    char node[256];
    char home[1024];
    char env_home[1100], env_xdg[1100], env_auth[1100], env_ws[1100];
    char* env[5];     /* for gs_exec_gantry: the four above that are set */
    char dir[1200];   /* runtime_path/<uid>/<node>.<job>.<step> (or the named container's) */
    char name[512];   /* the gantry container's name */
    char store[1024]; /* --root, expanded ("" = the user's default) */
    bool named;       /* --container-name: kept for the job's later steps */
};

/* root, remote init_post_opt: runtime_path and runtime_path/<uid> (0700, the user's) */
int gs_prepare_runtime(spank_t sp);
/* user_init (slurmstepd, once per node): what task_init cannot read, the batch script's path */
void gs_remember_step(spank_t sp);
/* task_init of every task (as the user): the first creates, every task joins. -1 (with the
 * error already printed for the user) fails the task, so srun fails. */
int gs_task_join(spank_t sp);
/* remote exit (root): removes the step's container unless it is named; its directory too */
void gs_step_cleanup(spank_t sp);
/* job_epilog (root): removes the job's named containers on this node */
void gs_job_cleanup(spank_t sp);
