#!/bin/sh
# Runs the OCI runtime named by $WRAPPED_RUNTIME with crun's suite's arguments, less the
# two that are crun's own: the global `--cgroup-manager MANAGER` (runc and gantry-oci take
# the cgroupfs driver, the suite's default) and create/run's `--config PATH` (the bundle's
# config.json is read either way; one test asks for another path and fails under both).
set -eu
: "${WRAPPED_RUNTIME:?set WRAPPED_RUNTIME to the runtime binary (runc, build/gantry-oci)}"
n=$#
i=0
skip=0
for a in "$@"; do
    i=$((i + 1))
    if [ "$skip" = 1 ]; then
        skip=0
    elif [ "$a" = --cgroup-manager ] || [ "$a" = --config ]; then
        skip=1
    else
        set -- "$@" "$a"
    fi
done
shift "$n"
exec "$WRAPPED_RUNTIME" "$@"
