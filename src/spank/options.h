/* The Slurm plugin's options: pyxis' command-line options (srun, sbatch, salloc), their
 * PYXIS_CONTAINER_* environment equivalents, and the plugstack.conf arguments. Owns parsing and
 * checking what the user wrote, before anything runs; nothing here starts a process.
 * docs/slurm.md has the table. */
#pragma once

#include <slurm/spank.h>
#include <stdbool.h>

#define GS_MAX_LIST 64

struct gs_mount {
    char *src, *dst;
    bool ro;
};

enum gs_name_flag { GS_NAME_AUTO, GS_NAME_CREATE, GS_NAME_EXEC, GS_NAME_NO_EXEC };

/* What the user asked for (options and environment). Strings are malloc'ed; NULL when unset. */
struct gs_args {
    char* image;
    char* name;
    enum gs_name_flag name_flag;
    char* workdir;
    char* gpus; /* --container-gpus; NULL: from the step's GRES environment */
    struct gs_mount mounts[GS_MAX_LIST];
    int n_mounts;
    char* env_names[GS_MAX_LIST]; /* --container-env: host values win for these */
    int n_env;
    int writable;   /* -1 unset, 0 --container-readonly, 1 --container-writable */
    int mount_home; /* -1 unset, 0/1 */
    int remap_root; /* -1 unset, 0/1 */
    int entrypoint; /* -1 unset, 0/1 */
    char* save;     /* --container-save PATH */
    char* pull;     /* --container-pull lazy|full; NULL: the site's pull= */
};

#define GS_MAX_ROOTS 8

/* A GPU host root (plugstack.conf's NAME_root=PATH): gantry's --NAME-root for a step with GPUs.
 * Which ones gantry has is the vendors' business (driver_root=, dev_root=, sys_root=, and any a
 * vendor adds): checked against the gantry binary's list (gpus.c). */
struct gs_root {
    char flag[64];    /* "--driver-root" */
    char value[1024]; /* the path, %n and %u not yet expanded */
};

/* plugstack.conf arguments: `required spank_gantry.so gantry=/usr/bin/gantry
 * store=/var/tmp/gantry-%u runtime_path=/run/gantry-slurm driver_root=/ dev_root=/ sys_root=/
 * pull=full|lazy working_sets=/shared/gantry-ws/%u`. %n (the node's name, SLURMD_NODENAME) and
 * %u (the job's uid) are expanded in store, working_sets and the roots, so several slurmd
 * on one machine keep their own stores. */
struct gs_config {
    char gantry[1024];
    char store[1024]; /* "" = gantry's default store of the user */
    char runtime_path[1024];
    struct gs_root roots[GS_MAX_ROOTS]; /* the NAME_root= given; gantry's default (/) for others */
    int n_roots;
    char hold[1024];         /* the static holder program bound into each container */
    char mksquashfs[1024];   /* --container-save's writer */
    char pull[16];           /* "full" (pull, then run) or "lazy" (gantry run --pull lazy) */
    char working_sets[1024]; /* lazy: the directory the nodes share the working sets in */
};

extern struct gs_args gs_args;
extern struct gs_config gs_config;

/* Registers the options in this context (spank_option_register). */
int gs_register_options(spank_t sp);
/* Reads plugstack.conf's arguments; -1 (with slurm_error) on an unknown one. */
int gs_parse_config(int ac, char** av);
/* Applies PYXIS_CONTAINER_* variables for options the command line did not set. */
int gs_read_environment(spank_t sp);
/* True when the step asks for a container (an image or a name). */
bool gs_enabled(void);
/* A squashfs file as pyxis takes one (a path, or a name ending in .sqsh, .sqfs, .squashfs). */
bool gs_is_sqsh_path(const char* image);
/* --container-pull (else the site's pull=) is lazy, for a registry image: `gantry run --pull
 * lazy`, no pull first. */
bool gs_lazy_pull(void);
