// NVIDIA's MPS client (gpu_vendors/nvidia/mps.hpp): where the control daemon is, the client's
// environment, the UID rule's sentence.
#include "gpu_vendors/nvidia/mps.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace nvidia_mps_test {

using gantry::Errc;
using gantry::Error;
namespace nv = gantry::gpu_vendors::nvidia;
namespace stdfs = std::filesystem;

namespace {

struct TempDir {
    stdfs::path path;
    TempDir() {
        std::string t = (stdfs::temp_directory_path() / "gantry-mps-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~TempDir() { stdfs::remove_all(path); }
};

Errc code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::internal;
}

} // namespace

TEST(NvidiaMps, PlaceAndClientEnvironment) {
    auto p = nv::mps_place("", {"CUDA_MPS_PIPE_DIRECTORY=/run/mps/pipe/"},
                           {"CUDA_MPS_PIPE_DIRECTORY=/elsewhere", "CUDA_MPS_LOG_DIRECTORY=/l"});
    EXPECT_EQ(p.pipe_dir, "/run/mps/pipe"); // the container's first, then the caller's
    EXPECT_EQ(p.log_dir, "/l");
    p = nv::mps_place("/flag", {"CUDA_MPS_PIPE_DIRECTORY=/run/mps"}, {});
    EXPECT_EQ(p.pipe_dir, "/flag");
    EXPECT_EQ(p.log_dir, nv::kDefaultMpsLogDir);
    EXPECT_EQ(nv::mps_place("", {}, {}).pipe_dir, nv::kDefaultMpsPipeDir);
    EXPECT_EQ(code_of([&] { nv::mps_place("relative", {}, {}); }), Errc::usage);
    auto env = nv::mps_client_env(p, {1536ull << 20, std::nullopt, 1ull << 30}, 25);
    EXPECT_NE(std::find(env.begin(), env.end(), "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1536M,2=1024M"),
              env.end());
    EXPECT_NE(std::find(env.begin(), env.end(), "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25"), env.end());
    EXPECT_NE(std::find(env.begin(), env.end(), "CUDA_MPS_PIPE_DIRECTORY=/flag"), env.end());
    // no daemon without a control socket
    TempDir t;
    EXPECT_FALSE(nv::find_mps_daemon({t.path.string(), t.path.string()}));
    nv::MpsDaemon d{{"/p", "/l"}, 1000, false};
    EXPECT_EQ(nv::mps_uid_warning(d, 1000), "");
    EXPECT_NE(nv::mps_uid_warning(d, 1001).find("uid 1000"), std::string::npos);
    d.owner = 0;
    EXPECT_EQ(nv::mps_uid_warning(d, 1001), "");
}

} // namespace nvidia_mps_test
