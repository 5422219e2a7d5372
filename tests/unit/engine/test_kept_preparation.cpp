// engine/kept_preparation: what create prepared, kept and read back whole (the spec's fields
// config.json has no place for included), and prepare_again, which starts from it without
// reading the image: a start after the image's name was removed still has its root.
#include "engine/engine.hpp"
#include "engine/kept_preparation.hpp"
#include "fixture_store.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace engine_kept_test {

using gantry::Errc;
using gantry::Error;
using gantry::engine::Caller;
using gantry::engine::KeptPreparation;
using gantry::engine::RunRequest;
using gantry::testing::FixtureStore;
namespace engine = gantry::engine;
namespace oci = gantry::oci;

namespace {

Caller kept_root_caller() {
    Caller c;
    c.real_root = true;
    return c;
}

KeptPreparation kept_round_trip(const KeptPreparation& k) {
    return engine::preparation_from_json(engine::preparation_to_json(k), "prepared.json");
}

} // namespace

TEST(EngineKeptPreparation, TheSpecComesBackWholeWithTheFieldsConfigJsonLacks) {
    KeptPreparation k;
    k.spec.args = {"/bin/sh", "-c", "nvidia-smi"};
    k.spec.env = {"NVIDIA_VISIBLE_DEVICES=0"};
    oci::DeviceNode gpu;
    gpu.path = "/dev/nvidia0";
    gpu.host_path = "/fake/dev/nvidia0";
    gpu.major = 195;
    k.spec.devices = {gpu};
    k.spec.device_rules = {{true, 'c', 195, 0, "rw"},
                           {false, 'a', std::nullopt, std::nullopt, "rwm"}};
    k.spec.setup.symlinks = {{"/usr/lib/libcuda.so", "libcuda.so.1"}};
    k.spec.setup.ld_conf = {{"/etc/ld.so.conf.d/000-gantry.conf", "/usr/lib/gantry\n"}};
    k.spec.setup.ldconfig = true;
    k.spec.setup.host_ldconfig = "/sbin/ldconfig";
    k.spec.setup.overlays = {{"/host/f", "/etc/f"}};
    k.spec.resources.memory.limit = 1 << 20;
    k.spec.resources.pids_limit = 64;
    k.spec.resources.cpu.quota = 150000;
    k.spec.resources.cpu.period = 100000;
    k.spec.resources.cpu.cpus = "0-1";
    k.spec.hooks["createContainer"].push_back(
        oci::Hook{"/usr/bin/hook", {"hook", "x"}, {}, 5, true});
    k.labels = {{"a", "b"}};
    k.manifest = oci::Digest::of("manifest");
    k.diff_ids = {oci::Digest::of("layer 1"), oci::Digest::of("layer 2")};
    auto back = kept_round_trip(k);
    EXPECT_EQ(back.spec.to_json(), k.spec.to_json());
    ASSERT_EQ(back.spec.devices.size(), 1u);
    EXPECT_EQ(back.spec.devices[0].host_path, "/fake/dev/nvidia0");
    EXPECT_EQ(back.spec.device_rules, k.spec.device_rules);
    EXPECT_EQ(back.spec.setup.symlinks, k.spec.setup.symlinks);
    EXPECT_EQ(back.spec.setup.ld_conf, k.spec.setup.ld_conf);
    EXPECT_TRUE(back.spec.setup.ldconfig);
    EXPECT_EQ(back.spec.setup.host_ldconfig, "/sbin/ldconfig");
    EXPECT_EQ(back.spec.setup.overlays, k.spec.setup.overlays);
    EXPECT_EQ(back.spec.resources.to_json(), k.spec.resources.to_json());
    EXPECT_TRUE(back.spec.hooks["createContainer"][0].inherit_env);
    EXPECT_EQ(back.labels, k.labels);
    EXPECT_EQ(back.root, KeptPreparation::Root::store);
    EXPECT_EQ(back.manifest, k.manifest);
    EXPECT_EQ(back.diff_ids, k.diff_ids);

    KeptPreparation sq;
    sq.spec.args = {"true"};
    sq.root = KeptPreparation::Root::squashfs;
    sq.squashfs_file = "/images/app.sqsh";
    auto sq_back = kept_round_trip(sq);
    EXPECT_EQ(sq_back.root, KeptPreparation::Root::squashfs);
    EXPECT_EQ(sq_back.squashfs_file, "/images/app.sqsh");
    EXPECT_TRUE(sq_back.manifest.empty());

    // a damaged record names its file
    auto j = engine::preparation_to_json(k);
    j["root"] = "elsewhere";
    try {
        engine::preparation_from_json(j, "/x/prepared.json");
        FAIL() << "an unknown root was taken";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("/x/prepared.json"), std::string::npos) << e.message();
    }
}

TEST(EngineKeptPreparation, StartRunsWhatCreatePreparedWithoutItsImagesName) {
    FixtureStore fx;
    auto manifest =
        fx.add_image("kept:1", {{"Env", {"PATH=/bin", "IMG=1"}}, {"Cmd", {"/bin/sh"}}},
                     {{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"}, {"bin/sh", "#!"}});
    RunRequest r;
    r.image = "kept:1";
    r.pull = "never";
    r.detach = true;
    r.writable_layer = "disk";
    r.env = {"FLAG=2"};
    std::string id;
    KeptPreparation kept;
    oci::RuntimeSpec spec;
    {
        auto p = engine::prepare(fx.store(), r, kept_root_caller());
        kept = engine::kept_preparation(p);
        spec = p.spec;
        id = p.id;
        p.scratch->keep(); // created: the container and its hold stay
    }
    // the image's name removed (`rmi -f` of an image a container holds): its layers stay
    fx.store().update_refs([](gantry::store::RefMap& refs) { refs.clear(); });
    RunRequest again = r;
    again.container_id = id;
    EXPECT_THROW(engine::prepare(fx.store(), again, kept_root_caller()), Error);
    auto q = engine::prepare_again(fx.store(), again, kept_root_caller(), kept_round_trip(kept));
    EXPECT_EQ(q.spec.to_json(), spec.to_json());
    EXPECT_EQ(q.view.image.manifest_digest, manifest);
    EXPECT_EQ(q.view.image.config.diff_ids, kept.diff_ids);
    EXPECT_EQ(q.id, id);
    EXPECT_EQ(q.scratch->layer(), gantry::store::Layer::disk);
    EXPECT_TRUE(q.scratch->reused());
    EXPECT_TRUE(fx.store().holds().count(id));
}

} // namespace engine_kept_test
