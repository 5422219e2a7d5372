// lazy/toc_budget: one image's tables of contents charged across its layers as they are parsed:
// refused over the budget naming the image, the layer and the limit; a dropped tree given back;
// the budget from GANTRY_LAZY_TOC_MEMORY; and the charge per entry not below what the parsed
// tree and the merged lazy::Tree hold on the heap (the estimate the budget stands on).
#include "lazy/toc.hpp"
#include "lazy/toc_budget.hpp"
#include "lazy/tree.hpp"
#include "oci/digest.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <malloc.h>

namespace toc_budget_test {

using namespace gantry;
using lazy::Toc;
using lazy::TocBudget;

namespace {

// A TOC of N directories "dNNNNNNN" (the shape of the held-out 2^20-entry layer).
std::string dirs(std::size_t n, const std::string& prefix = "d") {
    std::string out = "{\"version\":1,\"entries\":[";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out += ',';
        char name[32];
        std::snprintf(name, sizeof name, "%s%07zu", prefix.c_str(), i);
        out += "{\"name\":\"" + std::string(name) + "\",\"type\":\"dir\",\"mode\":493}";
    }
    return out + "]}";
}

Toc parse(const std::string& json, const std::string& what, TocBudget* budget,
          std::uint64_t toc_offset = 1000) {
    return Toc::parse(json, toc_offset, what, lazy::TocFormat::estargz, budget);
}

struct Env {
    explicit Env(const char* value) {
        if (value)
            ::setenv("GANTRY_LAZY_TOC_MEMORY", value, 1);
        else
            ::unsetenv("GANTRY_LAZY_TOC_MEMORY");
    }
    ~Env() { ::unsetenv("GANTRY_LAZY_TOC_MEMORY"); }
};

std::size_t heap_in_use() {
    auto m = mallinfo2();
    return m.uordblks + m.hblkhd; // the arenas' blocks and the mapped ones (a big vector)
}

} // namespace

TEST(TocBudget, LayersTogetherOverTheBudgetAreRefusedNamingImageLayerAndLimit) {
    std::string json = dirs(20000);
    // one layer fits in 16 MiB (20,000 entries, ~13 MB charged), two do not
    TocBudget budget(16u << 20, "registry.test/app:1");
    Toc first = parse(json, "layer 1/2 (sha256:aa) of registry.test/app:1", &budget);
    EXPECT_EQ(first.nodes.size(), 20001u);
    EXPECT_GE(budget.used(), 20000 * lazy::kEntryBytes);
    try {
        parse(json, "layer 2/2 (sha256:bb) of registry.test/app:1", &budget);
        ADD_FAILURE() << "the second layer was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        for (const char* part : {"registry.test/app:1", "layer 2/2 (sha256:bb)", "16 MiB"})
            EXPECT_NE(e.message().find(part), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("GANTRY_LAZY_TOC_MEMORY"), std::string::npos) << e.hint();
    }
    // without a budget (a layer read on its own) the same TOC is only bounded per layer
    EXPECT_EQ(parse(json, "layer 2/2", nullptr).nodes.size(), 20001u);
}

TEST(TocBudget, ChunksLinksAndNamesAreCharged) {
    TocBudget budget(1u << 30, "i");
    std::string digest = "sha256:" + std::string(64, 'a');
    std::string json =
        R"({"version":1,"entries":[{"name":"f","type":"reg","size":10,"offset":10,"chunkSize":5,"chunkDigest":")" +
        digest +
        R"("},{"name":"f","type":"chunk","offset":20,"chunkOffset":5,"chunkSize":5,"chunkDigest":")" +
        digest + R"("},{"name":"h","type":"hardlink","linkName":"f"},)" +
        R"({"name":"s","type":"symlink","linkName":"0123456789"},{"name":".wh.x","type":"reg"}]})";
    parse(json, "layer", &budget, 30);
    EXPECT_EQ(budget.used(), 2 * (lazy::kEntryBytes + 1) + 2 * lazy::kChunkBytes +
                                 (lazy::kLinkBytes + 1) + 10 + (lazy::kLinkBytes + 1));
}

TEST(TocBudget, AnEntriesArrayGivenTwiceIsChargedOnce) {
    TocBudget budget(1u << 30, "i");
    std::string json =
        R"({"version":1,"entries":[{"name":"a","type":"dir"},{"name":"b","type":"dir"}],)"
        R"("entries":[{"name":"c","type":"dir"}]})";
    EXPECT_EQ(parse(json, "layer", &budget).nodes.size(), 2u);
    EXPECT_EQ(budget.used(), lazy::kEntryBytes + 1);
}

TEST(TocBudget, TheBudgetComesFromTheEnvironment) {
    {
        Env e(nullptr);
        EXPECT_EQ(TocBudget::configured(), lazy::kDefaultTocMemory);
    }
    {
        Env e("2g");
        EXPECT_EQ(TocBudget::configured(), 2ull << 30);
    }
    for (const char* bad : {"junk", "8m", "-1"}) {
        Env e(bad);
        try {
            TocBudget::configured();
            ADD_FAILURE() << bad << " was accepted";
        } catch (const Error& err) {
            EXPECT_EQ(err.code(), Errc::usage) << bad;
            EXPECT_NE(err.message().find("GANTRY_LAZY_TOC_MEMORY"), std::string::npos)
                << err.message();
        }
    }
}

// What the charge per entry stands on: the heap a parsed TOC of directories and the merged
// tree over two such layers hold per entry (measured here, the JSON text excluded: it is
// dropped once stored), below kEntryBytes and its name.
TEST(TocBudget, TheChargePerEntryCoversTheTreesHeap) {
    constexpr std::size_t n = 20000; // 40,000 entries: enough to amortise, cheap under ASan
    std::string a = dirs(n, "a"), b = dirs(n, "b");
    std::size_t before = heap_in_use();
    {
        std::vector<lazy::Layer> layers(2);
        layers[0].toc = parse(a, "layer 1", nullptr);
        layers[1].toc = parse(b, "layer 2", nullptr);
        for (auto& l : layers) // no registry, no local copy: nothing is read here
            l.blob = std::make_shared<lazy::RemoteBlob>(
                nullptr, "r", oci::Digest::parse("sha256:" + std::string(64, '0')), 0, Fd(),
                "layer");
        std::size_t tocs = heap_in_use() - before;
        lazy::Tree tree(std::move(layers), "the image t");
        std::size_t all = heap_in_use() - before;
        double per_entry = static_cast<double>(all) / (2 * n);
        std::printf("heap per directory entry: TOC %.0f bytes, TOC and merged tree %.0f bytes "
                    "(charged %llu + its 8-byte name)\n",
                    static_cast<double>(tocs) / (2 * n), per_entry,
                    static_cast<unsigned long long>(lazy::kEntryBytes));
        EXPECT_LT(per_entry, static_cast<double>(lazy::kEntryBytes + 8));
    }
}

} // namespace toc_budget_test
