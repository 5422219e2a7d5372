// GANTRY_UNSAFE_NO_SYNC: the benchmarks' switch that turns the store's syncs off.
#pragma once

namespace gantry::fs {

// GANTRY_UNSAFE_NO_SYNC=1 in the environment: fs::sync_file, fs::sync_dir and the store's syncfs
// do nothing, so a crash of the machine may lose or tear what gantry said it stored. For
// benchmarks only (bench/durability.sh --no-sync env compares a durable load with one that makes
// no sync, from the same binary); never in production. gantry warns on standard error when set.
bool unsafe_no_sync();

} // namespace gantry::fs
