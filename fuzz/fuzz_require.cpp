// Fuzzes the NVIDIA_REQUIRE_* gate (gpu_vendors/nvidia/require): the input's first line is an
// expression, evaluated with no GPU and with one; the whole input is also an environment (KEY=VALUE
// lines: NVIDIA_REQUIRE_*, CUDA_VERSION, NVIDIA_DISABLE_REQUIRE) checked against a host with two
// GPUs, as `gantry run --gpus` checks an image's Env.
#include "fuzz_support.hpp"
#include "gpu_vendors/nvidia/require.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(require) {
    std::string_view in = fuzz::bytes(data, size);
    auto [expr, rest] = fuzz::split_once(in, "\n");
    auto none = gpu_vendors::nvidia::evaluate_expression(expr, {});
    FUZZ_CHECK(none.outcome != gpu_vendors::nvidia::ExprOutcome::invalid || !none.error.empty());
    gpu_vendors::nvidia::RequireFacts gpu{"12.4", "550.54.15", "8.0", "Tesla"};
    auto r = gpu_vendors::nvidia::evaluate_expression(expr, gpu);
    for (auto& t : r.terms)
        FUZZ_CHECK(t.satisfied || !t.evaluated || !t.failed.empty() ||
                   r.outcome == gpu_vendors::nvidia::ExprOutcome::invalid);
    auto [v1, v2] = fuzz::split_once(expr, " ");
    for (const char* op : {"=", "!=", "<", "<=", ">", ">="}) {
        int c = gpu_vendors::nvidia::compare_version(v1, op, v2);
        FUZZ_CHECK(c >= -1 && c <= 1);
    }
    (void)gpu_vendors::nvidia::legacy_cuda_major_minor(expr);
    (void)gpu_vendors::nvidia::parse_go_bool(expr);

    std::vector<std::string> env;
    for (std::string_view left = in; !left.empty();) {
        auto [line, tail] = fuzz::split_once(left, "\n");
        env.emplace_back(line);
        if (line.size() == left.size()) break;
        left = tail;
    }
    gpu_vendors::nvidia::RequireHost host{
        12040, "550.54.15", {{0, 8, 0, "Tesla", "NVIDIA A100"}, {1, 9, 0, "", "NVIDIA H100"}}};
    auto res = gpu_vendors::nvidia::check_requirements(gpu_vendors::nvidia::env_map(env), host);
    for (auto& f : res.failures) FUZZ_CHECK(!f.message.empty());
    (void)rest;
    return 0;
}
