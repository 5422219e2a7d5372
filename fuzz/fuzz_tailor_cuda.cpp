// Fuzzes in-place CUDA fat-binary tailoring (tailor/cuda*, with compat/fatbin as its second
// reader): arbitrary bytes, ELF or not, tailored to a few kept sets, dry run and write. Properties:
// the size never changes; a refused or unchanged outcome leaves the bytes identical; a dry run
// never writes and predicts the write's outcome; a changed file re-reads cleanly (tailoring it
// again with the same set finds nothing more to drop and refuses nothing).
#include "fuzz_support.hpp"
#include "gpu_vendors/nvidia/tailor_cuda.hpp"

using namespace gantry;
using namespace gantry::device_code;
using namespace gantry::gpu_vendors::nvidia;

GANTRY_FUZZ_TARGET(tailor_cuda) {
    const std::string input(fuzz::bytes(data, size));
    const std::vector<std::vector<unsigned>> sets = {{90}, {80, 86}, {75, 100, 120}};
    for (std::size_t i = 0; i < sets.size(); ++i) {
        KeepSet keep;
        for (unsigned sm : sets[i]) keep.by_format["cuda"].push_back("sm_" + std::to_string(sm));
        if (i == 1) keep.options.insert(kNoPtx);
        std::string bytes = input;
        auto dry = tailor_cuda(bytes, keep, "fuzz", false);
        FUZZ_CHECK(bytes == input);
        auto r = tailor_cuda(bytes, keep, "fuzz", true);
        FUZZ_CHECK(bytes.size() == input.size());
        FUZZ_CHECK(r.file_size == size);
        FUZZ_CHECK(r.left_alone.size() <= 51);
        if (r.outcome != FileReport::Outcome::changed) {
            FUZZ_CHECK(bytes == input);
            FUZZ_CHECK(r.outcome == FileReport::Outcome::refused || r.dropped.empty());
        }
        // The dry run predicts the write (only a proof failure could tell them apart).
        FUZZ_CHECK(dry.outcome == r.outcome || r.outcome == FileReport::Outcome::refused);
        if (r.outcome == FileReport::Outcome::changed) {
            FUZZ_CHECK(dry.zeroed == r.zeroed && dry.entries_after == r.entries_after);
            FUZZ_CHECK(r.zeroed > 0 && r.entries_after < r.entries_before);
            for (auto& [off, len] : r.dropped) FUZZ_CHECK(off <= size && len <= size - off);
            const std::string once = bytes;
            auto again = tailor_cuda(bytes, keep, "fuzz", true);
            FUZZ_CHECK(again.outcome == FileReport::Outcome::unchanged);
            FUZZ_CHECK(bytes == once);
            FUZZ_CHECK(again.entries_before == r.entries_after);
        }
    }
    return 0;
}
