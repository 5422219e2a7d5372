// Builds a simulated AMD host with the Python builder (tests/fixtures/amdhost/amdhost.py) in a
// temp directory for a unit test, and removes it afterwards. Python runs when the test runs,
// never at build time; without python3 the caller skips (available() says why).
#pragma once

#include "util/fs.hpp"

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace gantry::testing {

class AmdHostFixture {
  public:
    static std::filesystem::path script() {
        return std::filesystem::path(GANTRY_TESTS_DIR) / "fixtures/amdhost/amdhost.py";
    }
    static std::string python() {
        return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    }
    // "" when the builder can run, else why not.
    static std::string unavailable() {
        if (!std::filesystem::exists(script())) return "no " + script().string();
        if (std::system((python() + " --version >/dev/null 2>&1").c_str()) != 0)
            return "no python3";
        return {};
    }

    // Builds SHAPE with the builder's extra ARGS ("--xcp-uids", "--kfd-major 242").
    AmdHostFixture(const std::string& shape, const std::string& args = {}) {
        dir_ = std::filesystem::temp_directory_path() / ("gantry-amdhost-" + fs::unique_name());
        std::string cmd = python() + " '" + script().string() + "' build --shape " + shape + " " +
                          args + " '" + dir_.string() + "' >/dev/null 2>&1";
        ok_ = std::system(cmd.c_str()) == 0;
        if (ok_) desc_ = nlohmann::json::parse(fs::read_file(dir_.string() + "/host.json"));
    }
    ~AmdHostFixture() { fs::remove_tree(dir_); }
    AmdHostFixture(const AmdHostFixture&) = delete;
    AmdHostFixture& operator=(const AmdHostFixture&) = delete;

    bool ok() const { return ok_; }
    std::string sys() const { return dir_.string() + "/sys"; }
    std::string dev() const { return dir_.string() + "/dev"; }
    const nlohmann::json& desc() const { return desc_; } // host.json
    bool real_nodes() const { return ok_ && desc_["real_nodes"].get<bool>(); }

  private:
    std::filesystem::path dir_;
    bool ok_ = false;
    nlohmann::json desc_;
};

} // namespace gantry::testing
