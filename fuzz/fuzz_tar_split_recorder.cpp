// Fuzzes the store's tar-split recorder (layer/tar_split_recorder): any bytes as a layer's
// uncompressed tar, served in odd chunks. The recorder must pass the stream through unchanged;
// its lines must parse (layer/tar_split, no crc64) and name files by relative paths without
// ".."; and assembled with each file's bytes taken from the input where its content was, they
// must give back the input exactly, whatever it held (headers, long names, sparse maps,
// garbage, bytes after the end) unless the stream ends inside a file's content (then the
// record is marked unusable): the property that lets the store drop a layer's blob.
#include "fuzz_support.hpp"
#include "layer/tar_split.hpp"
#include "layer/tar_split_recorder.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(tar_split_recorder) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::MemReader src(in, 1 + size % 700);
    layer::TarSplitRecorder recorder(src);
    std::string passed;
    char buf[4096];
    while (std::size_t n = recorder.read(buf, sizeof buf)) passed.append(buf, n);
    FUZZ_CHECK(passed == in);
    const std::string lines = recorder.finish();
    FUZZ_CHECK(recorder.reproducible() || !recorder.why().empty());
    if (recorder.cut_in_file()) return 0; // its last line names bytes the stream never had
    auto entries = layer::tar_split::parse(lines, "fuzzed layer", false);
    std::uint64_t at = 0;
    std::string rebuilt;
    layer::tar_split::assemble(
        entries,
        [&](const std::string& name, std::uint64_t n) {
            FUZZ_CHECK(!name.empty() && name[0] != '/');
            FUZZ_CHECK(at + n <= in.size());
            return std::string(in.substr(at, n));
        },
        [&](std::string_view s) {
            rebuilt.append(s);
            at += s.size();
        },
        "fuzzed layer");
    FUZZ_CHECK(rebuilt == in);
    return 0;
}
