/* A task entering the step's container: the image's environment (read from the container's
 * first process) imported into the task's, --container-env and the locale excepted; then setns
 * into its user, mount, IPC and UTS namespaces (the host's network, PID namespace and the job's
 * cgroup are kept) and the working directory. slurmstepd then execs the task's command there. */
#pragma once

#include <slurm/spank.h>
#include <stddef.h>
#include <sys/types.h>

/* -1 when the container process is gone */
int gs_import_environment(spank_t sp, pid_t pid);
/* -1 with ERR set (for the user) when a namespace or the working directory cannot be entered */
int gs_join_namespaces(pid_t pid, char* err, size_t errlen);
