// Fuzzes COPY/ADD source resolution in a build context (image_build/context): the input is a
// .dockerignore, then after a blank line the source patterns of a COPY, one per line, resolved
// in a fixed context (files, nested directories, a symbolic link to a directory outside the
// context, a link loop, names with glob characters). Every selected path must be relative,
// without "." or ".." segments, lie inside the context and exist there (lstat), reach nothing
// through a symbolic link, and not be ignored; the content digest of the selection must work.
#include "fuzz_support.hpp"
#include "image_build/context.hpp"

#include <sys/stat.h>

using namespace gantry;

namespace {

const std::filesystem::path& context_dir() {
    static const std::filesystem::path dir = [] {
        auto base = fuzz::Scratch::dir();
        auto ctx = base / "ctx";
        std::filesystem::create_directories(ctx / "src/deep/er");
        std::filesystem::create_directories(ctx / "docs");
        std::filesystem::create_directories(base / "outside");
        fuzz::write_scratch_file("outside/secret", "secret\n");
        fuzz::write_scratch_file("ctx/a.txt", "a\n");
        fuzz::write_scratch_file("ctx/b.md", "b\n");
        fuzz::write_scratch_file("ctx/[x]*?.txt", "glob\n");
        fuzz::write_scratch_file("ctx/src/main.c", "int main(){}\n");
        fuzz::write_scratch_file("ctx/src/deep/er/f", "f\n");
        fuzz::write_scratch_file("ctx/docs/README", "r\n");
        std::filesystem::create_directory_symlink(base / "outside", ctx / "escape");
        std::filesystem::create_symlink("loop", ctx / "loop");
        std::filesystem::create_symlink("src", ctx / "srclink");
        return ctx;
    }();
    return dir;
}

bool through_link(const std::filesystem::path& ctx, const std::string& rel) {
    // any proper prefix of REL that is a symbolic link
    for (auto at = rel.find('/'); at != std::string::npos; at = rel.find('/', at + 1)) {
        struct stat st {};
        if (::lstat((ctx / rel.substr(0, at)).c_str(), &st) == 0 && S_ISLNK(st.st_mode))
            return true;
    }
    return false;
}

} // namespace

GANTRY_FUZZ_TARGET(build_context) {
    const auto& ctx = context_dir();
    auto [ignore_text, patterns] = fuzz::split_once(fuzz::bytes(data, size), "\n\n");
    image_build::Context context(ctx, image_build::Ignore::parse(ignore_text));
    std::size_t lines = 0;
    while (!patterns.empty() && lines++ < 8) {
        auto split = fuzz::split_once(patterns, "\n");
        std::string_view pattern = split.first; // (clang 14: no lambda capture of a binding)
        patterns = split.second;
        fuzz::expect_error([&] {
            auto paths = context.resolve(pattern);
            FUZZ_CHECK(!paths.empty());
            for (auto& p : paths) {
                if (p.empty()) continue; // the whole context
                FUZZ_CHECK(p.front() != '/' && p.back() != '/');
                for (std::size_t at = 0; at <= p.size();) {
                    auto end = p.find('/', at);
                    if (end == std::string::npos) end = p.size();
                    std::string_view part(p.data() + at, end - at);
                    FUZZ_CHECK(!part.empty() && part != "." && part != "..");
                    at = end + 1;
                }
                struct stat st {};
                FUZZ_CHECK(::lstat((ctx / p).c_str(), &st) == 0);
                FUZZ_CHECK(!through_link(ctx, p));
                FUZZ_CHECK(!context.ignore().excluded(p));
            }
            auto d = context.digest(paths);
            FUZZ_CHECK(d.size() == 71 && d.rfind("sha256:", 0) == 0);
        });
    }
    return 0;
}
