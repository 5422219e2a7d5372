// Fuzzes the analyzer's layer scan (analyze/scan, analyze/tarin): a layer blob (plain tar, gzip
// or zstd) read entry by entry, with the ELF files in it inspected for debug sections, CUDA fat
// binaries and HIP offload bundles, as `gantry analyze` and `gantry slim` read image layers.
#include "analyze/scan.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(analyze_layer) {
    fuzz::MemReader in(fuzz::bytes(data, size));
    analyze::ScanOptions opt;
    opt.what = "fuzzed layer";
    opt.threads = 1;
    fuzz::expect_error([&] {
        auto scan = analyze::scan_layer(in, opt);
        FUZZ_CHECK(scan.blob_size == size);
        for (auto& e : scan.entries) { // normalised: relative, no "..", "." or empty parts
            FUZZ_CHECK(!e.path.starts_with("/"));
            std::string_view rest = e.path;
            while (!rest.empty()) {
                auto [part, tail] = fuzz::split_once(rest, "/");
                FUZZ_CHECK(!part.empty() && part != "." && part != "..");
                if (part.size() == rest.size()) break;
                rest = tail;
                FUZZ_CHECK(!rest.empty());
            }
        }
    });
    return 0;
}
