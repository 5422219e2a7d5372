// gpu_vendors/nvidia/require: the NVIDIA_REQUIRE_* gate of the NVIDIA container stack, evaluated
// the way libnvidia-container does it (src/cli/dsl.c, configure.c) with the inputs the toolkit
// builds (internal/config/image/cuda_image.go):
//   - every env var NVIDIA_REQUIRE_* except NVIDIA_REQUIRE_JETPACK* is one requirement; all are
//     ANDed; a "legacy image" (CUDA_VERSION set, NVIDIA_REQUIRE_CUDA unset or empty) adds
//     cuda>=<major.minor of CUDA_VERSION>;
//   - in one requirement a space separates alternatives (OR) and a comma separates constraints
//     (AND): "cuda>=12.4 brand=tesla,driver>=470,driver<471";
//   - a constraint is property op value, property cuda | driver | arch | brand (any case), op one
//     of = != < <= > >= (a lone "!" reads as "!=", "==" is invalid, as in dsl.c); versions compare
//     numerically component by component, missing components count as 0; brand takes only = and
//     != and compares without case;
//   - requirements are evaluated once per visible GPU (arch = its compute capability "8.0",
//     brand = its NVML brand "Tesla"); with no GPU, arch and brand constraints hold;
//   - NVIDIA_DISABLE_REQUIRE parsed as Go strconv.ParseBool ("1", "t", "true", "TRUE", ...)
//     disables everything; a value ParseBool rejects counts as false.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// Go strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; nullopt otherwise.
std::optional<bool> parse_go_bool(std::string_view s);

// KEY=VALUE list (image config Env, OCI process env) -> map; a later entry wins; entries without
// '=' are ignored.
using EnvMap = std::map<std::string, std::string>;
EnvMap env_map(const std::vector<std::string>& env);

// NVIDIA_DISABLE_REQUIRE present and true by Go ParseBool.
bool require_disabled(const EnvMap& env);

// The major.minor of CUDA_VERSION the toolkit's legacy rule uses ("12.4.1" -> "12.4", "12" ->
// "12.0", "v11.8.0" -> "11.8"): Go semver syntax (no leading zeros, optional -pre / +build on a
// full triple). nullopt for what the toolkit rejects ("failed to get version").
std::optional<std::string> legacy_cuda_major_minor(std::string_view cuda_version);

struct Requirement {
    std::string source; // "NVIDIA_REQUIRE_CUDA", or "CUDA_VERSION" for the legacy rule
    std::string expr;   // the expression, e.g. "cuda>=12.4 brand=tesla,driver>=470,driver<471"
};

struct RequirementSet {
    std::vector<Requirement> requirements; // sorted by source name, the legacy one last
    bool disabled = false;                 // NVIDIA_DISABLE_REQUIRE
    bool legacy = false;                   // the legacy CUDA_VERSION rule applied
    std::string error; // non-empty: CUDA_VERSION is invalid (the toolkit refuses the container)
};

// What the toolkit would check for this environment. When disabled, requirements is empty.
RequirementSet requirements_from_env(const EnvMap& env);

// Facts one evaluation sees. Unset optionals make their constraints hold, as in dsl.c.
struct RequireFacts {
    std::optional<std::string> cuda;   // newest CUDA the driver serves, "12.4"
    std::optional<std::string> driver; // RM version, "550.54.15"
    std::optional<std::string> arch;   // compute capability, "8.0" (unset: no GPU)
    std::optional<std::string> brand;  // NVML brand, "Tesla" (unset: no GPU)
};

enum class ExprOutcome { satisfied, unsatisfied, invalid };

// One space-separated alternative and, when it failed, its first failing constraint.
struct TermResult {
    std::string text; // "brand=tesla,driver>=470,driver<471"
    bool satisfied = false;
    bool evaluated = false; // false after an earlier alternative held
    std::string failed;     // "driver>=470"
    std::string property;   // property of `failed`, lower case
};

struct ExprResult {
    ExprOutcome outcome = ExprOutcome::satisfied;
    std::vector<TermResult> terms;
    std::string error; // for invalid: "invalid expression: <constraint>"
};

// Evaluates one expression like dsl_evaluate: alternatives left to right until one holds; inside
// one, constraints left to right until one fails (later ones are not even parsed, as in dsl.c).
ExprResult evaluate_expression(std::string_view expr, const RequireFacts& facts);

// dsl_compare_version: 1 true, 0 false, -1 invalid (a character other than digits and dots).
// op is one of "=", "!=", "<", "<=", ">", ">=".
int compare_version(std::string_view v1, std::string_view op, std::string_view v2);

struct RequireGpu {
    int index = 0;
    int cc_major = 0, cc_minor = 0;
    std::string brand; // "Tesla", "GeForce", ... (empty: unknown, brand constraints fail =)
    std::string name;  // for messages, "NVIDIA A100-SXM4-80GB"
};

struct RequireHost {
    int cuda_version = 0;         // encoded (12040); 0 = unknown (cuda constraints hold)
    std::string driver;           // "550.54.15"; empty = unknown (driver constraints hold)
    std::vector<RequireGpu> gpus; // the GPUs given to the container; empty: evaluated once
};

struct RequireFailure {
    std::string source; // "NVIDIA_REQUIRE_CUDA"
    std::string expr;
    int gpu = -1;          // GPU index the failure is for; -1: evaluated without a GPU
    bool invalid = false;  // the expression (or CUDA_VERSION) is invalid: the toolkit errors out
    std::string condition; // what nvidia-container-cli prints: the first alternative
    std::vector<TermResult> terms;
    std::string message; // one sentence with the facts, e.g. "NVIDIA_REQUIRE_CUDA: unsatisfied
                         // condition: cuda>=12.8 on GPU 0 (Tesla, 8.0): the driver 550.54.15
                         // serves CUDA 12.4"
};

struct RequireResult {
    bool disabled = false; // NVIDIA_DISABLE_REQUIRE: nothing was checked
    bool legacy = false;
    std::vector<RequireFailure> failures; // every failing (requirement, GPU) pair
    bool ok() const { return failures.empty(); }
};

// Evaluates every requirement for every GPU (or once without a GPU).
RequireResult evaluate_requirements(const std::vector<Requirement>& reqs, const RequireHost& host);

// requirements_from_env + evaluate_requirements; an invalid CUDA_VERSION is a failure.
RequireResult check_requirements(const EnvMap& env, const RequireHost& host);

} // namespace gantry::gpu_vendors::nvidia
