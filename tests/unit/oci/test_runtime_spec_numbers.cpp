// oci::RuntimeSpec::from_json's integer fields (issue 36, fuzz_oci_bundle's finding): a JSON
// number that is not an integer in the field's range is refused, naming the field. Before,
// nlohmann's get<unsigned>() converted 4.3e115 to an integer (undefined behaviour; UBSan:
// "outside the range of representable values") and wrapped -1 into 4294967295.
// The input: fuzz/regressions/oci_bundle/crash-859837d7...
#include "oci/runtime_spec.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>

namespace oci_runtime_spec_numbers_test {

using gantry::Error;
using gantry::oci::RuntimeSpec;

std::string refusal(const std::string& text) {
    try {
        RuntimeSpec::from_json(nlohmann::json::parse(text));
    } catch (const Error& e) {
        return e.message();
    }
    return "accepted";
}

std::string spec_with(const std::string& process_extra, const std::string& linux_part = "{}") {
    return R"({"root": {"path": "rootfs"}, "process": {"args": ["true"])" + process_extra +
           R"(}, "linux": )" + linux_part + "}";
}

TEST(RuntimeSpecNumbers, FloatsAndOutOfRangeIntegersAreRefusedNamingTheField) {
    EXPECT_NE(refusal(spec_with(R"(, "user": {"uid": 4.34444e+115})")).find("process.user.uid"),
              std::string::npos);
    EXPECT_NE(refusal(spec_with(R"(, "user": {"uid": 0, "gid": -1})")).find("process.user.gid"),
              std::string::npos);
    EXPECT_NE(
        refusal(spec_with(R"(, "user": {"additionalGids": [5, 1.5]})")).find("additionalGids"),
        std::string::npos);
    EXPECT_NE(refusal(spec_with(R"(, "oomScoreAdj": 1e300)")).find("oomScoreAdj"),
              std::string::npos);
    EXPECT_NE(refusal(spec_with(R"(, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1e30,
                                                 "hard": 1}])"))
                  .find("soft"),
              std::string::npos);
    EXPECT_NE(refusal(spec_with("", R"({"uidMappings": [{"containerID": 0, "hostID": 1e99,
                                                        "size": 1}]})"))
                  .find("hostID"),
              std::string::npos);
    EXPECT_NE(refusal(spec_with("", R"({"devices": [{"path": "/dev/x", "major": 1e40}]})"))
                  .find("linux.devices[].major"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"root": {"path": "r"}, "process": {"args": ["t"]},
                          "hooks": {"prestart": [{"path": "/h", "timeout": 3e10}]}})")
                  .find("hooks[].timeout"),
              std::string::npos);
}

TEST(RuntimeSpecNumbers, IntegersInRangeAreRead) {
    auto s = RuntimeSpec::from_json(nlohmann::json::parse(spec_with(
        R"(, "user": {"uid": 4294967295, "gid": 7, "additionalGids": [1, 2], "umask": 18},
             "oomScoreAdj": -1000,
             "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 18446744073709551615, "hard": 2}])",
        R"({"devices": [{"path": "/dev/x", "major": -1, "minor": 3}]})")));
    EXPECT_EQ(s.uid, 4294967295u);
    EXPECT_EQ(s.gid, 7u);
    EXPECT_EQ(s.additional_gids, (std::vector<std::uint32_t>{1, 2}));
    EXPECT_EQ(s.oom_score_adj, -1000);
    ASSERT_EQ(s.rlimits.size(), 1u);
    ASSERT_EQ(s.devices.size(), 1u);
    EXPECT_EQ(s.devices[0].major, -1);
    EXPECT_EQ(s.devices[0].file_mode, 0666u);
}

TEST(RuntimeSpecMounts, ABindOptionMakesABindMountWhateverTheType) {
    // as runc's specconv: `runc spec --rootless` binds /sys with type "none"
    auto s = RuntimeSpec::from_json(nlohmann::json::parse(
        R"({"root": {"path": "rootfs"}, "process": {"args": ["true"]}, "mounts": [)"
        R"({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind"]},)"
        R"({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}]})"));
    ASSERT_EQ(s.mounts.size(), 2u);
    EXPECT_EQ(s.mounts[0].type, "bind");
    EXPECT_EQ(s.mounts[1].type, "tmpfs");
}

// The one default list of each (issue 74): runc's template is the first part of the masked paths,
// and the nodes a container's own /dev gets are the default rules that name a path.
TEST(RuntimeSpecDefaults, OneListOfMaskedPathsAndOfDevices) {
    const auto& masked = gantry::oci::default_masked_paths();
    auto runc = gantry::oci::runc_masked_paths();
    ASSERT_EQ(runc.size() + 1, masked.size());
    EXPECT_EQ(runc.front(), "/proc/acpi");
    EXPECT_EQ(runc.back(), "/proc/scsi");
    EXPECT_EQ(masked.back(), "/sys/devices/virtual/powercap");
    auto nodes = gantry::oci::default_device_nodes();
    std::string listed;
    for (const auto& n : nodes)
        listed +=
            n.path + "=" + n.type + std::to_string(n.major) + ":" + std::to_string(n.minor) + " ";
    EXPECT_EQ(listed, "/dev/null=c1:3 /dev/random=c1:8 /dev/full=c1:7 /dev/tty=c5:0 "
                      "/dev/zero=c1:5 /dev/urandom=c1:9 ");
    EXPECT_EQ(gantry::oci::default_devices().size(), nodes.size() + 5); // m c, m b, pts, ptmx, tun
}

} // namespace oci_runtime_spec_numbers_test
