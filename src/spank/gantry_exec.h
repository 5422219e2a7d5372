/* Running the gantry binary from the plugin: a child process as the job's user (privileges
 * dropped when the caller is root, as in slurmstepd's exit), stdin from /dev/null, a small fixed
 * environment (so the state directory gantry picks is the same at creation and removal), and
 * its output captured for the error the user sees. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Runs gantry with ARGV (argv[0] is the binary) and ENV (K=V strings, NULL-terminated: the
 * job's HOME, XDG_CONFIG_HOME, GANTRY_AUTH_FILE, so the user's registry settings apply) after
 * PATH and LANG. OUT (size OUTLEN) receives the last bytes of
 * its stdout and stderr, NUL-terminated. Returns the exit status, or -1 (message in OUT) when it
 * could not run or was killed. */
int gs_exec_gantry(char* const argv[], uid_t uid, gid_t gid, char* const env[], char* out,
                   size_t outlen);

/* The first line of OUT that starts with "gantry: error:", else its first line, trimmed. */
const char* gs_error_line(char* out);
