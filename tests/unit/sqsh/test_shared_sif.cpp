// sqsh/shared: a store directory holding Apptainer's SIF files at its top level (a site's
// library: DIR/NAME.sif) resolves names to them as docs/sqsh.md says: NAME.sif, then the name
// `apptainer pull docker://REF` gives (the repository's last component, _, the tag); the
// store's own references win; digests and paths name no SIF file; `list_shared` lists them.
#include "../support/temp_dir.hpp"
#include "sqsh/shared.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace sqsh_shared_sif_test {

namespace sqsh = gantry::sqsh;
using Names = std::vector<std::string>;

TEST(SharedSifNames, NameThenApptainersPullName) {
    EXPECT_EQ(sqsh::sif_file_names("lolcow"), (Names{"lolcow.sif", "lolcow_latest.sif"}));
    EXPECT_EQ(sqsh::sif_file_names("lolcow.sif"), (Names{"lolcow.sif"}));
    EXPECT_EQ(sqsh::sif_file_names("nvcr.io/nvidia/pytorch:24.01-py3"),
              (Names{"pytorch_24.01-py3.sif"}));
    EXPECT_EQ(sqsh::sif_file_names("alpine:3.19"), (Names{"alpine:3.19.sif", "alpine_3.19.sif"}));
    EXPECT_EQ(sqsh::sif_file_names("My App"), (Names{"My App.sif"})); // not a reference
}

TEST(SharedSifNames, DigestsAndPathsNameNoFile) {
    EXPECT_TRUE(sqsh::sif_file_names("").empty());
    EXPECT_TRUE(sqsh::sif_file_names("..").empty());
    EXPECT_TRUE(sqsh::sif_file_names(".hidden").empty());
    EXPECT_TRUE(sqsh::sif_file_names("sha256:" + std::string(64, 'a')).empty());
    EXPECT_TRUE(sqsh::sif_file_names("busybox@sha256:" + std::string(64, 'a')).empty());
    for (auto& n : sqsh::sif_file_names("a/../../etc/x")) EXPECT_EQ(n.find('/'), std::string::npos);
}

TEST(SharedSif, FoundListedAndTheStoresReferenceWins) {
    unit_support::TempDir d("gantry-shared-sif");
    auto dir = d.path.string();
    for (auto name : {"lolcow.sif", "pytorch_24.01-py3.sif", ".hidden.sif", "notes.txt"})
        std::ofstream(d.path / name) << "x";
    std::filesystem::create_directory(d.path / "dir.sif"); // not a file: not an image
    auto hit = sqsh::find_shared({dir}, "lolcow");
    ASSERT_TRUE(hit);
    EXPECT_TRUE(hit->sif);
    EXPECT_EQ(hit->file, dir + "/lolcow.sif");
    EXPECT_EQ(hit->ref, "lolcow");
    EXPECT_TRUE(sqsh::find_shared({dir}, "docker.io/library/lolcow:latest") == std::nullopt);
    EXPECT_EQ(sqsh::find_shared({dir}, "nvcr.io/nvidia/pytorch:24.01-py3")->file,
              dir + "/pytorch_24.01-py3.sif");
    EXPECT_FALSE(sqsh::find_shared({dir}, "hidden"));
    EXPECT_FALSE(sqsh::find_shared({dir}, "dir"));
    auto listed = sqsh::list_shared({dir});
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].ref, "lolcow");
    EXPECT_EQ(listed[1].ref, "pytorch_24.01-py3");
    // a reference of the store's own layout wins over a SIF of the same name
    std::filesystem::create_directories(d.path / "refs");
    std::filesystem::create_directories(d.path / "sqsh");
    std::string hex(64, 'b');
    std::ofstream(d.path / "sqsh" / (hex + ".sqsh")) << "x";
    std::ofstream(d.path / "refs" / sqsh::ref_file_name("docker.io/library/lolcow:latest"))
        << "sha256:" << hex << "\n";
    hit = sqsh::find_shared({dir}, "lolcow");
    ASSERT_TRUE(hit);
    EXPECT_FALSE(hit->sif);
    EXPECT_EQ(hit->file, dir + "/sqsh/" + hex + ".sqsh");
}

} // namespace sqsh_shared_sif_test
