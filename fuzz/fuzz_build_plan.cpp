// Fuzzes gantry build's reading of a Dockerfile before anything runs: the plan (image_build/plan:
// stages, ARG before FROM, targets, stage references), then every instruction the way the executor
// reads it: config instructions (image_build/stage_state), RUN's argv with heredocs, HEALTHCHECK,
// COPY/ADD words and flags (image_build/instructions); after each config instruction, the bounds
// issue 36 set (expansion size, config size, WORKDIR cleaned, EXPOSE ports in range).
#include "dockerfile/words.hpp"
#include "fuzz_support.hpp"
#include "image_build/instructions.hpp"
#include "image_build/plan.hpp"
#include "image_build/stage_state.hpp"
#include "image_build/work_image.hpp"

using namespace gantry;

namespace {

// What an applied instruction may leave (issue 36): every value within the expansion bound, the
// environment and labels within a config's size, WORKDIR absolute without "." or "..", EXPOSE
// keys PORT/PROTO with a port in 0..65535.
void check_bounds(const image_build::StageState& st) {
    const auto& c = st.config;
    std::size_t total = 0;
    if (c.contains("Env"))
        for (const auto& e : c["Env"]) {
            const auto& s = e.get_ref<const std::string&>();
            auto eq = s.find('=');
            FUZZ_CHECK(eq == std::string::npos ||
                       s.size() - eq - 1 <= dockerfile::kMaxExpandedWord);
            total += s.size();
        }
    if (c.contains("Labels"))
        for (const auto& [k, v] : c["Labels"].items()) {
            FUZZ_CHECK(v.get_ref<const std::string&>().size() <= dockerfile::kMaxExpandedWord);
            total += k.size() + v.get_ref<const std::string&>().size();
        }
    FUZZ_CHECK(total <= image_build::kMaxConfigBytes);
    if (c.contains("WorkingDir")) {
        const auto& wd = c["WorkingDir"].get_ref<const std::string&>();
        FUZZ_CHECK(!wd.empty() && wd[0] == '/');
        FUZZ_CHECK(wd.find("/../") == std::string::npos && !wd.ends_with("/.."));
        FUZZ_CHECK(wd.find("/./") == std::string::npos && !wd.ends_with("/."));
    }
    if (c.contains("ExposedPorts"))
        for (const auto& [k, v] : c["ExposedPorts"].items()) {
            auto slash = k.find('/');
            FUZZ_CHECK(slash != std::string::npos && slash > 0 && slash <= 5);
            FUZZ_CHECK(std::stol(k.substr(0, slash)) <= 65535);
            auto proto = k.substr(slash + 1);
            FUZZ_CHECK(proto == "tcp" || proto == "udp" || proto == "sctp");
        }
}

} // namespace

GANTRY_FUZZ_TARGET(build_plan) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        image_build::PlanOptions opt;
        auto plan = image_build::make_plan(image_build::parse(in, opt), opt);
        FUZZ_CHECK(plan.target >= 0 && plan.target < static_cast<int>(plan.stages.size()));
        FUZZ_CHECK(!plan.order.empty() && plan.order.back() == plan.target);
        for (const auto& stage : plan.stages) {
            image_build::StageState st;
            st.escape = plan.escape;
            for (const auto& ins : stage.steps) {
                fuzz::expect_error([&] {
                    const auto& k = ins.keyword;
                    if (k == "RUN") {
                        FUZZ_CHECK(!image_build::run_argv(st, ins).empty());
                    } else if (k == "HEALTHCHECK") {
                        FUZZ_CHECK(image_build::healthcheck(st, ins).contains("Test"));
                    } else if (k == "COPY" || k == "ADD") {
                        FUZZ_CHECK(!image_build::copy_words(st, ins).sources.empty());
                        image_build::check_flags(ins,
                                                 {"from", "chown", "chmod", "link", "checksum"});
                    } else {
                        (void)st.apply(ins, {}, plan.global_args);
                        check_bounds(st);
                    }
                });
            }
        }
    });
    return 0;
}
