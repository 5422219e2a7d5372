// runtime/keeper: the keeper of a container's mount namespace holds none of gantry's other
// descriptors once await_keeper_dropped returns (a keeper not yet run held the image's flock
// past gantry's exit: CI's `system reset` right after a run found the image in use).
#include "runtime/keeper.hpp"

#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime {
namespace {

// Processes other than this one with a descriptor open on PATH.
int keeper_test_holders(const std::string& path) {
    int n = 0;
    DIR* proc = ::opendir("/proc");
    if (!proc) return -1;
    while (auto* e = ::readdir(proc)) {
        std::string pid = e->d_name;
        if (pid.find_first_not_of("0123456789") != std::string::npos ||
            std::atoi(pid.c_str()) == ::getpid())
            continue;
        std::error_code ec;
        for (auto& fd : std::filesystem::directory_iterator("/proc/" + pid + "/fd", ec)) {
            std::error_code lec;
            if (std::filesystem::read_symlink(fd.path(), lec).string() == path) ++n;
        }
    }
    ::closedir(proc);
    return n;
}

TEST(Keeper, HoldsNoneOfGantrysDescriptorsOnceAwaited) {
    char dir[] = "/tmp/gantry-keeper-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    pid_t child = ::fork(); // the "container": before the descriptor, so it has none
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    std::string marker = std::string(dir) + "/image-lock";
    int fd = ::open(marker.c_str(), O_CREAT | O_RDWR, 0600); // what the keeper must not keep
    ASSERT_GE(fd, 0);
    const int* dropped = keep_mount_namespace(child);
    if (!dropped) { // the paused child would hold ctest's output pipe open for ever
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        ::close(fd);
        std::filesystem::remove_all(dir);
        FAIL() << "no keeper started (Linux < 5.3?)";
    }
    EXPECT_TRUE(await_keeper_dropped(dropped));
    EXPECT_EQ(*dropped, 1);
    EXPECT_EQ(keeper_test_holders(marker), 0);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(fd);
    std::filesystem::remove_all(dir);
    EXPECT_TRUE(await_keeper_dropped(nullptr)); // no keeper: nothing to wait for
}

} // namespace
} // namespace gantry::runtime
