/* --container-save PATH: the step's container, as its tasks left it, written to a squashfs
 * file at the end of the step (by the first node only: every node's would go to one path). Read
 * through /proc/PID/root of the container's first process (the merged root, writable layer
 * included), every mount point in it left out (/proc, /dev, /sys, binds), owned by root as the
 * container saw it; written to PATH.tmp and renamed, so PATH is whole or absent. The file runs
 * with `--container-image=PATH` (and `gantry run PATH`: a squashfs with no gantry header). */
#pragma once

#include "container.h"

#include <stddef.h>
#include <sys/types.h>

/* As the user. -1 with ERR set when mksquashfs fails or cannot run. */
int gs_save_container(const struct gs_step* s, pid_t pid, const char* path, char* err,
                      size_t errlen);
