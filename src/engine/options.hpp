// The request's flags in the library's terms: the checks and parsers prepare applies to what a
// user wrote, each error naming the flag and the fix (Error(usage), or Error(run_failed) for what
// this host cannot do).
#pragma once

#include "engine/engine.hpp"

#include <cstdint>
#include <string>

namespace gantry::engine {

// Apptainer's GPU flags (each a vendor's Backend::apptainer_flag: --nv, --rocm) as what they
// mean here: --gpus all with --gpu-vendor of that vendor.
// Error(usage) naming the flags when they disagree with each other, --gpus or --gpu-vendor.
void fold_apptainer_gpu_flags(RunRequest& r);
// The flags checked before anything is started or read: --network (the namespaces; the rest of
// the network, engine/networks.hpp), --ipc, --shm-size,
// --runtime, --userns, --security-opt and --write-warn. Fills what they decide into OPT.
void check_flags(const RunRequest& r, runspec::RunOptions& opt);
// The rest of the run options (command, entrypoint, env, binds, tmpfs, ulimits, capabilities,
// host devices), once the early start is under way.
void add_options(const RunRequest& r, runspec::RunOptions& opt);
// --writable-layer (or GANTRY_WRITABLE_LAYER): memory[:SIZE] where the kernel's tmpfs takes the
// overlay's user.* xattrs (Linux 6.6), else disk; none for --read-only.
WritableLayer writable_layer(const RunRequest& r);
// --memory, --cpus and --pids-limit.
runtime::Resources resources(const RunRequest& r);
// --shm-size: a size in docker's binary units ("64m", "8g"), above zero.
std::uint64_t shm_size(const std::string& value);

} // namespace gantry::engine
