// util/config_file: where gantry's config file is, and its text read and parsed with errors that
// name the file.
#include "util/config_file.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <unistd.h>

namespace util_config_file_test {

namespace fs = std::filesystem;
using namespace gantry;

namespace {

// Sets NAME for the test's length and puts back what it was.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace

TEST(ConfigFile, PathPrefersGantryConfigThenTheUsersFile) {
    fs::path dir = fs::temp_directory_path() / ("gantry-config-test-" + std::to_string(::getpid()));
    fs::create_directories(dir / "gantry");
    {
        ScopedEnv explicit_file("GANTRY_CONFIG", "/nonexistent/gantry.yaml");
        EXPECT_EQ(config_file::path(), "/nonexistent/gantry.yaml"); // named: used as it is
    }
    ScopedEnv none("GANTRY_CONFIG", nullptr);
    ScopedEnv xdg("XDG_CONFIG_HOME", dir.c_str());
    EXPECT_NE(config_file::path(), (dir / "gantry/config.yaml").string()); // not there yet
    std::ofstream(dir / "gantry/config.yaml") << "licence_check: warn\n";
    EXPECT_EQ(config_file::path(), (dir / "gantry/config.yaml").string());
    fs::remove_all(dir);
}

TEST(ConfigFile, ErrorsNameTheFileAndTheFix) {
    try {
        config_file::read("/nonexistent/gantry.yaml");
        FAIL() << "read a missing file";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::io);
        EXPECT_NE(e.message().find("/nonexistent/gantry.yaml"), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("GANTRY_CONFIG"), std::string::npos) << e.hint();
    }
    try {
        config_file::parse("a: [1,\nb: 2\n", "/etc/gantry/config.yaml", "e.g. `a: 1`");
        FAIL() << "parsed broken YAML";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("gantry's config file /etc/gantry/config.yaml line "),
                  std::string::npos)
            << e.message();
        EXPECT_EQ(e.hint(), "e.g. `a: 1`");
    }
    EXPECT_EQ(config_file::parse("a: 1\n", "f", "").find("a")->value, "1");
}

} // namespace util_config_file_test
