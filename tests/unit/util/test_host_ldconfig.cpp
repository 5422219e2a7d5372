// util/host_ldconfig: the host's ldconfig that runs in a root without a shell. Ubuntu's
// /sbin/ldconfig is a wrapper script around /sbin/ldconfig.real; the script cannot run inside a
// minimal image, so the ELF beside it is the one chosen (as on the first real GPU host).
#include "../support/temp_dir.hpp"
#include "util/error.hpp"
#include "util/host_ldconfig.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>

namespace util_host_ldconfig_test {

namespace {

void write_executable(const std::string& path, const std::string& content) {
    std::ofstream(path) << content;
    ::chmod(path.c_str(), 0755);
}

const char* const kUbuntuWrapper = "#!/bin/sh\nexec /sbin/ldconfig.real \"$@\"\n";
const char* const kElf = "\x7f"
                         "ELF\x02\x01\x01";

} // namespace

TEST(HostLdconfig, TheElfBesideUbuntusWrapperScriptIsChosen) {
    unit_support::TempDir d("gantry-ldconfig");
    std::string script = (d.path / "ldconfig").string(), real = script + ".real";
    write_executable(script, kUbuntuWrapper);
    write_executable(real, kElf);
    EXPECT_EQ(gantry::host_ldconfig::find({script, real}), real);
    EXPECT_EQ(gantry::host_ldconfig::resolve(script), real);
    EXPECT_EQ(gantry::host_ldconfig::resolve(real), real);
}

TEST(HostLdconfig, AScriptOrAFileNotExecutableIsNeverChosen) {
    unit_support::TempDir d("gantry-ldconfig");
    std::string script = (d.path / "ldconfig").string(), plain = (d.path / "plain").string();
    write_executable(script, kUbuntuWrapper);
    std::ofstream(plain) << kElf; // an ELF without the execute bit
    EXPECT_EQ(gantry::host_ldconfig::find({script, plain, (d.path / "absent").string()}), "");
    try {
        gantry::host_ldconfig::resolve(script);
        ADD_FAILURE() << "a wrapper script with no .real beside it was accepted";
    } catch (const gantry::Error& e) {
        EXPECT_EQ(e.code(), gantry::Errc::invalid);
        EXPECT_NE(e.message().find(script), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("ldconfig.real"), std::string::npos) << e.hint();
    }
}

TEST(HostLdconfig, ThisHostHasOneThatIsAnElfFile) {
    std::string found = gantry::host_ldconfig::find();
    ASSERT_FALSE(found.empty()) << "no ldconfig binary on this glibc host";
    std::ifstream f(found, std::ios::binary);
    char magic[4] = {};
    f.read(magic, 4);
    EXPECT_EQ(std::string(magic, 4), std::string("\x7f"
                                                 "ELF"));
}

} // namespace util_host_ldconfig_test
