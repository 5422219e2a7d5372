// sif/metadata's Apptainer actions: the variables its runtime sets for an image file, and the
// entrypoints of `apptainer test` and `instance start` (their scripts run by /bin/sh here, with
// the environment scripts sourced first and the arguments passed on).
#include "sif/metadata.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace sif_actions_test {

namespace sif = gantry::sif;

TEST(SifActions, RuntimeEnvIsApptainersAndSingularitys) {
    auto env = sif::runtime_env("/shared/images/app_1.0.sif");
    std::vector<std::string> want{"APPTAINER_CONTAINER=/shared/images/app_1.0.sif",
                                  "APPTAINER_NAME=app_1.0.sif",
                                  "APPTAINER_ENVIRONMENT=/.singularity.d/env/91-environment.sh",
                                  "SINGULARITY_CONTAINER=/shared/images/app_1.0.sif",
                                  "SINGULARITY_NAME=app_1.0.sif",
                                  "SINGULARITY_ENVIRONMENT=/.singularity.d/env/91-environment.sh"};
    EXPECT_EQ(env, want);
}

TEST(SifActions, EntrypointsSourceTheEnvironmentThenExecTheScript) {
    for (std::string action : {"test", "start"}) {
        auto ep = sif::action_entrypoint(action);
        ASSERT_EQ(ep.size(), 4u);
        EXPECT_EQ(ep[0], "/bin/sh");
        EXPECT_EQ(ep[1], "-c");
        EXPECT_EQ(ep[3], "/.singularity.d/actions/" + action);
        auto script = ep[2].get<std::string>();
        EXPECT_NE(script.find(". \"$f\""), std::string::npos);
        EXPECT_NE(script.find("exec /.singularity.d/" +
                              std::string(action == "test" ? "test" : "startscript") + " \"$@\""),
                  std::string::npos)
            << script;
        EXPECT_NE(script.find("exit 0"), std::string::npos); // none: as Apptainer, not a failure
    }
    auto test = sif::action_entrypoint("test")[2].get<std::string>();
    EXPECT_NE(test.find("has no test script"), std::string::npos);
}

} // namespace sif_actions_test
