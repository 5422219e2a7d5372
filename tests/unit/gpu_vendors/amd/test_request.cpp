// Tests of the AMD request (gpu_vendors/amd/request.hpp): every AMD_VISIBLE_DEVICES form AMD's
// container toolkit reads, --gpus through docker's grammar overriding it, the errors that name the
// flag or variable, and the selection against a host (index, UUID, 0x unique id, order, repeats,
// unknown).
#include "gpu_vendors/amd/request.hpp"
#include "util/error.hpp"

#include <functional>
#include <gtest/gtest.h>

namespace gpu_amd_request_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;
using Strings = std::vector<std::string>;

namespace {

amd::GpuRequest env_request(const std::string& value) {
    return amd::parse_request({"PATH=/bin", "AMD_VISIBLE_DEVICES=" + value}, std::nullopt);
}

// The error of F (code and message), or a failure when F does not throw.
Error error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(Errc::internal, "");
}

amd::Host three_gpus() {
    amd::Host h;
    h.usable = true;
    for (int i = 0; i < 3; ++i) {
        amd::Gpu g;
        g.index = i;
        g.unique_id = 0xECFF3F5547B240C7ull - static_cast<unsigned>(i);
        g.uuid = amd::uuid_of(*g.unique_id);
        g.gfx_target = "gfx942";
        h.gpus.push_back(g);
    }
    return h;
}

std::vector<int> indices(const amd::Selection& s) {
    std::vector<int> out;
    for (auto* g : s.gpus) out.push_back(g->index);
    return out;
}

} // namespace

TEST(AmdRequest, NoRequestWithoutFlagOrVariable) {
    auto r = amd::parse_request({"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all"}, std::nullopt);
    EXPECT_FALSE(r.inject);
    EXPECT_TRUE(r.source.empty());
}

TEST(AmdRequest, AllNoneVoidAndEmpty) {
    for (const char* v : {"all", "All", "ALL", " all ", "\"all\"", "0,all"}) {
        auto r = env_request(v);
        EXPECT_TRUE(r.inject && r.all) << v;
        EXPECT_EQ(r.source, "AMD_VISIBLE_DEVICES");
    }
    for (const char* v : {"none", "void", "", "NONE", "0,void", " "}) {
        auto r = env_request(v);
        EXPECT_FALSE(r.inject) << v;
        EXPECT_FALSE(r.all) << v;
    }
}

TEST(AmdRequest, IndicesRangesIdsAndUuids) {
    EXPECT_EQ(env_request("0,2").devices, (Strings{"0", "2"}));
    EXPECT_EQ(env_request("0-3").devices, (Strings{"0", "1", "2", "3"}));
    EXPECT_EQ(env_request("1, 3-4 ,007").devices, (Strings{"1", "3", "4", "7"}));
    EXPECT_EQ(env_request("2-2").devices, (Strings{"2"}));
    EXPECT_EQ(env_request("0xEF2C1799A1F3E2ED").devices, (Strings{"0xef2c1799a1f3e2ed"}));
    EXPECT_EQ(env_request("0x1").devices, (Strings{"0x0000000000000001"}));
    EXPECT_EQ(env_request("GPU-ECFF3F5547B240C7,gpu-ecff3f5547b140c6").devices,
              (Strings{"GPU-ecff3f5547b240c7", "GPU-ecff3f5547b140c6"}));
    auto r = env_request("0,0x2,GPU-0000000000000003");
    EXPECT_TRUE(r.inject);
    EXPECT_FALSE(r.all);
    EXPECT_EQ(r.devices.size(), 3u);
}

TEST(AmdRequest, MalformedValuesAreUsageErrorsNamingTheVariable) {
    for (const char* v : {"abc", "3-1", "1-", "-1", "0x", "0xZZ", "0x12345678901234567", "99999",
                          "1-5000", "GPU-xyz!", "1:0", "0,,x"}) {
        auto e = error_of([&] { env_request(v); });
        EXPECT_EQ(e.code(), Errc::usage) << v;
        EXPECT_NE(e.message().find("AMD_VISIBLE_DEVICES"), std::string::npos) << v;
        EXPECT_NE(e.hint().find("0-3"), std::string::npos) << v;
    }
}

TEST(AmdRequest, GpusFlagOverridesTheVariable) {
    Strings env{"AMD_VISIBLE_DEVICES=0"};
    auto all = amd::parse_request(env, std::string("all"));
    EXPECT_TRUE(all.inject && all.all);
    EXPECT_EQ(all.source, "--gpus");
    EXPECT_EQ(amd::parse_request(env, std::string("2")).devices, (Strings{"0", "1"}));
    EXPECT_EQ(amd::parse_request(env, std::string("device=0,2")).devices, (Strings{"0", "2"}));
    EXPECT_EQ(amd::parse_request(env, std::string("\"device=1-2\"")).devices, (Strings{"1", "2"}));
    EXPECT_EQ(amd::parse_request(env, std::string("device=0xabc")).devices,
              (Strings{"0x0000000000000abc"}));
    EXPECT_EQ(amd::parse_request(env, std::string("GPU-ECFF3F5547B240C7")).devices,
              (Strings{"GPU-ecff3f5547b240c7"}));
    EXPECT_FALSE(amd::parse_request(env, std::string("device=void")).inject);
    // docker's driver=: this vendor's name, not another's
    EXPECT_TRUE(amd::parse_request(env, std::string("all,driver=amd")).all);
    EXPECT_THROW(amd::parse_request(env, std::string("all,driver=nvidia")), gantry::Error);
    // near miss: without --gpus the variable decides
    EXPECT_EQ(amd::parse_request(env, std::nullopt).devices, (Strings{"0"}));
}

TEST(AmdRequest, MalformedFlagNamesTheFlag) {
    for (const char* v : {"bogus", "device=1:0", "device=x-y", "count=x"}) {
        auto e = error_of([&] { amd::parse_request({}, std::string(v)); });
        EXPECT_EQ(e.code(), Errc::usage) << v;
        EXPECT_NE(e.message().find("--gpus"), std::string::npos) << v << ": " << e.message();
    }
}

TEST(AmdSelect, AllInHostOrder) {
    auto h = three_gpus();
    EXPECT_EQ(indices(amd::select(h, env_request("all"))), (std::vector<int>{0, 1, 2}));
    EXPECT_TRUE(amd::select(h, env_request("void")).gpus.empty());
}

TEST(AmdSelect, ByIndexUuidAndUniqueIdInRequestOrderWithoutRepeats) {
    auto h = three_gpus();
    EXPECT_EQ(indices(amd::select(h, env_request("2,0"))), (std::vector<int>{2, 0}));
    std::string uuid1 = h.gpus[1].uuid;
    EXPECT_EQ(indices(amd::select(h, env_request(uuid1 + ",1,0x" + h.gpus[2].uuid.substr(4)))),
              (std::vector<int>{1, 2}));
    EXPECT_EQ(indices(amd::select(h, env_request("0xECFF3F5547B240C7"))), (std::vector<int>{0}));
    EXPECT_EQ(indices(amd::select(h, env_request("0-1"))), (std::vector<int>{0, 1}));
}

TEST(AmdSelect, UnknownDeviceListsTheHost) {
    auto h = three_gpus();
    for (const char* v : {"3", "0x1", "GPU-0000000000000001", "1-3"}) {
        auto e = error_of([&] { amd::select(h, env_request(v)); });
        EXPECT_EQ(e.code(), Errc::not_found) << v;
        EXPECT_NE(e.message().find("AMD_VISIBLE_DEVICES"), std::string::npos);
        EXPECT_NE(e.message().find(h.gpus[2].uuid), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("gfx942"), std::string::npos);
    }
    // A GPU without a unique id is found by index, never by an id.
    h.gpus[0].unique_id.reset();
    h.gpus[0].uuid.clear();
    EXPECT_EQ(indices(amd::select(h, env_request("0"))), (std::vector<int>{0}));
    EXPECT_EQ(error_of([&] { amd::select(h, env_request("0x0")); }).code(), Errc::not_found);
}

} // namespace gpu_amd_request_test
