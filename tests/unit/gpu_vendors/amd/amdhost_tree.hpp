// Test helper: a simulated AMD host made by tests/fixtures/amdhost/amdhost.py in a temporary
// directory (removed at scope exit). Python runs when a test runs, never at build time; tests
// skip when /usr/bin/python3 or the script is missing.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace gantry::amdtest {

class AmdHostTree {
  public:
    // SHAPE: mi300x, mi250x or rx7900. available() is false when Python or the script is missing.
    explicit AmdHostTree(const std::string& shape, const std::string& extra_args = "") {
        namespace stdfs = std::filesystem;
        const stdfs::path script = stdfs::path(GANTRY_TESTS_DIR) / "fixtures/amdhost/amdhost.py";
        char tmpl[] = "/tmp/gantry-amdhost-XXXXXX";
        if (!::mkdtemp(tmpl)) return;
        base_ = tmpl;
        const std::string python = "/usr/bin/python3";
        if (!stdfs::exists(script) || !stdfs::exists(python)) return;
        const std::string out = base_ + "/host";
        const std::string cmd = python + " '" + script.string() + "' build --shape " + shape + " " +
                                extra_args + " '" + out + "' >/dev/null 2>&1";
        ok_ = std::system(cmd.c_str()) == 0;
    }
    ~AmdHostTree() {
        std::error_code ec;
        if (!base_.empty()) std::filesystem::remove_all(base_, ec);
    }
    AmdHostTree(const AmdHostTree&) = delete;
    AmdHostTree& operator=(const AmdHostTree&) = delete;

    bool available() const { return ok_; }
    std::string base() const { return base_; }
    std::string sys_root() const { return base_ + "/host/sys"; }
    std::string dev_root() const { return base_ + "/host/dev"; }
    std::string topology() const { return sys_root() + "/sys/devices/virtual/kfd/kfd/topology"; }

  private:
    std::string base_;
    bool ok_ = false;
};

} // namespace gantry::amdtest
