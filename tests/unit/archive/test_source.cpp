// gantry::archive::Source over crafted archives: a tar's regular members are indexed by their
// cleaned names (pax and GNU long names, "./" folded; a name with ".." is none), links and
// directories are not members, a gzip tar reads the same; a layout directory's files are found only
// inside it; damaged and empty archives are refused naming the file.
#include "../support/temp_dir.hpp"
#include "archive/source.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

namespace archive_source_test {

using namespace gantry;
namespace stdfs = std::filesystem;

namespace {

const std::string kLong = std::string(120, 'n') + "/" + std::string(60, 'm') + ".json";

// Writes OUT with Python's tarfile (the standard library's own writer of pax and GNU headers).
void make_tar(const stdfs::path& out, const std::string& format, const std::string& mode) {
    std::string script = "import io, tarfile\n"
                         "def add(t, name, data=b'', kind=tarfile.REGTYPE, link=''):\n"
                         "    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link\n"
                         "    i.size = len(data); t.addfile(i, io.BytesIO(data))\n"
                         "with tarfile.open('" +
                         out.string() + "', '" + mode + "', format=tarfile." + format +
                         ") as t:\n"
                         "    add(t, 'index.json', b'{\"schemaVersion\": 2}')\n"
                         "    add(t, './blobs/sha256/abc', b'layer bytes')\n"
                         "    add(t, 'x/../oci-layout', b'{}')\n"
                         "    add(t, '" +
                         kLong +
                         "', b'long')\n"
                         "    add(t, 'hard', kind=tarfile.LNKTYPE, link='index.json')\n"
                         "    add(t, 'soft', kind=tarfile.SYMTYPE, link='/etc/passwd')\n"
                         "    add(t, 'dir', kind=tarfile.DIRTYPE)\n";
    stdfs::path py = out.string() + ".py";
    std::ofstream(py) << script;
    ASSERT_EQ(std::system(("python3 " + py.string()).c_str()), 0) << script;
}

void expect_members(const gantry::archive::Source& s) {
    EXPECT_FALSE(s.is_directory());
    EXPECT_EQ(s.read("index.json"), "{\"schemaVersion\": 2}");
    EXPECT_TRUE(s.has("blobs/sha256/abc"));
    EXPECT_EQ(s.size("blobs/sha256/abc"), 11u);
    EXPECT_TRUE(s.has("./blobs/sha256/abc")); // looked up cleaned
    EXPECT_FALSE(s.has("oci-layout"));        // "x/../oci-layout": a ".." name is no member
    EXPECT_FALSE(s.has("x/../oci-layout"));
    EXPECT_EQ(s.read(kLong), "long");
    EXPECT_FALSE(s.has("hard")); // links and directories are not members
    EXPECT_FALSE(s.has("soft"));
    EXPECT_FALSE(s.has("dir"));
    auto names = s.names();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names.size(), 3u); // index.json, the blob, the long name
    try {
        s.read("missing.json");
        FAIL() << "a missing member was read";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find("\"missing.json\""), std::string::npos);
    }
    EXPECT_THROW(s.read("blobs/sha256/abc", 4), Error); // over the caller's limit
}

} // namespace

TEST(ArchiveSource, PaxAndGnuTarsIndexTheirRegularMembers) {
    unit_support::TempDir dir("gantry-archive-test");
    for (const char* format : {"PAX_FORMAT", "GNU_FORMAT"}) {
        auto tar = dir.path / (std::string(format) + ".tar");
        make_tar(tar, format, "w");
        auto s = gantry::archive::Source::open_path(tar, dir.path);
        SCOPED_TRACE(format);
        expect_members(*s);
        auto r = s->open("blobs/sha256/abc");
        char buf[32];
        std::size_t got = r->read(buf, sizeof buf);
        EXPECT_EQ(std::string(buf, got), "layer bytes");
    }
}

TEST(ArchiveSource, GzipTarReadsTheSame) {
    unit_support::TempDir dir("gantry-archive-test");
    auto tar = dir.path / "image.tar.gz";
    make_tar(tar, "PAX_FORMAT", "w:gz");
    expect_members(*gantry::archive::Source::open_path(tar, dir.path));
}

TEST(ArchiveSource, DamagedAndEmptyArchivesAreRefused) {
    unit_support::TempDir dir("gantry-archive-test");
    auto junk = dir.path / "junk.tar";
    std::ofstream(junk) << std::string(2048, 'j');
    try {
        gantry::archive::Source::open_path(junk, dir.path);
        FAIL() << "junk was read as a tar";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find(junk.string()), std::string::npos);
    }
    auto empty = dir.path / "empty.tar";
    std::ofstream(empty) << std::string(10240, '\0');
    EXPECT_THROW(gantry::archive::Source::open_path(empty, dir.path), Error);
    EXPECT_THROW(gantry::archive::Source::open_path(dir.path / "absent.tar", dir.path), Error);
    // cut inside a member's data: truncated
    auto whole = dir.path / "whole.tar";
    make_tar(whole, "PAX_FORMAT", "w");
    auto bytes = stdfs::file_size(whole);
    auto cut = dir.path / "cut.tar";
    stdfs::copy_file(whole, cut);
    stdfs::resize_file(cut, 1536 + 10); // a pax header, a member header, 10 bytes of data
    EXPECT_THROW(gantry::archive::Source::open_path(cut, dir.path), Error) << bytes;
}

TEST(ArchiveSource, LayoutDirectoryFilesStayInside) {
    unit_support::TempDir dir("gantry-archive-test");
    auto layout = dir.path / "layout";
    stdfs::create_directories(layout / "blobs/sha256");
    std::ofstream(layout / "index.json") << "{}";
    std::ofstream(dir.path / "outside") << "secret";
    stdfs::create_symlink("../../../outside", layout / "blobs/sha256/escape");
    stdfs::create_symlink("/etc/passwd", layout / "blobs/sha256/abs");
    auto s = gantry::archive::Source::open_path(layout, dir.path);
    EXPECT_TRUE(s->is_directory());
    EXPECT_EQ(s->read("index.json"), "{}");
    EXPECT_FALSE(s->has("../outside"));
    EXPECT_FALSE(s->has("blobs/sha256/escape")); // resolves inside the layout: absent
    EXPECT_FALSE(s->has("blobs/sha256/abs"));    // the layout's /etc/passwd: absent
    EXPECT_THROW(s->read("blobs/sha256/escape"), Error);
}

} // namespace archive_source_test
