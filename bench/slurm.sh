#!/bin/sh
# Issue 25's Slurm benchmark: srun -N4 -n8 /bin/true plain, with gantry (warm node stores, a
# shared .sqsh, cold pulls from a local registry) and with ch-run. As root (it starts munged,
# slurmctld and four slurmd; jobs run as nobody). Details: bench/slurm.py, bench/README.md.
set -eu
cd "$(dirname "$0")/.."
exec "${BENCH_PYTHON:-/usr/bin/python3}" bench/slurm.py "$@"
