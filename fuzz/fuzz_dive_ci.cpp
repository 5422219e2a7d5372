// Fuzzes dive CI configs (analyze/ci over util/yaml): a .dive-ci file as `gantry analyze --ci
// --ci-config FILE` reads it, and its values as the --lowest-efficiency / --highest-wasted-bytes
// flags give them.
#include "analyze/analyze.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(dive_ci) {
    std::string_view in = fuzz::bytes(data, size);
    std::string file = fuzz::write_scratch_file(".dive-ci", in);
    fuzz::expect_error([&] {
        analyze::CiRules rules;
        analyze::load_ci_config(file, rules);
        if (rules.lowest_efficiency)
            FUZZ_CHECK(*rules.lowest_efficiency >= 0 && *rules.lowest_efficiency <= 1);
        analyze::DiveMetrics m;
        auto r = analyze::evaluate_ci(m, rules);
        FUZZ_CHECK(!r.lines.empty());
    });
    std::string value(in);
    fuzz::expect_error([&] {
        if (auto d = analyze::parse_ratio("lowestEfficiency", value))
            FUZZ_CHECK(*d >= 0 && *d <= 1);
    });
    fuzz::expect_error([&] { (void)analyze::parse_bytes("highestWastedBytes", value); });
    return 0;
}
