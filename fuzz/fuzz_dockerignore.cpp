// Fuzzes the .dockerignore reader (image_build/ignore): the pattern text, then the last line of the
// input as a path to match.
#include "fuzz_support.hpp"
#include "image_build/ignore.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(dockerignore) {
    std::string_view in = fuzz::bytes(data, size);
    auto ig = image_build::Ignore::parse(in);
    auto nl = in.rfind('\n');
    (void)ig.excluded(nl == std::string_view::npos ? in : in.substr(nl + 1));
    (void)ig.excluded("a/b/c/d/e/f/g/h/i/j");
    return 0;
}
