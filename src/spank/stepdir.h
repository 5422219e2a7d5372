/* Small helpers of the plugin's node-local step directory (runtime_path/<uid>/...: the lock,
 * the container's pid, a recorded error): whole-file reads and atomic writes, its removal, the
 * %n/%u patterns of plugstack.conf's paths, a process's liveness and a monotonic clock. */
#pragma once

#include "container.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

long gs_now_ms(void);
/* PATTERN with %n (the step's node) and %u (its uid) expanded into DST */
void gs_expand(char* dst, size_t len, const char* pattern, const struct gs_step* s);
void gs_write_file(const char* dir, const char* name, const char* text); /* temp + rename */
bool gs_read_file(const char* dir, const char* name, char* buf, size_t len);
void gs_remove_tree(const char* dir); /* DIR and its plain files */
bool gs_alive(pid_t pid);
/* PID runs the holder (/.gantry-hold): not a process that got a dead container's pid, nor an
 * entrypoint that has not yet exec'ed it (its environment would be incomplete) */
bool gs_is_holder(pid_t pid);
