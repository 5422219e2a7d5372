// Fuzzes gantry build's reading of a Dockerfile before anything runs: the plan (build/plan: stages,
// ARG before FROM, targets, stage references), then every instruction the way the executor reads
// it: config instructions (build/stage_state), RUN's argv with heredocs, HEALTHCHECK, COPY/ADD
// words and flags (build/instructions).
#include "build/instructions.hpp"
#include "build/plan.hpp"
#include "build/stage_state.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        build::PlanOptions opt;
        auto plan = build::make_plan(build::parse(in, opt), opt);
        FUZZ_CHECK(plan.target >= 0 && plan.target < static_cast<int>(plan.stages.size()));
        FUZZ_CHECK(!plan.order.empty() && plan.order.back() == plan.target);
        for (const auto& stage : plan.stages) {
            build::StageState st;
            st.escape = plan.escape;
            for (const auto& ins : stage.steps) {
                fuzz::expect_error([&] {
                    const auto& k = ins.keyword;
                    if (k == "RUN") {
                        FUZZ_CHECK(!build::run_argv(st, ins).empty());
                    } else if (k == "HEALTHCHECK") {
                        FUZZ_CHECK(build::healthcheck(st, ins).contains("Test"));
                    } else if (k == "COPY" || k == "ADD") {
                        FUZZ_CHECK(!build::copy_words(st, ins).sources.empty());
                        build::check_flags(ins, {"from", "chown", "chmod", "link", "checksum"});
                    } else {
                        (void)st.apply(ins, {}, plan.global_args);
                    }
                });
            }
        }
    });
    return 0;
}
