// The process's working directory in the spec (runspec/builder.hpp): cleaned as docker's daemon
// cleans it (filepath.Clean), so "/../../x" from -w or an image's WorkingDir is /x, which the
// kernel would resolve anyway, instead of a "contains .." refusal at start (issue 36).
#include "oci/runtime_spec.hpp"
#include "runspec/builder.hpp"

#include <gtest/gtest.h>
#include <string>

namespace runspec_workdir_test {

namespace runspec = gantry::runspec;

std::string cwd_of(const std::string& image_dir, const std::string& flag = "") {
    runspec::RunOptions o;
    o.workdir = flag;
    nlohmann::json cfg{{"config", {{"Cmd", {"sh"}}}}};
    if (!image_dir.empty()) cfg["config"]["WorkingDir"] = image_dir;
    return runspec::build(cfg, o).cwd;
}

TEST(RunspecWorkdir, CleanedAsDockersDaemonDoes) {
    EXPECT_EQ(cwd_of(""), "/");
    EXPECT_EQ(cwd_of("/srv"), "/srv");
    EXPECT_EQ(cwd_of("/../../x"), "/x");
    EXPECT_EQ(cwd_of("/srv/"), "/srv");
    EXPECT_EQ(cwd_of("/a/./b/../c"), "/a/c");
    EXPECT_EQ(cwd_of("/srv", "/../.."), "/");
    EXPECT_EQ(cwd_of("/srv", "//work//dir/"), "/work/dir");
}

} // namespace runspec_workdir_test
