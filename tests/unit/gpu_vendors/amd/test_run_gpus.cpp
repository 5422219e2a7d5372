// Tests of a run's AMD GPUs (the GPU layer's one step, gpu_vendors::add_gpus, over AMD's CDI
// description) on simulated hosts (tests/fixtures/amdhost): the device edits,
// ROCR_VISIBLE_DEVICES, the groups per caller kind, AMD's docker line (--device /dev/kfd) not
// doubled, a missing node and the access check's message; and that gantry's seccomp profile
// leaves the NUMA syscalls ROCm's thunk makes allowed (docker's requires CAP_SYS_NICE for them).
#include "amdhost_tree.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "gpu_vendors/amd/backend.hpp"
#include "gpu_vendors/amd/request.hpp"
#include "gpu_vendors/amd/topology.hpp"
#include "gpu_vendors/device_nodes.hpp"
#include "oci/seccomp_profile.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vendor_amd_run_gpus_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;

namespace {

struct Fixture {
    amdtest::AmdHostTree tree{"mi300x"};
    amd::Host host;
    gpu_vendors::Roots roots;
    Fixture() {
        if (!tree.available()) return;
        host = amd::discover({tree.sys_root(), tree.dev_root()});
        roots.sys_root = tree.sys_root();
        roots.dev_root = tree.dev_root();
        roots.driver_root = tree.sys_root() + "/no-nvidia";
    }
    // gantry run's GPU step for AMD_VISIBLE_DEVICES=VISIBLE (the doctor's verdict only warns:
    // these tests are about the edits)
    std::vector<std::string> run(oci::RuntimeSpec& spec, const std::string& visible,
                                 gpu_vendors::CallerIds caller = {true, 0, 0, false}) {
        std::vector<std::string> env{"AMD_VISIBLE_DEVICES=" + visible};
        std::optional<std::string> gpus;
        gpu_vendors::GpuContext ctx{
            gpu_vendors::Door::run, env, gpus, roots, nullptr, caller, true};
        return gpu_vendors::add_gpus(spec, ctx, std::string("amd"), "", nullptr);
    }
};

std::vector<std::string> paths(const oci::RuntimeSpec& s) {
    std::vector<std::string> out;
    for (auto& d : s.devices) out.push_back(d.path);
    std::sort(out.begin(), out.end());
    return out;
}

const oci::DeviceNode& node_at(const oci::RuntimeSpec& s, const std::string& path) {
    for (auto& d : s.devices)
        if (d.path == path) return d;
    throw std::runtime_error("no device " + path);
}

std::string env_of(const oci::RuntimeSpec& s, const std::string& key) {
    for (auto& e : s.env)
        if (e.starts_with(key + "=")) return e.substr(key.size() + 1);
    return "(unset)";
}

} // namespace

TEST(AmdRunGpus, KfdAndTheSelectedGpusNodesWithTheirUuids) {
    Fixture f;
    if (!f.tree.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    oci::RuntimeSpec spec;
    spec.env = {"PATH=/bin", "ROCR_VISIBLE_DEVICES=0"};
    auto added = f.run(spec, "3,1");
    EXPECT_EQ(added, (std::vector<std::string>{"amd.com/gpu=3", "amd.com/gpu=1"}));
    const auto& g3 = f.host.gpus[3];
    const auto& g1 = f.host.gpus[1];
    std::vector<std::string> want{"/dev/kfd", g3.render.path, g3.card.path, g1.render.path,
                                  g1.card.path};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(paths(spec), want);
    EXPECT_EQ(node_at(spec, "/dev/kfd").host_path, f.tree.dev_root() + "/dev/kfd");
    EXPECT_EQ(node_at(spec, "/dev/kfd").major, f.host.kfd.major);
    EXPECT_EQ(node_at(spec, g3.render.path).host_path, g3.render.host_path);
    EXPECT_EQ(node_at(spec, g3.render.path).minor, g3.drm_render_minor);
    // the image's own value is replaced, once
    EXPECT_EQ(env_of(spec, "ROCR_VISIBLE_DEVICES"), g3.uuid + "," + g1.uuid);
    EXPECT_EQ(std::count_if(spec.env.begin(), spec.env.end(),
                            [](auto& e) { return e.starts_with("ROCR_VISIBLE_DEVICES="); }),
              1);
    // nothing from the host's user space
    EXPECT_TRUE(spec.mounts.empty());
    EXPECT_TRUE(spec.setup.symlinks.empty());
    EXPECT_FALSE(spec.setup.ldconfig);
    EXPECT_TRUE(spec.hooks.empty());
}

TEST(AmdRunGpus, GroupsPerCallerKind) {
    Fixture f;
    if (!f.tree.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    oci::RuntimeSpec root;
    f.run(root, "0");
    // real root: the nodes' gids (render 109 and video 44 on the simulated host when it could
    // chown them), never gid 0
    for (auto& d : root.devices) {
        if (d.gid != 0) {
            EXPECT_NE(std::find(root.additional_gids.begin(), root.additional_gids.end(), d.gid),
                      root.additional_gids.end());
        }
    }
    EXPECT_EQ(std::count(root.additional_gids.begin(), root.additional_gids.end(), 0u), 0);
    EXPECT_FALSE(root.annotations.count(gpu_vendors::kKeepGroupsAnnotation));

    // Rootless callers are checked with access(2) as themselves: as root here that passes.
    bool any_gid = std::any_of(root.devices.begin(), root.devices.end(),
                               [](const oci::DeviceNode& d) { return d.gid != 0; });
    oci::RuntimeSpec subid;
    f.run(subid, "0", {false, ::getuid(), ::getgid(), true});
    EXPECT_EQ(subid.annotations.count(gpu_vendors::kKeepGroupsAnnotation), any_gid ? 1u : 0u);
    EXPECT_TRUE(subid.additional_gids.empty());

    oci::RuntimeSpec single;
    f.run(single, "0", {false, ::getuid(), ::getgid(), false});
    EXPECT_FALSE(single.annotations.count(gpu_vendors::kKeepGroupsAnnotation));
    EXPECT_TRUE(single.additional_gids.empty());
}

TEST(AmdRunGpus, AmdsDockerLineIsNotDoubled) {
    Fixture f;
    if (!f.tree.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    oci::RuntimeSpec spec;
    oci::DeviceNode kfd;
    kfd.path = "/dev/kfd";
    kfd.host_path = "/somewhere/kfd";
    spec.devices.push_back(kfd);
    f.run(spec, "0");
    auto p = paths(spec);
    EXPECT_EQ(std::count(p.begin(), p.end(), "/dev/kfd"), 1);
    EXPECT_EQ(node_at(spec, "/dev/kfd").host_path, "/somewhere/kfd"); // the user's --device wins
    EXPECT_EQ(spec.devices.size(), 3u);
}

TEST(AmdRunGpus, MissingNodeIsRunFailed) {
    Fixture f;
    if (!f.tree.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    ASSERT_EQ(::unlink((f.tree.dev_root() + "/dev/kfd").c_str()), 0);
    oci::RuntimeSpec spec;
    try {
        f.run(spec, "0");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::run_failed);
        EXPECT_NE(e.message().find("dev/kfd"), std::string::npos);
        EXPECT_NE(e.hint().find("--dev-root"), std::string::npos);
    }
    EXPECT_TRUE(spec.devices.empty()); // nothing half-done
}

// The caller cannot open the node: the message names it, its mode, group and gid, and the fix.
// Checked in a child that drops to an unprivileged uid without the node's group.
TEST(AmdRunGpus, AccessDeniedNamesNodeGroupAndFix) {
    Fixture f;
    if (!f.tree.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    gpu_host::DeviceNode node = f.host.kfd;
    ASSERT_EQ(::chmod(node.host_path.c_str(), 0660), 0);
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(node.host_path.c_str(), 0, 4242), 0);
    }
    node.gid = 4242;
    node.mode = 0660;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        if (::geteuid() == 0 &&
            (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
            ::_exit(2);
        std::string out;
        try {
            gpu_vendors::amd::check_access(node, "the ROCm compute node",
                                           {false, 65534, 65534, false});
            out = "no error";
        } catch (const Error& e) {
            out = std::to_string(static_cast<int>(e.code())) + "\n" + e.message() + "\n" + e.hint();
        }
        (void)!::write(fds[1], out.data(), out.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, n);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << got;
    if (::geteuid() != 0 && ::access(node.host_path.c_str(), R_OK | W_OK) == 0)
        GTEST_SKIP() << "this user can open the node";
    EXPECT_EQ(got.substr(0, got.find('\n')), std::to_string(static_cast<int>(Errc::run_failed)));
    EXPECT_NE(got.find("/dev/kfd"), std::string::npos) << got;
    EXPECT_NE(got.find("gid 4242"), std::string::npos) << got;
    EXPECT_NE(got.find("mode 0660"), std::string::npos) << got;
    EXPECT_NE(got.find("uid 65534"), std::string::npos) << got;
    EXPECT_NE(got.find("udev"), std::string::npos) << got;
    // near miss: a node everyone may open passes
    ASSERT_EQ(::chmod(node.host_path.c_str(), 0666), 0);
    EXPECT_NO_THROW(
        gpu_vendors::amd::check_access(node, "x", {false, ::getuid(), ::getgid(), false}));
}

// docker's default profile allows these only with CAP_SYS_NICE (moby #37241; containerd
// #7167, #13610); libhsakmt calls mbind (bind_mem_to_numa) and libnuma's numa_available calls
// get_mempolicy. gantry's default profile must leave them all allowed.
TEST(AmdSeccomp, NumaSyscallsRocmNeedsAreAllowedByDefault) {
    auto profile = oci::seccomp_profile(oci::default_capabilities());
    EXPECT_TRUE(oci::seccomp_profile_is_default(oci::default_capabilities()));
    for (const char* s : {"mbind", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node",
                          "move_pages", "migrate_pages"}) {
        EXPECT_EQ(std::count(profile.denied.begin(), profile.denied.end(), s), 0) << s;
        EXPECT_EQ(std::count(oci::seccomp_denylist().begin(), oci::seccomp_denylist().end(), s), 0)
            << s;
    }
    // near miss: the test would see a denied one
    EXPECT_EQ(std::count(profile.denied.begin(), profile.denied.end(), "kcmp"), 1);
}

} // namespace vendor_amd_run_gpus_test
