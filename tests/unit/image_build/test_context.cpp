// COPY/ADD sources in the build context: globs, the context as root, .dockerignore, symlinks not
// followed out, and content digests that change with exactly the selected files.
#include "image_build/context.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace build_context_test {

using namespace gantry::image_build;
namespace fs = std::filesystem;

namespace {

struct Tree {
    fs::path dir = fs::temp_directory_path() / ("gantry-ctx-" + std::to_string(getpid()));
    Tree() {
        fs::remove_all(dir);
        fs::create_directories(dir / "src" / "sub");
        std::ofstream(dir / "a.txt") << "a";
        std::ofstream(dir / "b.txt") << "b";
        std::ofstream(dir / "src" / "main.c") << "int main;";
        std::ofstream(dir / "src" / "sub" / "x.o") << "obj";
        fs::create_symlink("/etc", dir / "etc-link");
    }
    ~Tree() { fs::remove_all(dir); }
    void write(const std::string& rel, const std::string& text) {
        std::ofstream(dir / rel) << text;
    }
};

} // namespace

TEST(BuildContext, ResolveGlobsInsideTheContext) {
    Tree t;
    Context ctx(t.dir, Ignore::parse("**/*.o\n"));
    EXPECT_EQ(ctx.resolve("*.txt"), (std::vector<std::string>{"a.txt", "b.txt"}));
    EXPECT_EQ(ctx.resolve("../../a.txt"), (std::vector<std::string>{"a.txt"}));
    EXPECT_EQ(ctx.resolve("/src/*.c"), (std::vector<std::string>{"src/main.c"}));
    EXPECT_EQ(ctx.resolve("."), (std::vector<std::string>{""}));
    // A symlink is selected as itself; nothing is read through it.
    EXPECT_EQ(ctx.resolve("etc-link"), (std::vector<std::string>{"etc-link"}));
    EXPECT_THROW(ctx.resolve("etc-link/passwd"), gantry::Error);
    try {
        ctx.resolve("src/sub/x.o"); // ignored
        ADD_FAILURE() << "an ignored file was selected";
    } catch (const gantry::Error& e) {
        EXPECT_EQ(e.code(), gantry::Errc::not_found);
        EXPECT_NE(e.message().find("src/sub/x.o"), std::string::npos);
    }
}

TEST(BuildContext, DigestFollowsSelectedContentOnly) {
    Tree t;
    Context ctx(t.dir, Ignore::parse("**/*.o\n"));
    auto src = ctx.digest(ctx.resolve("src"));
    auto a = ctx.digest(ctx.resolve("a.txt"));
    auto all = ctx.digest(ctx.resolve("."));
    EXPECT_EQ(src, ctx.digest(ctx.resolve("src")));
    t.write("src/sub/x.o", "changed but ignored");
    EXPECT_EQ(src, ctx.digest(ctx.resolve("src")));
    t.write("b.txt", "changed");
    EXPECT_EQ(a, ctx.digest(ctx.resolve("a.txt"))); // a step reading only a.txt still hits
    EXPECT_NE(all, ctx.digest(ctx.resolve(".")));   // one reading the whole context misses
    t.write("src/main.c", "int main();");
    EXPECT_NE(src, ctx.digest(ctx.resolve("src")));
}

} // namespace build_context_test
