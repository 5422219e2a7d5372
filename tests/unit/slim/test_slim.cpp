// slim: --keep / --remove-path matching, the removal decision (keep wins), the ELF checks that
// guard --strip, and the stripper on a real ELF file.
#include "slim/slim.hpp"
#include "slim/strip.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>

namespace slim_test {

using namespace gantry;
using namespace gantry::slim;

TEST(SlimMatch, PathsPrefixesAndGlobs) {
    EXPECT_TRUE(matches("/usr/local/cuda/include", "usr/local/cuda/include/cuda.h"));
    EXPECT_TRUE(matches("usr/local/cuda/include/", "usr/local/cuda/include"));
    EXPECT_FALSE(matches("/usr/local/cuda/inc", "usr/local/cuda/include/cuda.h"));
    EXPECT_TRUE(matches("/usr/lib/*/libfoo.a", "usr/lib/x86_64-linux-gnu/libfoo.a"));
    EXPECT_FALSE(matches("/usr/lib/*.a", "usr/lib/x86_64-linux-gnu/libfoo.a")); // * stops at /
    EXPECT_TRUE(matches("/opt/*/include", "opt/app/include/x.h"));
}

TEST(SlimPlan, KeepWinsOverClassesAndPaths) {
    SlimOptions o;
    o.remove = {"headers", "static"};
    o.remove_paths = {"/opt/data"};
    o.keep = {"/usr/local/cuda/include/cuda_fp16.h", "/opt/data/keep.txt"};
    bool kept = false;
    EXPECT_EQ(removal_class(o, "usr/local/cuda/include/cuda.h", analyze::Kind::file), "headers");
    EXPECT_EQ(removal_class(o, "usr/local/cuda/include/cuda_fp16.h", analyze::Kind::file, &kept),
              "");
    EXPECT_TRUE(kept);
    EXPECT_EQ(removal_class(o, "opt/data/x.bin", analyze::Kind::file), "path");
    EXPECT_EQ(removal_class(o, "opt/data/keep.txt", analyze::Kind::file), "");
    EXPECT_EQ(removal_class(o, "usr/share/doc/x/README", analyze::Kind::file),
              ""); // docs not chosen
    EXPECT_EQ(removal_class(o, "usr/local/cuda/include", analyze::Kind::dir), ""); // dirs stay
    EXPECT_THROW(check_classes({"headers", "everything"}), Error);
    EXPECT_NO_THROW(check_classes({"model-cache", "docs"}));
}

TEST(SlimStrip, StripsDebugKeepsDynamicSymbols) {
    if (!std::filesystem::exists("/usr/bin/strip"))
        GTEST_SKIP() << "binutils strip is not installed";
    // make test-aarch64: the strip it starts is the amd64 host's, which reads no aarch64 object
    if (const char* e = std::getenv("GANTRY_TEST_EMULATOR"); e && *e)
        GTEST_SKIP() << "under " << e << ": the host's strip does not read this machine's objects";
    std::string self = fs::read_file("/proc/self/exe", 1ull << 31);
    ASSERT_GT(analyze::elf_debug_bytes(self), 0u);
    Stripper s("strip", std::filesystem::temp_directory_path());
    std::string why;
    auto out = s.strip(self, why);
    ASSERT_TRUE(out) << why;
    EXPECT_LT(out->size(), self.size());
    EXPECT_EQ(analyze::elf_debug_bytes(*out), 0u);
    std::string_view a, b;
    ASSERT_TRUE(elf_section(self, ".dynsym", a));
    ASSERT_TRUE(elf_section(*out, ".dynsym", b));
    EXPECT_EQ(a, b);
    EXPECT_FALSE(a.empty());
    // not an ELF file: strip fails and the original is kept
    EXPECT_FALSE(s.strip("#!/bin/sh\necho hi\n", why));
    EXPECT_FALSE(why.empty());
}

TEST(SlimStrip, MissingToolIsAClearError) {
    try {
        Stripper s("no-such-strip-tool", "/tmp");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::unsupported);
        EXPECT_NE(e.hint().find("binutils"), std::string::npos);
    }
}

TEST(SlimClasses, RemovalListsExpandAndRefuseUnknownClasses) {
    auto def = removal_classes({}, false);
    EXPECT_EQ(def, std::set<std::string>(default_classes().begin(), default_classes().end()));
    EXPECT_TRUE(removal_classes({}, true).empty()); // tailor: none unless asked
    EXPECT_TRUE(removal_classes({"none"}, false).empty());
    auto all = removal_classes({"all", "none"}, false);
    EXPECT_EQ(all, std::set<std::string>(all_classes().begin(), all_classes().end()));
    auto one = removal_classes({all_classes().front()}, true);
    EXPECT_EQ(one, std::set<std::string>{all_classes().front()});
    try {
        removal_classes({"default", "bogus"}, false);
        FAIL() << "an unknown class was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.message().find("\"bogus\""), std::string::npos);
    }
}

} // namespace slim_test
