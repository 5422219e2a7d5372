#include "engine/apptainer_run.hpp"

#include <gtest/gtest.h>

namespace apptainer_env_test {

using Strings = std::vector<std::string>;

TEST(ApptainerEnv, PrefixesRemovedApptainersAfterSingularitysAndOthersIgnored) {
    const char* env[] = {"PATH=/bin",
                         "APPTAINERENV_FOO=new",
                         "SINGULARITYENV_FOO=old",
                         "SINGULARITYENV_BAR=b=c",
                         "APPTAINERENV_=nameless",
                         "APPTAINERENV_NOVALUE",
                         "XAPPTAINERENV_NO=1",
                         "APPTAINERENV_PREPEND_PATH=/opt/a",
                         nullptr};
    EXPECT_EQ(gantry::engine::apptainer_env_from(env),
              (Strings{"FOO=old", "BAR=b=c", "FOO=new", "PREPEND_PATH=/opt/a"}));
    const char* none[] = {nullptr};
    EXPECT_TRUE(gantry::engine::apptainer_env_from(none).empty());
    EXPECT_TRUE(gantry::engine::apptainer_env_from(nullptr).empty());
}

} // namespace apptainer_env_test
