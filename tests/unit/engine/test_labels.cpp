// A container's labels: the image's, then --label-file's lines, then -l, as docker merges them.
#include "engine/labels.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace engine_labels_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::container_labels;

TEST(ContainerLabels, ImageThenFilesThenFlags) {
    auto dir =
        std::filesystem::temp_directory_path() / ("gantry-labels-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto file = (dir / "labels").string();
    std::ofstream(file) << "# a comment\n\n  tier=file\r\nfrom.file=yes\nempty\n";
    auto l = container_labels({{"vendor", "acme"}, {"tier", "image"}, {"n", 1}},
                              {"tier=flag", "x=a=b", "bare"}, {file});
    std::map<std::string, std::string> want{{"vendor", "acme"},   {"tier", "flag"},
                                            {"from.file", "yes"}, {"empty", ""},
                                            {"x", "a=b"},         {"bare", ""}};
    EXPECT_EQ(l, want);
    try {
        container_labels(nullptr, {"=v"}, {});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.message().find("label \"=v\" has no key"), std::string::npos) << e.message();
    }
    std::ofstream(file) << "ok=1\n=bad\n";
    try {
        container_labels(nullptr, {}, {file});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find(file + ":2"), std::string::npos) << e.message();
    }
    EXPECT_THROW(container_labels(nullptr, {}, {(dir / "none").string()}), Error);
    EXPECT_THROW(container_labels(nullptr, {"k=" + std::string(70000, 'v')}, {}), Error);
    std::filesystem::remove_all(dir);
}

} // namespace engine_labels_test
