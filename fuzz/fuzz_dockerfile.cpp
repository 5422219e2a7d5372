// Fuzzes the Dockerfile parser (lint/dockerfile) and every lint rule over what it parses
// (lint/lint, lint/model, the rules, the GPU vendors' rules), as `gantry lint` reads a
// Dockerfile.
#include "fuzz_support.hpp"
#include "gpu_vendors/amd/lint_rules.hpp"
#include "gpu_vendors/nvidia/lint_rules.hpp"
#include "lint/lint.hpp"
#include "lint/report.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(dockerfile) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto df = dockerfile::parse_dockerfile(in);
        int last = 0;
        for (auto& i : df.instructions) {
            FUZZ_CHECK(i.line > last && i.end_line >= i.line);
            last = i.end_line;
        }
        lint::Options opt; // the vendors' rules too, named here (not through the registry,
                           // which would pull every vendor into the campaign build)
        opt.rule_sets = {&gpu_vendors::nvidia::lint_rules(), &gpu_vendors::amd::lint_rules()};
        auto findings = lint::lint(df, opt);
        for (auto& f : findings) {
            FUZZ_CHECK(!f.id.empty() && !f.message.empty());
            FUZZ_CHECK(f.at.instruction < df.instructions.size() || df.instructions.empty());
        }
    });
    return 0;
}
