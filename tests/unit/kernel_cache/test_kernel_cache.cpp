// kernel_cache: the key changes with each fact and only with them; the variables leave what the
// container's environment sets; the doctor's finding per disabling variable; the setting's
// words; one writer per key, readers keeping their generation, a publication's whiteouts and
// opaque directories, least-recently-used eviction of unused keys; a key pushed to a shared store
// and a new key started from it, a copy whose facts make another key left alone.
#include "../support/temp_dir.hpp"
#include "kernel_cache/caches.hpp"
#include "kernel_cache/key.hpp"
#include "kernel_cache/shared.hpp"
#include "kernel_cache/variables.hpp"
#include "util/error.hpp"

#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

using namespace gantry;
using namespace gantry::kernel_cache;
namespace stdfs = std::filesystem;

namespace {

KeyFacts facts() {
    KeyFacts f;
    f.image = "sha256:" + std::string(64, 'a');
    f.vendor = "nvidia";
    f.host = {"driver=580.95.05", "cuda=13.0", "targets=sm_90"};
    f.user = 1000;
    return f;
}

void write(const stdfs::path& p, const std::string& text) {
    stdfs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

std::string read(const stdfs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST(KernelCacheKey, ChangesWithEveryFactAndOnlyWithThem) {
    const std::string k = key_of(facts());
    EXPECT_EQ(k.size(), 32u);
    EXPECT_EQ(k, key_of(facts()));
    EXPECT_EQ(k, key_of(KeyFacts::from_json(facts().to_json())));
    auto changed = [&](auto edit) {
        KeyFacts f = facts();
        edit(f);
        return key_of(f) != k;
    };
    EXPECT_TRUE(changed([](KeyFacts& f) { f.image[10] = 'b'; }));
    EXPECT_TRUE(changed([](KeyFacts& f) { f.vendor = "amd"; }));
    EXPECT_TRUE(changed([](KeyFacts& f) { f.host[0] = "driver=550.127.05"; }));
    EXPECT_TRUE(changed([](KeyFacts& f) { f.host[2] = "targets=sm_80"; }));
    EXPECT_TRUE(changed([](KeyFacts& f) { f.user = 0; }));
    EXPECT_THROW(KeyFacts::from_json(nlohmann::json{{"image", "x"}}), Error);
}

// a vendor's variables as gpu_vendors::Backend gives them (tests/unit/gpu_vendors: the real ones)
const std::vector<Variable> kVariables = [] {
    auto v = neutral_variables();
    v.push_back({"CUDA_CACHE_PATH", "nv/ComputeCache", true, false, "PTX JIT"});
    v.push_back({"CUDA_CACHE_MAXSIZE", "4294967296", false, false, "PTX JIT"});
    return v;
}();

TEST(KernelCacheVariables, TheContainersOwnValuesWin) {
    auto added = pointed_env({"PATH=/bin", "TRITON_CACHE_DIR=/opt/triton",
                              "CUDA_CACHE_PATH=", "JAX_COMPILATION_CACHE_DIR=/j"},
                             kVariables);
    auto has = [&](const std::string& e) {
        return std::find(added.begin(), added.end(), e) != added.end();
    };
    EXPECT_TRUE(has(std::string("CCACHE_DIR=") + kMountPath + "/ccache"));
    EXPECT_TRUE(has(std::string("VLLM_CACHE_ROOT=") + kMountPath + "/vllm"));
    EXPECT_TRUE(has("CUDA_CACHE_MAXSIZE=4294967296"));
    for (auto& e : added) {
        EXPECT_NE(e.rfind("TRITON_CACHE_DIR=", 0), 0u) << e;
        EXPECT_NE(e.rfind("CUDA_CACHE_PATH=", 0), 0u) << e; // set, even empty: the image's
        EXPECT_NE(e.rfind("JAX_COMPILATION_CACHE_DIR=", 0), 0u) << e;
    }
    auto dirs = directories(kVariables);
    EXPECT_NE(std::find(dirs.begin(), dirs.end(), "tunableop"), dirs.end());
    EXPECT_NE(std::find(dirs.begin(), dirs.end(), "nv/ComputeCache"), dirs.end());
    EXPECT_EQ(std::find(dirs.begin(), dirs.end(), "4294967296"), dirs.end());
}

TEST(KernelCacheVariables, DoctorNamesEachVariableThatTurnsACacheOff) {
    auto disablers = neutral_disablers();
    disablers.push_back({"CUDA_CACHE_DISABLE", {"1"}, "PTX JIT", "CUDA_CACHE_DISABLE=0"});
    auto f = disabled_caches(
        {"CUDA_CACHE_DISABLE=1", "TORCHINDUCTOR_FX_GRAPH_CACHE=1", "CCACHE_DISABLE="}, disablers);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].id, "KERNEL-CACHE-DISABLED");
    EXPECT_NE(f[0].message.find("CCACHE_DISABLE"), std::string::npos); // any value: ccache(1)
    EXPECT_NE(f[1].message.find("CUDA_CACHE_DISABLE=1"), std::string::npos);
    EXPECT_NE(f[1].fix.find("CUDA_CACHE_DISABLE=0"), std::string::npos);
    EXPECT_TRUE(
        disabled_caches({"CUDA_CACHE_DISABLE=0", "CUDA_CACHE_DISABLE=1", "CUDA_CACHE_DISABLE=0"},
                        disablers)
            .empty()); // the last value counts
}

TEST(KernelCacheSetting, Words) {
    EXPECT_EQ(Setting::parse("", "--kernel-cache").kind, Setting::Kind::off);
    EXPECT_EQ(Setting::parse("off", "--kernel-cache").kind, Setting::Kind::off);
    EXPECT_EQ(Setting::parse("auto", "--kernel-cache").kind, Setting::Kind::automatic);
    auto d = Setting::parse("/scratch//k/", "--kernel-cache");
    EXPECT_EQ(d.kind, Setting::Kind::dir);
    EXPECT_EQ(d.dir, "/scratch/k/");
    EXPECT_EQ(root_of(Setting::parse("auto", "x"), "/s"), stdfs::path("/s/kernel-caches"));
    for (const char* bad : {"relative", "/a,b", "/a:b", "on"}) try {
            Setting::parse(bad, "--kernel-cache");
            ADD_FAILURE() << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage);
            EXPECT_NE(e.message().find("--kernel-cache"), std::string::npos);
        }
}

TEST(KernelCaches, OneWriterReadersKeepTheirGeneration) {
    unit_support::TempDir tmp("kcache-unit");
    auto a = attach(tmp.path, facts(), "aaaa", {directories(kVariables)});
    auto b = attach(tmp.path, facts(), "bbbb", {});
    EXPECT_EQ(a.role, Role::writer);
    EXPECT_EQ(b.role, Role::reader);
    EXPECT_EQ(a.generation.filename(), "gen-0");
    EXPECT_TRUE(stdfs::is_directory(a.generation / "nv/ComputeCache"));
    write(a.upper / "ccache/obj", "from a");
    write(b.upper / "ccache/mine", "from b");
    a.finish();
    auto dir = a.key_dir;
    EXPECT_EQ(stdfs::read_symlink(dir / "current"), "gen-1");
    EXPECT_EQ(read(dir / "gen-1/ccache/obj"), "from a");
    EXPECT_TRUE(stdfs::exists(dir / "gen-0")); // b reads it
    EXPECT_FALSE(stdfs::exists(dir / "runs/aaaa"));
    auto listed = list(tmp.path);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_TRUE(listed[0].in_use);
    EXPECT_FALSE(listed[0].writing);
    EXPECT_THROW(remove(tmp.path, listed[0].key.substr(0, 6)), Error);
    b.finish(); // a reader publishes nothing
    EXPECT_EQ(stdfs::read_symlink(dir / "current"), "gen-1");
    EXPECT_FALSE(stdfs::exists(dir / "gen-1/ccache/mine"));
    auto c = attach(tmp.path, facts(), "cccc", {});
    EXPECT_EQ(c.role, Role::writer); // the writer's lock went with a
    EXPECT_EQ(c.generation.filename(), "gen-1");
    write(c.upper / "jax/entry", "from c");
    c.finish();
    EXPECT_FALSE(stdfs::exists(dir / "gen-0")); // read by no one: removed at c's publication
    EXPECT_EQ(read(dir / "gen-2/ccache/obj"), "from a");
}

TEST(KernelCaches, PublicationAppliesWhiteoutsAndOpaqueDirectories) {
    unit_support::TempDir tmp("kcache-unit");
    auto a = attach(tmp.path, facts(), "one", {});
    write(a.upper / "triton/gone", "x");
    write(a.upper / "triton/kept", "y");
    write(a.upper / "jax/old/1", "1");
    a.finish();
    auto b = attach(tmp.path, facts(), "two", {});
    stdfs::create_directories(b.upper / "triton");
    stdfs::create_directories(b.upper / "jax/old");
    if (::mknod((b.upper / "triton/gone").c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0 ||
        ::setxattr((b.upper / "jax/old").c_str(), "user.overlay.opaque", "y", 1, 0) != 0)
        GTEST_SKIP() << "this user cannot make an overlay whiteout or a user xattr here";
    write(b.upper / "jax/old/2", "2");
    b.finish();
    auto gen = b.key_dir / "current";
    EXPECT_FALSE(stdfs::exists(gen / "triton/gone"));
    EXPECT_EQ(read(gen / "triton/kept"), "y");
    EXPECT_FALSE(stdfs::exists(gen / "jax/old/1"));
    EXPECT_EQ(read(gen / "jax/old/2"), "2");
}

TEST(KernelCaches, PruneEvictsTheLeastRecentlyUsedUnusedKeys) {
    unit_support::TempDir tmp("kcache-unit");
    KeyFacts old_f = facts(), new_f = facts(), busy_f = facts();
    old_f.user = 1;
    new_f.user = 2;
    busy_f.user = 3;
    for (auto* f : {&old_f, &new_f}) {
        auto a = attach(tmp.path, *f, "x", {});
        write(a.upper / "ccache/blob", std::string(64 << 10, 'z'));
        a.finish();
    }
    auto busy = attach(tmp.path, busy_f, "busy", {});
    struct utimbuf t {
        1000, 1000
    };
    ::utime((tmp.path / key_of(old_f) / "used").c_str(), &t);
    ::utime((tmp.path / key_of(busy_f) / "used").c_str(), &t);
    auto pruned = prune(tmp.path, false, 1);
    ASSERT_EQ(pruned.keys.size(), 2u); // the old one, then the newer one: still above 1 byte
    EXPECT_EQ(pruned.keys[0], key_of(old_f));
    EXPECT_EQ(pruned.keys[1], key_of(new_f));
    EXPECT_TRUE(stdfs::exists(tmp.path / key_of(busy_f))); // in use: kept
    EXPECT_TRUE(prune(tmp.path, false, std::nullopt).keys.empty());
    busy.finish();
    EXPECT_EQ(prune(tmp.path, true, std::nullopt).keys.size(), 1u);
    EXPECT_TRUE(list(tmp.path).empty());
}

TEST(KernelCacheShared, ANewKeyStartsFromTheFirstStoreWhoseFactsMakeIt) {
    unit_support::TempDir tmp("kcache-unit");
    auto node_a = tmp.path / "a", node_b = tmp.path / "b", store = tmp.path / "store",
         bad = tmp.path / "bad";
    stdfs::create_directories(store);
    auto a = attach(node_a, facts(), "w", {});
    write(a.upper / "triton/kernel", "compiled on a");
    a.finish();
    auto pushed = push_shared(node_a, key_of(facts()), store);
    EXPECT_EQ(pushed, store / "kernel-caches" / key_of(facts()));
    EXPECT_EQ(read(pushed / "tree/triton/kernel"), "compiled on a");
    // a store whose copy is named for the key but made of other facts: not used
    KeyFacts other = facts();
    other.user = 7;
    stdfs::create_directories(bad / "kernel-caches" / key_of(facts()) / "tree");
    write(bad / "kernel-caches" / key_of(facts()) / "facts.json", other.to_json().dump());
    write(bad / "kernel-caches" / key_of(facts()) / "tree/triton/kernel", "planted");
    EXPECT_EQ(find_shared({bad.string(), store.string()}, facts()), pushed / "tree");
    auto b = attach(node_b, facts(), "r", {{}, kDefaultMaxBytes, {bad.string(), store.string()}});
    EXPECT_EQ(read(b.generation / "triton/kernel"), "compiled on a");
    b.finish();
    EXPECT_FALSE(find_shared({bad.string()}, facts()));
    EXPECT_THROW(push_shared(node_a, key_of(facts()), tmp.path / "missing"), Error);
}
