// runtime::run_hook (hook_runner.hpp): the OCI state on the hook's stdin, its exit status and its
// timeout, for hooks that read all of their state, none of it, or stop reading.
#include "runtime/hook_runner.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>

namespace runtime_hook_runner_test {

namespace stdfs = std::filesystem;
using gantry::Error;
using gantry::oci::Hook;
using gantry::runtime::detail::run_hook;

namespace {

// A state larger than a pipe holds (64 KiB), so that a hook that does not read it leaves the
// writer blocked or facing a closed pipe.
std::string big_state() {
    std::string pad(200 * 1024, 'x');
    return R"({"ociVersion":"1.2.0","id":"t","status":"created","pid":1,"bundle":"/",)"
           R"("annotations":{"pad":")" +
           pad + "\"}}";
}

Hook sh(const std::string& script, std::optional<int> timeout = std::nullopt) {
    return Hook{"/bin/sh", {"sh", "-c", script}, {"PATH=/usr/bin:/bin"}, timeout};
}

// The message of the Error run_hook throws (fails the test when it throws none).
std::string failure(const Hook& h, const std::string& state, const std::string& cwd = "/") {
    try {
        run_hook("prestart", h, state, nullptr, cwd);
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "the hook did not fail";
    return "";
}

} // namespace

TEST(RunHook, DeliversTheWholeStateOnStdin) {
    char tmpl[] = "/tmp/gantry-hook-XXXXXX";
    stdfs::path dir = ::mkdtemp(tmpl);
    auto state = big_state();
    run_hook("prestart", sh("cat > " + (dir / "got").string()), state);
    std::ifstream in(dir / "got");
    std::stringstream got;
    got << in.rdbuf();
    EXPECT_EQ(got.str(), state);
    stdfs::remove_all(dir);
}

TEST(RunHook, AHookMayIgnoreItsState) {
    EXPECT_NO_THROW(run_hook("prestart", sh("exit 0"), big_state()));
    EXPECT_NO_THROW(run_hook("prestart", sh("exec 0<&-; sleep 0.1"), big_state()));
}

TEST(RunHook, ItsExitStatusIsReportedEvenWhenItReadNothing) {
    // before: "cannot write hook stdin: Broken pipe" whenever the hook exited first
    auto msg = failure(sh("exit 9"), big_state());
    EXPECT_NE(msg.find("prestart hook /bin/sh exited with status 9"), std::string::npos) << msg;
}

TEST(RunHook, TheTimeoutHoldsWhileTheStateIsUnread) {
    // before: gantry blocked in write() on the full pipe, past any timeout
    auto msg = failure(sh("exec sleep 30", 1), big_state());
    EXPECT_NE(msg.find("timed out after 1 s"), std::string::npos) << msg;
}

TEST(RunHook, ItsOutputGoesIntoTheFailureNotOurs) {
    // as runc: a hook's stdout and stderr are kept (at create they would be the container's
    // output) and named in the error when it fails
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    EXPECT_NO_THROW(run_hook("prestart", sh("echo quiet; echo also >&2"), "{}"));
    auto msg = failure(sh("echo to-out; echo to-err >&2; exit 3"), "{}");
    EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    EXPECT_NE(msg.find("exited with status 3: to-out\nto-err"), std::string::npos) << msg;
}

TEST(RunHook, RunsInTheWorkingDirectoryItIsGiven) {
    // gantry oci gives runc's (the bundle, ...); a directory it cannot enter fails it, named
    stdfs::path dir = stdfs::temp_directory_path() / ("hook-cwd-" + std::to_string(::getpid()));
    stdfs::create_directories(dir);
    const std::string out = (dir / "pwd").string();
    EXPECT_NO_THROW(run_hook("prestart", sh("pwd -P > " + out), "{}", nullptr, dir.string()));
    std::ifstream f(out);
    std::string seen;
    std::getline(f, seen);
    EXPECT_EQ(seen, stdfs::canonical(dir).string());
    auto msg = failure(Hook{"/bin/true", {}, {}, std::nullopt}, "{}", (dir / "gone").string());
    EXPECT_NE(msg.find("cannot enter the hook's working directory " + (dir / "gone").string()),
              std::string::npos)
        << msg;
    stdfs::remove_all(dir);
}

} // namespace runtime_hook_runner_test
