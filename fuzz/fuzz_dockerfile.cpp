// Fuzzes the Dockerfile parser (lint/dockerfile) and every lint rule over what it parses
// (lint/lint, lint/model, the rules, the GPU vendors' rules), as `gantry lint` reads a
// Dockerfile, and the machine formats of its report (json and sarif died on a Dockerfile that
// is not UTF-8: they must be JSON, and checkstyle UTF-8). Also text::first_non_utf8 (the build's
// check of the same text) against nlohmann's idea of UTF-8.
#include "fuzz_support.hpp"
#include "gpu_vendors/amd/lint_rules.hpp"
#include "gpu_vendors/nvidia/lint_rules.hpp"
#include "lint/lint.hpp"
#include "lint/report.hpp"
#include "util/text.hpp"

#include <nlohmann/json.hpp>

using namespace gantry;

GANTRY_FUZZ_TARGET(dockerfile) {
    std::string_view in = fuzz::bytes(data, size);
    bool nlohmann_utf8 = true;
    try {
        (void)nlohmann::json(std::string(in)).dump();
    } catch (const nlohmann::json::type_error&) {
        nlohmann_utf8 = false;
    }
    FUZZ_CHECK(!text::first_non_utf8(in).has_value() == nlohmann_utf8);
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
        std::vector<lint::FileResult> results{{"Dockerfile", findings}};
        for (auto format : {lint::Format::json, lint::Format::sarif}) {
            auto text = lint::render(results, format, false, {});
            FUZZ_CHECK(!nlohmann::json::parse(text, nullptr, false).is_discarded());
        }
        FUZZ_CHECK(!text::first_non_utf8(lint::render(results, lint::Format::checkstyle, false, {}))
                        .has_value());
    });
    return 0;
}
