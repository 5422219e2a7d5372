// binfmt/handlers: binfmt_misc entries as the kernel prints them (the texts below are what Linux
// 6.1 printed for Debian 12's qemu-user-static and for its python3.11 extension handler), the
// ELF heads of OCI platforms against a real executable, and each verdict of emulation_for.
#include "binfmt/handlers.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace binfmt_handlers_test {

using namespace gantry;
namespace stdfs = std::filesystem;

const char* kQemuAarch64 = "enabled\n"
                           "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"
                           "flags: POF\n"
                           "offset 0\n"
                           "magic 7f454c460201010000000000000000000200b700\n"
                           "mask ffffffffffffff00fffffffffffffffffeffffff\n";
const char* kPython = "enabled\n"
                      "interpreter /usr/bin/python3.11\n"
                      "flags: \n"
                      "offset 0\n"
                      "magic a70d0d0a\n";

oci::Platform arm64() {
    return oci::Platform::parse("linux/arm64");
}

TEST(BinfmtEntry, ReadsTheKernelsText) {
    auto h = binfmt::parse_entry("qemu-aarch64", kQemuAarch64);
    EXPECT_TRUE(h.enabled);
    EXPECT_EQ(h.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
    EXPECT_EQ(h.flags, "POF");
    EXPECT_TRUE(h.fixed_binary());
    EXPECT_TRUE(h.by_magic);
    ASSERT_EQ(h.magic.size(), 20u);
    EXPECT_EQ(static_cast<unsigned char>(h.magic[18]), 0xb7u);
    EXPECT_EQ(static_cast<unsigned char>(h.mask[16]), 0xfeu);
    auto py = binfmt::parse_entry("python3.11", kPython);
    EXPECT_FALSE(py.fixed_binary());
    EXPECT_TRUE(py.mask.empty());
    auto ext = binfmt::parse_entry("jar", "disabled\ninterpreter /usr/bin/jexec\nflags: \n"
                                          "extension .jar\n");
    EXPECT_FALSE(ext.enabled);
    EXPECT_FALSE(ext.by_magic);
    EXPECT_EQ(ext.extension, "jar");
}

TEST(BinfmtEntry, RefusesWhatItCannotRead) {
    for (const char* text :
         {"enabled\nmagic 7f45zz\n", "enabled\noffset x\n", "enabled\nweird line\n",
          "interpreter /x\n", "enabled\nmagic 7f45\nmask ff\n"}) {
        try {
            binfmt::parse_entry("bad", text);
            ADD_FAILURE() << "accepted " << text;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid) << text;
            EXPECT_NE(e.message().find("entry bad"), std::string::npos) << e.message();
        }
    }
}

TEST(BinfmtElfHeads, AreWhatALinkerWrites) {
    // this test program itself: an executable of the host's platform
    std::string self = fs::read_file("/proc/self/exe", 1u << 30).substr(0, 20);
    auto heads = binfmt::elf_heads(oci::Platform::host());
    ASSERT_TRUE(heads);
    self[7] = '\0'; // EI_OSABI: GNU or SYSV, masked out by every handler
    EXPECT_TRUE(self == heads->dyn || self == heads->exec);
    EXPECT_FALSE(binfmt::elf_heads(oci::Platform::parse("windows/amd64")));
    EXPECT_FALSE(binfmt::elf_heads(oci::Platform::parse("linux/wasm")));
    auto s390 = binfmt::elf_heads(oci::Platform::parse("linux/s390x"));
    ASSERT_TRUE(s390); // big-endian: e_machine 22 as 00 16
    EXPECT_EQ(s390->exec.substr(16), std::string("\x00\x02\x00\x16", 4));
}

TEST(BinfmtHandler, MatchesTheArchitectureItsMaskSays) {
    auto h = binfmt::parse_entry("qemu-aarch64", kQemuAarch64);
    auto a = binfmt::elf_heads(arm64());
    EXPECT_TRUE(h.matches(a->exec));
    EXPECT_TRUE(h.matches(a->dyn));
    EXPECT_FALSE(h.matches(binfmt::elf_heads(oci::Platform::parse("linux/amd64"))->dyn));
    EXPECT_FALSE(h.matches(binfmt::elf_heads(oci::Platform::parse("linux/arm/v7"))->exec));
    EXPECT_FALSE(h.matches(a->exec.substr(0, 19))); // too short to compare
}

class BinfmtRegistry : public ::testing::Test {
  protected:
    stdfs::path dir = stdfs::temp_directory_path() / ("binfmt-test-" + std::to_string(getpid()));
    void SetUp() override { stdfs::create_directories(dir); }
    void TearDown() override { stdfs::remove_all(dir); }
    void put(const std::string& name, const std::string& text) {
        fs::write_atomic(dir / name, text);
    }
    binfmt::Emulation verdict() { return binfmt::emulation_for(binfmt::read(dir), arm64()); }
};

TEST_F(BinfmtRegistry, EachReasonNamesItsFix) {
    auto v = verdict(); // no status file: not mounted
    EXPECT_FALSE(v.handler);
    EXPECT_NE(v.why.find("not mounted"), std::string::npos) << v.why;
    EXPECT_NE(v.fix.find("mount binfmt_misc"), std::string::npos) << v.fix;

    put("status", "disabled\n");
    v = verdict();
    EXPECT_NE(v.why.find("disabled"), std::string::npos) << v.why;
    EXPECT_NE(v.fix.find("echo 1 > " + (dir / "status").string()), std::string::npos) << v.fix;

    put("status", "enabled\n");
    put("register", "");
    put("python3.11", kPython);
    v = verdict();
    EXPECT_NE(v.why.find("no binfmt_misc handler for linux/arm64"), std::string::npos) << v.why;
    EXPECT_NE(v.fix.find("qemu-user-static"), std::string::npos) << v.fix;

    std::string off = kQemuAarch64;
    off.replace(0, 7, "disabled");
    put("qemu-aarch64", off);
    v = verdict();
    EXPECT_NE(v.why.find("qemu-aarch64"), std::string::npos) << v.why;
    EXPECT_NE(v.fix.find("echo 1 > " + (dir / "qemu-aarch64").string()), std::string::npos);

    std::string unfixed = kQemuAarch64;
    unfixed.replace(unfixed.find("POF"), 3, "P");
    put("qemu-aarch64", unfixed);
    v = verdict();
    EXPECT_NE(v.why.find("no F flag"), std::string::npos) << v.why;
    EXPECT_NE(v.fix.find("qemu-user-static package"), std::string::npos) << v.fix;
    // without F, the container's own file at the interpreter's path serves (and only that one)
    std::vector<std::string> asked;
    v = binfmt::emulation_for(binfmt::read(dir), arm64(), [&](const std::string& path) {
        asked.push_back(path);
        return path == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P";
    });
    ASSERT_TRUE(v.handler) << v.why;
    EXPECT_TRUE(v.by_path);
    EXPECT_EQ(asked, std::vector<std::string>{"/usr/libexec/qemu-binfmt/aarch64-binfmt-P"});
    v = binfmt::emulation_for(binfmt::read(dir), arm64(), [](const std::string&) { return false; });
    EXPECT_FALSE(v.handler);
    EXPECT_NE(v.why.find("no F flag"), std::string::npos) << v.why;

    put("qemu-aarch64", kQemuAarch64);
    v = verdict();
    ASSERT_TRUE(v.handler) << v.why;
    EXPECT_EQ(v.handler->name, "qemu-aarch64");
    EXPECT_FALSE(v.by_path);
    EXPECT_TRUE(v.why.empty());
}

TEST_F(BinfmtRegistry, AnEntryItCannotReadIsAnError) {
    put("status", "enabled\n");
    put("odd", "enabled\nsomething new\n");
    EXPECT_THROW(binfmt::read(dir), Error);
}

} // namespace binfmt_handlers_test
