// Fuzzes the Dockerfile parser (lint/dockerfile) and every lint rule over what it parses
// (lint/lint, lint/model, the rules), as `gantry lint` reads a Dockerfile.
#include "fuzz_support.hpp"
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
        auto findings = lint::lint(df, lint::Options{});
        for (auto& f : findings) {
            FUZZ_CHECK(!f.code.empty() && !f.message.empty());
            FUZZ_CHECK(f.instruction < df.instructions.size() || df.instructions.empty());
        }
    });
    return 0;
}
