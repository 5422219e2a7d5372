// The proof that a GPU vendor is a folder and one registration: the stub vendor of this folder
// (stub_backend.cpp, not shipped) registers itself and is then chosen and injected by a run,
// described by `cdi generate`, checked by `doctor`, hidden from a build's RUN
// steps, read by `--keep-arch host`, classed by analyze, listed for the Slurm plugin, and its
// host-root flag is among those every command declares; taken out again, nothing of it is left.
// Its lint rules and analyze finding: test_stub_rules.cpp.
#include "../../support/temp_dir.hpp"
#include "analyze/model.hpp"
#include "cdi/spec_write.hpp"
#include "engine/options.hpp"
#include "engine/request_json.hpp"
#include "engine_api/create_body.hpp"
#include "engine_api/request.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "image_build/gpu_arch.hpp"
#include "stub_backend.hpp"
#include "tailor/file.hpp"
#include "tailor/tailor.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>

namespace stub_vendor_test {

using namespace gantry;

namespace {

// The stub registered for one test, and a simulated host with its device node.
struct StubHost {
    unit_support::TempDir dir{"gantry-stub-vendor"};
    gpu_vendors::Roots roots;
    StubHost() {
        gpu_vendors::register_backend(stub_vendor::backend());
        roots = {dir.path.string(), dir.path.string(), dir.path.string()};
        roots.more["--stub-root"] = dir.path.string();
        std::filesystem::create_directories(dir.path / "dev");
        std::ofstream(dir.path / "dev" / "stub0") << "";
    }
    ~StubHost() { gpu_vendors::unregister_backend(stub_vendor::backend()); }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

} // namespace

TEST(StubVendor, RegistersItsNameFlagAndHiddenEnvironment) {
    {
        StubHost h;
        EXPECT_EQ(&gpu_vendors::find("stub"), &stub_vendor::backend());
        EXPECT_EQ(gpu_vendors::backends().back()->name(), "stub");
        EXPECT_EQ(gpu_vendors::backends().front()->name(), "nvidia"); // still the default
        std::vector<std::string> flags;
        for (auto& f : gpu_vendors::host_root_flags()) flags.emplace_back(f.name);
        EXPECT_EQ(flags, (std::vector<std::string>{"--driver-root", "--dev-root", "--sys-root",
                                                   "--stub-root"}));
        // a flag several vendors read describes each of them, not the first one alone
        EXPECT_EQ(gpu_vendors::root_flag_help("--driver-root"),
                  "Root of the GPU driver installation (NVIDIA: its libraries, binaries and "
                  "firmware; AMD on WSL2: usr/lib/wsl, opt/rocm; Intel: Level Zero and the "
                  "compute runtime)");
        EXPECT_EQ(gpu_vendors::root_flag_help("--sys-root"),
                  "Root holding sys/ (NVIDIA: a Jetson's SoC, in devices/soc0 and the device tree; "
                  "AMD: the KFD topology and amdgpu's version; Intel: the DRM cards)");
        EXPECT_EQ(gpu_vendors::root_flag_help("--dev-root"),
                  "Root holding dev/ (GPU device nodes)");
        EXPECT_EQ(gpu_vendors::root_flag_help("--stub-root"),
                  "Root holding the stub driver's dev/stub0");
        EXPECT_EQ(gpu_vendors::root_flag_help("--no-such-root"), "");
        EXPECT_TRUE(has(gpu_vendors::hide_gpus_env(), "STUB_VISIBLE_DEVICES=void"));
        EXPECT_TRUE(has(gpu_vendors::hide_gpus_env(), "NVIDIA_VISIBLE_DEVICES=void"));
        try {
            gpu_vendors::register_backend(stub_vendor::backend());
            ADD_FAILURE() << "a second registration of the same name was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
        }
    }
    // unregistered: gone from every list
    EXPECT_THROW(gpu_vendors::find("stub"), Error);
    std::size_t hiding = 0; // a vendor no variable asks for (Intel) has none
    for (const auto* b : gpu_vendors::backends()) hiding += !b->hide_env().empty();
    EXPECT_EQ(gpu_vendors::hide_gpus_env().size(), hiding);
    for (auto& f : gpu_vendors::host_root_flags()) EXPECT_NE(f.name, "--stub-root");
}

TEST(StubVendor, IsChosenAndInjectedByARun) {
    StubHost h;
    std::vector<std::string> env{"STUB_VISIBLE_DEVICES=all"};
    const gpu_vendors::Backend* b = gpu_vendors::for_run(h.roots, std::nullopt, env, std::nullopt);
    if (gpu_vendors::find("nvidia").present(h.roots) || gpu_vendors::find("amd").present(h.roots))
        b = gpu_vendors::for_run(h.roots, std::string("stub"), env, std::nullopt); // a GPU host
    ASSERT_EQ(b, &stub_vendor::backend());
    std::optional<std::string> gpus;
    gpu_vendors::GpuContext ctx{gpu_vendors::Door::run, env, gpus, h.roots};
    oci::RuntimeSpec spec;
    auto added = gpu_vendors::add_gpus(spec, ctx, std::string("stub"), "", nullptr);
    EXPECT_EQ(added, std::vector<std::string>{"stub.example/gpu=0"});
    EXPECT_TRUE(has(spec.env, "STUB_INJECTED=" + h.dir.path.string() + "/dev/stub0"));
    ASSERT_EQ(spec.devices.size(), 1u); // its CDI description, through the one applier
    EXPECT_EQ(spec.devices[0].path, "/dev/stub0");
    // the other doors, `gantry bundle` and `gantry oci`, through the same step
    for (auto door : {gpu_vendors::Door::bundle, gpu_vendors::Door::oci}) {
        gpu_vendors::GpuContext other{door, env, gpus, h.roots};
        oci::RuntimeSpec bundle;
        EXPECT_EQ(gpu_vendors::add_gpus(bundle, other, std::string("stub"), "", nullptr),
                  std::vector<std::string>{"stub.example/gpu=0"});
        ASSERT_EQ(bundle.devices.size(), 1u);
        EXPECT_EQ(bundle.devices[0].path, "/dev/stub0");
    }
}

TEST(StubVendor, ItsOwnVariablePicksItOnAHostWithNvidiasGpusToo) {
    // a node with two vendors' GPUs: the variable names the vendor (AMD_VISIBLE_DEVICES went to
    // NVIDIA's backend, the default, and the container got no GPU)
    StubHost h;
    std::ofstream(h.dir.path / "dev" / "nvidiactl") << "";
    ASSERT_TRUE(gpu_vendors::find("nvidia").present(h.roots));
    std::vector<std::string> env{"STUB_VISIBLE_DEVICES=all"};
    EXPECT_EQ(gpu_vendors::for_run(h.roots, std::nullopt, env, std::nullopt),
              &stub_vendor::backend());
    env = {"NVIDIA_VISIBLE_DEVICES=all"};
    EXPECT_EQ(gpu_vendors::for_run(h.roots, std::nullopt, env, std::nullopt)->name(), "nvidia");
    env = {"STUB_VISIBLE_DEVICES=all"}; // --gpu-vendor still decides
    EXPECT_EQ(gpu_vendors::for_run(h.roots, std::string("nvidia"), env, std::nullopt)->name(),
              "nvidia");
}

TEST(StubVendor, IsDescribedByCdiGenerateAndCheckedByDoctor) {
    StubHost h;
    const gpu_vendors::Backend& b = gpu_vendors::choose(h.roots, std::string("stub"));
    auto spec = b.generate_cdi(h.roots, {}, nullptr);
    std::string yaml = cdi::serialize(spec, cdi::Format::yaml);
    EXPECT_NE(yaml.find("kind: stub.example/gpu"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("/dev/stub0"), std::string::npos) << yaml;

    gpu_vendors::DoctorContext ctx{h.roots};
    auto findings = gpu_vendors::doctor(b, ctx);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].id, "STUB-HOST");
    std::filesystem::remove(h.dir.path / "dev" / "stub0");
    EXPECT_EQ(gpu_vendors::doctor(b, ctx).at(0).id, "STUB-NO-DRIVER");
}

TEST(StubVendor, KeepArchHostReadsItsTargetsAndHintsNameIt) {
    StubHost h;
    if (!gpu_vendors::find("nvidia").present(h.roots) &&
        !gpu_vendors::find("amd").present(h.roots)) {
        EXPECT_EQ(gpu_vendors::host_targets(h.roots), std::vector<std::string>{"stub1"});
    }
    EXPECT_TRUE(has(gpu_vendors::host_targets(h.roots), "stub1"));
    std::filesystem::remove(h.dir.path / "dev" / "stub0");
    if (gpu_vendors::find("nvidia").present(h.roots)) return; // the hint is for a host without GPUs
    try {
        gpu_vendors::host_targets(h.roots);
        ADD_FAILURE() << "a host without GPUs gave targets";
    } catch (const Error& e) {
        EXPECT_NE(e.hint().find("--keep-arch stub1 (stub code)"), std::string::npos) << e.hint();
        EXPECT_NE(e.hint().find("--stub-root"), std::string::npos) << e.hint();
    }
}

} // namespace stub_vendor_test

namespace stub_vendor_test {

// The device-code facet: the stub's format is parsed by --keep-arch, rewritten by tailor beside
// CUDA's and HIP's, counted per target, listed by doctor --fatbin, and gives build --gpu-arch its
// variables; a build's Engine API device request may name the vendor as its driver. Unregistered,
// nothing of it is known.
TEST(StubVendor, ItsDeviceCodeFormatReachesKeepArchTailorListingAndBuildVariables) {
    EXPECT_THROW(tailor::parse_keep_list("stub7"), Error); // the near miss: not registered
    StubHost h;
    auto keep = tailor::parse_keep_list("sm_90,stub7");
    EXPECT_EQ(keep.targets("stub"), std::vector<std::string>{"stub7"});
    EXPECT_EQ(keep.targets("cuda"), std::vector<std::string>{"sm_90"});
    EXPECT_EQ(keep.str(), "sm_90,stub7 (+newest PTX)");

    std::string file = "ELF?....STUBCODE:stub7:0123456789abcdef....STUBCODE:stub9:fedcba9876543210";
    const std::string before = file;
    const device_code::Format* stub = nullptr;
    for (const device_code::Format* f : gpu_vendors::device_code_formats())
        if (f->name() == "stub") stub = f;
    ASSERT_NE(stub, nullptr);
    EXPECT_EQ(stub->target_bytes(file, "f"),
              (std::map<std::string, std::uint64_t>{{"stub7", 31}, {"stub9", 31}}));
    auto reports = tailor::tailor_file(file, keep, "/lib/libk.so");
    ASSERT_EQ(reports.size(), 1u); // no CUDA or HIP code: only the stub's report
    EXPECT_EQ(reports[0].vendor, "stub");
    EXPECT_EQ(reports[0].outcome, device_code::FileReport::Outcome::changed);
    EXPECT_EQ(reports[0].zeroed, 31u);
    EXPECT_EQ(file.size(), before.size());
    EXPECT_EQ(file.substr(0, 39), before.substr(0, 39)); // the kept object untouched
    EXPECT_EQ(file.find("stub9"), std::string::npos);
    EXPECT_EQ(stub->target_bytes(file, "f"), (std::map<std::string, std::uint64_t>{{"stub7", 31}}));

    auto path = h.dir.path / "libk.so";
    std::ofstream(path, std::ios::binary) << before;
    auto listing = stub->list(path.string());
    EXPECT_TRUE(listing.found);
    ASSERT_EQ(listing.tables.size(), 1u);
    EXPECT_EQ(listing.tables[0].size(), 3u); // header + two objects

    auto env = image_build::gpu_arch_env("stub7,gfx90a", h.roots);
    EXPECT_EQ(env["STUB_ARCH"], "stub7");
    EXPECT_EQ(env["PYTORCH_ROCM_ARCH"], "gfx90a");
    EXPECT_EQ(env["GANTRY_GPU_ARCH"], "gfx90a,stub7"); // registry order: AMD's before the stub's

    auto request = engine_api::create_request(
        nlohmann::json::parse(
            R"({"Image":"i","HostConfig":{"DeviceRequests":[{"Driver":"stub","Count":-1}]}})"),
        "");
    EXPECT_EQ(request.gpu_vendor, "stub");
    try {
        engine_api::create_request(
            nlohmann::json::parse(
                R"({"Image":"i","HostConfig":{"DeviceRequests":[{"Driver":"bogus","Count":-1}]}})"),
            "");
        ADD_FAILURE() << "an unknown driver was taken";
    } catch (const engine_api::ApiError& e) {
        EXPECT_NE(std::string(e.what()).find("stub"), std::string::npos) << e.what();
    }
}

} // namespace stub_vendor_test

namespace stub_vendor_test {

// Apptainer's GPU flags are the vendors' (Backend::apptainer_flag): the stub's is --gpus all with
// the stub; two vendors' at once, or one beside another --gpus, are refused naming them. A
// request written before the flags were a vendor's (nv/rocm fields) still reads.
TEST(StubVendor, ItsApptainerFlagIsGpusAllWithTheStub) {
    StubHost h;
    engine::RunRequest r;
    r.apptainer_gpu_flags["--stub-gpus"] = true;
    engine::fold_apptainer_gpu_flags(r);
    EXPECT_EQ(r.gpus, "all");
    EXPECT_EQ(r.gpu_vendor, "stub");
    engine::RunRequest two;
    two.apptainer_gpu_flags = {{"--nv", true}, {"--stub-gpus", true}};
    try {
        engine::fold_apptainer_gpu_flags(two);
        ADD_FAILURE() << "two vendors' flags were taken";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "--nv and --stub-gpus ask for two vendors' GPUs at once");
    }
    engine::RunRequest other;
    other.apptainer_gpu_flags["--stub-gpus"] = true;
    other.gpus = "0";
    EXPECT_THROW(engine::fold_apptainer_gpu_flags(other), Error);
    auto legacy = engine::request_from_json(
        nlohmann::json::parse(R"({"image":"i","nv":true,"rocm":false})"), "request.json");
    EXPECT_EQ(legacy.apptainer_gpu_flags, (std::map<std::string, bool>{{"--nv", true}}));
}

} // namespace stub_vendor_test

namespace stub_vendor_test {

// What the vendor-neutral modules once named CUDA for (analyze's compilers, slim's --no-ptx),
// and what the Slurm plugin asks of a vendor, the stub answers from its own folder: analyze
// classes its compiler and tool tree as DEVEL-TOOLCHAIN, its format's keep option is one of the
// flags slim, tailor and analyze declare, and the lists `gantry __slurm-gpu-vendors` prints for
// the plugin (the variables Slurm numbers GPUs in, the host-root flags plugstack.conf's
// NAME_root= may name) hold its variable and --stub-root. Unregistered, none of it is left.
TEST(StubVendor, ReachesAnalyzeKeepOptionsAndSlurm) {
    auto has_option = [](const char* flag) {
        for (const auto& o : tailor::keep_options())
            if (std::string_view(o.flag) == flag) return true;
        return false;
    };
    auto root_flags = [] {
        std::vector<std::string> names;
        for (const auto& f : gpu_vendors::host_root_flags()) names.emplace_back(f.name);
        return names;
    };
    {
        StubHost h;
        EXPECT_EQ(analyze::path_class("usr/bin/stubcc", analyze::Kind::file), "toolchain");
        EXPECT_EQ(analyze::path_class("opt/stub/tools/profiler.py", analyze::Kind::file),
                  "toolchain");
        EXPECT_EQ(analyze::path_class("usr/bin/nvcc", analyze::Kind::file), "toolchain");

        EXPECT_TRUE(has_option("--no-stub-spare"));
        EXPECT_TRUE(tailor::parse_keep_list("stub7", {"--no-stub-spare"}).has("--no-stub-spare"));
        EXPECT_THROW(tailor::parse_keep_list("sm_90", {"--no-stub-spare"}), Error);

        auto vars = gpu_vendors::slurm_gpu_variables();
        EXPECT_EQ(vars, (std::vector<std::string>{"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                                                  "GPU_DEVICE_ORDINAL", "ZE_AFFINITY_MASK",
                                                  "STUB_DEVICE_ORDINAL"}));
        EXPECT_TRUE(has(root_flags(), "--stub-root"));
    }
    EXPECT_EQ(analyze::path_class("usr/bin/stubcc", analyze::Kind::file), "");
    EXPECT_EQ(analyze::path_class("opt/stub/tools/profiler.py", analyze::Kind::file), "");
    EXPECT_FALSE(has_option("--no-stub-spare"));
    EXPECT_FALSE(has(gpu_vendors::slurm_gpu_variables(), "STUB_DEVICE_ORDINAL"));
    EXPECT_FALSE(has(root_flags(), "--stub-root"));
}

} // namespace stub_vendor_test
