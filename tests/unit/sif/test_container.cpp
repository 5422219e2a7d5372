#include "sif/container.hpp"
#include "sif/metadata.hpp"
#include "sif/write.hpp"
#include "util/error.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <map>

namespace sif_container_test {

using namespace gantry;

namespace {

void put(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

struct Obj {
    std::int32_t type = 0x4004;
    std::uint32_t id = 1;
    std::uint64_t offset = 0, size = 0;
    std::int32_t fs = 1, part = 2;
    const char* arch = "02";
    bool used = true;
};

// A SIF as the reference writes one: header, a table of COUNT descriptors at 4096, objects
// placed by the caller (their bytes are zero: nothing here reads them).
std::string make_sif(const std::vector<Obj>& objs, std::int64_t count = 48,
                     std::uint64_t file = 1 << 16) {
    std::string b(file, '\0');
    std::memcpy(b.data(), "#!/usr/bin/env run-singularity\n", 31);
    std::memcpy(b.data() + 32, "SIF_MAGIC", 10);
    std::memcpy(b.data() + 42, "01", 3);
    std::memcpy(b.data() + 45, "02", 3);
    put(b, 64 + 16, static_cast<std::uint64_t>(count) - objs.size(), 8);
    put(b, 64 + 24, static_cast<std::uint64_t>(count), 8);
    put(b, 64 + 32, 4096, 8);
    put(b, 64 + 40, static_cast<std::uint64_t>(count) * sif::kDescriptorSize, 8);
    for (std::size_t i = 0; i < objs.size(); ++i) {
        std::size_t d = 4096 + i * sif::kDescriptorSize;
        auto& o = objs[i];
        put(b, d, static_cast<std::uint32_t>(o.type), 4);
        b[d + 4] = o.used;
        put(b, d + 5, o.id, 4);
        put(b, d + 9, 0xf0000001u, 4);
        put(b, d + 17, o.offset, 8);
        put(b, d + 25, o.size, 8);
        std::memcpy(b.data() + d + 73, "rootfs", 6);
        put(b, d + 201, static_cast<std::uint32_t>(o.fs), 4);
        put(b, d + 205, static_cast<std::uint32_t>(o.part), 4);
        std::memcpy(b.data() + d + 209, o.arch, 3);
    }
    return b;
}

std::string refusal(const std::string& bytes) {
    try {
        sif::parse(bytes, "x.sif");
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("x.sif"), std::string::npos) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "accepted";
    return "";
}

} // namespace

TEST(SifContainer, ReadsHeaderAndUsedDescriptors) {
    auto c = sif::parse(make_sif({{.offset = 40960, .size = 8192},
                                  {.type = 0x4003, .id = 2, .offset = 49152, .size = 10},
                                  {.id = 3, .used = false}}),
                        "x.sif");
    EXPECT_EQ(c.arch, "amd64");
    EXPECT_EQ(c.descriptors_total, 48);
    ASSERT_EQ(c.objects.size(), 2u);
    EXPECT_EQ(c.objects[0].offset, 40960u);
    EXPECT_EQ(c.objects[0].group, 1u);
    EXPECT_EQ(c.objects[0].name, "rootfs");
    EXPECT_EQ(c.objects[0].arch, "amd64");
    EXPECT_EQ(sif::labels_object(c)->id, 2u);
    EXPECT_EQ(sif::system_partition(c, "amd64", "x.sif").id, 1u);
}

TEST(SifContainer, RefusesDamagedHeaders) {
    auto good = make_sif({{.offset = 40960, .size = 8192}});
    EXPECT_NE(refusal(good.substr(0, 100)).find("shorter than the 128-byte"), std::string::npos);
    auto b = good;
    b[33] = 'X';
    EXPECT_NE(refusal(b).find("no SIF magic"), std::string::npos);
    b = good;
    std::memcpy(b.data() + 42, "02", 3);
    EXPECT_NE(refusal(b).find("SIF version \"02\""), std::string::npos);
    // a descriptor count of 2^31, with the table size to match
    b = good;
    put(b, 64 + 24, 1ull << 31, 8);
    put(b, 64 + 40, (1ull << 31) * sif::kDescriptorSize, 8);
    EXPECT_NE(refusal(b).find("counts 2147483648 descriptors"), std::string::npos);
    b = good;
    put(b, 64 + 40, 100, 8);
    EXPECT_NE(refusal(b).find("descriptor table is 100 bytes"), std::string::npos);
    // the table past the end: a truncated file
    EXPECT_NE(refusal(good.substr(0, 8000)).find("lies outside the file"), std::string::npos);
}

TEST(SifContainer, RefusesObjectsOutsideTheFileOrOverlapping) {
    EXPECT_NE(refusal(make_sif({{.offset = 60000, .size = 8192}})).find("points outside the file"),
              std::string::npos);
    EXPECT_NE(refusal(make_sif({{.offset = ~0ull - 10, .size = 20}})).find("outside"),
              std::string::npos);
    EXPECT_NE(refusal(make_sif({{.offset = 40960, .size = 8192},
                                {.type = 0x4003, .id = 2, .offset = 45000, .size = 10}}))
                  .find("object 2 overlaps object 1"),
              std::string::npos);
    // over the descriptor table, and one inside another (not only the neighbour)
    EXPECT_NE(refusal(make_sif({{.offset = 4000, .size = 200}})).find("overlaps"),
              std::string::npos);
    EXPECT_NE(refusal(make_sif({{.offset = 40960, .size = 20000},
                                {.type = 0x4003, .id = 2, .offset = 41000, .size = 10},
                                {.type = 0x4003, .id = 3, .offset = 50000, .size = 10}}))
                  .find("overlaps object 1"),
              std::string::npos);
}

TEST(SifContainer, PicksTheSystemPartitionOrSaysWhyNot) {
    auto part = [](std::int32_t fs, std::int32_t pt, const char* arch, std::uint32_t id,
                   std::uint64_t at) {
        return Obj{.id = id, .offset = at, .size = 4096, .fs = fs, .part = pt, .arch = arch};
    };
    auto why = [](const std::vector<Obj>& objs, const char* host) -> std::string {
        try {
            sif::system_partition(sif::parse(make_sif(objs), "x.sif"), host, "x.sif");
        } catch (const Error& e) {
            return e.message();
        }
        return "";
    };
    // multi-arch: the primary for arm64, a system partition for amd64
    auto c = sif::parse(make_sif({part(1, 2, "04", 1, 40960), part(1, 1, "02", 2, 45056)}), "x");
    EXPECT_EQ(sif::system_partition(c, "amd64", "x").id, 2u);
    EXPECT_EQ(sif::system_partition(c, "arm64", "x").id, 1u);
    EXPECT_NE(why({part(1, 2, "04", 1, 40960)}, "amd64").find("for arm64 only; this host is amd64"),
              std::string::npos);
    EXPECT_NE(why({part(2, 2, "02", 1, 40960)}, "amd64").find("is Ext3, not squashfs"),
              std::string::npos);
    EXPECT_NE(why({part(5, 2, "02", 1, 40960)}, "amd64").find("Encrypted squashfs"),
              std::string::npos);
    EXPECT_NE(why({part(1, 2, "02", 1, 40960), part(2, 4, "02", 2, 45056)}, "amd64")
                  .find("overlay partition"),
              std::string::npos);
    EXPECT_NE(why({{.type = 0x400a, .offset = 40960, .size = 10}}, "amd64").find("OCI-SIF"),
              std::string::npos);
    EXPECT_NE(why({part(1, 3, "02", 1, 40960)}, "amd64").find("no system partition"),
              std::string::npos);
}

TEST(SifMetadata, ConfigFromApptainersMetadata) {
    sif::Metadata md;
    sif::add_labels(md.labels, R"({"a": "1", "n": 2})", "o");
    sif::add_labels(md.labels, R"({"a": "from labels.json"})", "f");
    EXPECT_EQ(md.labels["a"], "from labels.json");
    EXPECT_EQ(md.labels["n"], "2");
    EXPECT_THROW(sif::add_labels(md.labels, "[1]", "f"), Error);
    EXPECT_THROW(sif::add_labels(md.labels, "{", "f"), Error);
    md.runscript = md.shell = md.env_scripts = true;
    auto doc = sif::image_config(md, "amd64");
    EXPECT_EQ(doc["architecture"], "amd64");
    EXPECT_EQ(doc["config"]["Cmd"], nlohmann::json({"/.singularity.d/runscript"}));
    EXPECT_EQ(doc["config"]["Entrypoint"][0], "/bin/sh");
    EXPECT_EQ(doc["config"]["Labels"]["a"], "from labels.json");
    md.shell = false; // no shell: nothing can source the scripts, nothing sources them
    doc = sif::image_config(md, "unknown");
    EXPECT_FALSE(doc.contains("architecture"));
    EXPECT_FALSE(doc["config"].contains("Entrypoint"));
}

TEST(SifWrite, LayoutReadsBackAsOnePrimarySquashfsPartition) {
    std::string file = sif::layout(8192, "arm64", std::string(16, 'i'), 1700000000);
    ASSERT_EQ(file.size(), sif::kPartitionOffset);
    file += std::string(8192, 's');
    auto c = sif::parse(file, "w.sif");
    EXPECT_EQ(c.arch, "arm64");
    EXPECT_EQ(c.created, 1700000000);
    EXPECT_EQ(c.descriptors_total, 48);
    EXPECT_EQ(c.descriptors_free, 47);
    auto& p = sif::system_partition(c, "arm64", "w.sif");
    EXPECT_EQ(p.offset, sif::kPartitionOffset);
    EXPECT_EQ(p.size, 8192u);
    EXPECT_EQ(p.name, "rootfs.squashfs");
    EXPECT_EQ(sif::arch_code("ppc64le"), std::string("06\0", 3));
    EXPECT_EQ(sif::arch_code("sparc"), std::string("00\0", 3));
}

TEST(SifMetadata, ApptainerFilesQuoteTheConfig) {
    auto files = sif::apptainer_files(nlohmann::json::parse(
        R"({"config": {"Env": ["A=it's $HOME"], "Entrypoint": ["/bin/echo"],
            "Cmd": ["x y"], "WorkingDir": "/w"}})"));
    std::map<std::string, std::string> by_path;
    for (auto& f : files) by_path[f.path] = f.content;
    EXPECT_NE(
        by_path[".singularity.d/env/10-docker2singularity.sh"].find("export A='it'\\''s $HOME'\n"),
        std::string::npos);
    const auto& run = by_path[".singularity.d/runscript"];
    EXPECT_NE(run.find("cd '/w' || exit 1\n"), std::string::npos) << run;
    EXPECT_NE(run.find("exec '/bin/echo' \"$@\""), std::string::npos) << run;
    EXPECT_NE(run.find("exec '/bin/echo' 'x y'\n"), std::string::npos) << run;
    EXPECT_EQ(by_path[".singularity.d/labels.json"], "{}\n");
    EXPECT_THROW(sif::apptainer_files(nlohmann::json::parse(R"({"config": {"Env": ["1A=x"]}})")),
                 Error);
}

// An image whose command is its own /.singularity.d/runscript (gantry build -f FILE.def) keeps
// that file: one written from the config would exec itself.
TEST(SifMetadata, AnImagesOwnRunscriptIsKept) {
    nlohmann::json doc = {
        {"config",
         {{"Entrypoint", sif::env_entrypoint()}, {"Cmd", {sif::kRunscript}}, {"Env", {"A=1"}}}}};
    bool runscript = false;
    for (auto& f : sif::apptainer_files(doc)) runscript |= f.path == ".singularity.d/runscript";
    EXPECT_FALSE(runscript);
    doc["config"]["Cmd"] = {"/bin/sh"};
    for (auto& f : sif::apptainer_files(doc)) runscript |= f.path == ".singularity.d/runscript";
    EXPECT_TRUE(runscript);
}

} // namespace sif_container_test
