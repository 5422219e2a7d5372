// lazy/local_map and lazy/prefetch's plan: segments cut at chunk boundaries, what is missing,
// marks kept in the map file (a damaged one read as nothing local), pieces bounded in size, and
// the prefetch's order (the working set, the landmark's prioritised range, then everything).
#include "lazy/local_map.hpp"
#include "lazy/prefetch.hpp"

#include <chrono>
#include <cstdio>
#include <future>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

namespace lazy_local_map_test {

using namespace gantry;
using namespace gantry::lazy;
using Ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

namespace {

// A TOC of one file in chunks [10,100) [100,250) and one at [250,400) with two files inside
// (the second at innerOffset), TOC at 400 of a 451-byte blob.
Toc sample() {
    Toc t;
    t.toc_offset = 400;
    t.nodes.resize(3);
    t.nodes[1].chunks = {{Codec::gzip, 10, 100, 0, 0, 50, ""},
                         {Codec::gzip, 100, 250, 0, 50, 50, ""}};
    t.nodes[2].chunks = {{Codec::gzip, 250, 400, 0, 0, 10, ""},
                         {Codec::gzip, 250, 400, 10, 10, 10, ""}};
    return t;
}

Fd memfd() {
    return Fd(::memfd_create("map", MFD_CLOEXEC));
}

} // namespace

TEST(LazyLocalMap, SegmentsAtChunkBoundaries) {
    EXPECT_EQ(LocalMap::boundaries(sample(), 451),
              (std::vector<std::uint64_t>{0, 10, 100, 250, 400, 451}));
}

TEST(LazyLocalMap, MissingMarkAndBytes) {
    LocalMap m(LocalMap::boundaries(sample(), 451), memfd());
    EXPECT_EQ(m.missing(0, 451), (Ranges{{0, 451}}));
    m.mark(100, 250);
    EXPECT_EQ(m.missing(0, 451), (Ranges{{0, 100}, {250, 451}}));
    EXPECT_EQ(m.missing(120, 200), Ranges{});
    EXPECT_EQ(m.local_bytes(), 150u);
    EXPECT_FALSE(m.complete());
    m.mark(0, 100);
    m.mark(250, 451);
    EXPECT_TRUE(m.complete());
    m.clear();
    EXPECT_EQ(m.local_bytes(), 0u);
}

TEST(LazyLocalMap, MarksSurviveInTheFileAndADamagedOneIsEmpty) {
    Fd fd = memfd();
    int raw = fd.get();
    {
        LocalMap m(LocalMap::boundaries(sample(), 451), Fd(::dup(raw)));
        m.mark(10, 100);
    }
    LocalMap again(LocalMap::boundaries(sample(), 451), Fd(::dup(raw)));
    EXPECT_EQ(again.local_bytes(), 90u);
    // a byte neither 0 nor 1: that segment is not local
    ASSERT_EQ(::pwrite(raw, "\x07", 1, 2), 1);
    LocalMap odd(LocalMap::boundaries(sample(), 451), Fd(::dup(raw)));
    EXPECT_EQ(odd.local_bytes(), 90u);
    // a map of another shape (6 segments, not 5): nothing local
    ASSERT_EQ(::ftruncate(raw, 6), 0);
    ASSERT_EQ(::pwrite(raw, "\1\1\1\1\1\1", 6, 0), 6);
    LocalMap other(LocalMap::boundaries(sample(), 451), Fd(::dup(raw)));
    EXPECT_EQ(other.local_bytes(), 0u);
}

TEST(LazyLocalMap, SegmentsBeingFetchedAreNotMissingAndAreWaitedFor) {
    LocalMap m(LocalMap::boundaries(sample(), 451), memfd());
    m.fetching(100, 250);
    EXPECT_EQ(m.missing(0, 451), (Ranges{{0, 100}, {250, 451}}));
    EXPECT_EQ(m.local_bytes(), 0u);
    std::thread t([&] { m.mark(100, 250); });
    m.wait_fetching(100, 250, std::chrono::seconds(30));
    t.join();
    EXPECT_EQ(m.local_bytes(), 150u);
    m.fetching(0, 100);
    m.abandon(0, 100);
    EXPECT_EQ(m.missing(0, 100), (Ranges{{0, 100}}));
    // a fetch that never ends: the reader waits TIMEOUT, then goes on
    m.fetching(250, 400);
    m.wait_fetching(250, 400, std::chrono::milliseconds(10));
}

TEST(LazyLocalMap, PiecesAreBoundedAndCutAtSegments) {
    LocalMap m(LocalMap::boundaries(sample(), 451), Fd());
    EXPECT_EQ(m.pieces(0, 451, 1000), (Ranges{{0, 451}}));
    EXPECT_EQ(m.pieces(0, 451, 100), (Ranges{{0, 100}, {100, 250}, {250, 400}, {400, 451}}));
    EXPECT_EQ(m.pieces(0, 451, 260), (Ranges{{0, 250}, {250, 451}}));
}

TEST(LazyPrefetchPlan, WorkingSetThenLandmarkThenEverything) {
    Toc t = sample();
    t.prefetch_landmark = 250;
    std::vector<PrefetchLayer> layers{
        {&t, nullptr, std::make_shared<LocalMap>(LocalMap::boundaries(t, 451), Fd())}};
    // an offset the TOC does not name as a chunk's start, and a layer that is not there: unused
    auto p = plan(layers, {{0, 250}, {0, 11}, {3, 10}, {0, 10}}, 1000);
    std::vector<Piece> want = {
        {0, 250, 400, true}, {0, 10, 100, true}, {0, 0, 250, false}, {0, 0, 451, false}};
    EXPECT_EQ(p, want);
}

TEST(LazyPrefetchPlan, WorkingSetChunksCloseInTheBlobAreOneRequest) {
    Toc t = sample();
    std::vector<PrefetchLayer> layers{
        {&t, nullptr, std::make_shared<LocalMap>(LocalMap::boundaries(t, 451), Fd())}};
    auto p = plan(layers, {{0, 10}, {0, 250}, {0, 100}}, 1000);
    ASSERT_GE(p.size(), 1u);
    EXPECT_EQ(p[0], (Piece{0, 10, 400, true}));
    // bounded by the piece size
    p = plan(layers, {{0, 10}, {0, 250}}, 200);
    EXPECT_EQ(p[0], (Piece{0, 10, 100, true}));
    EXPECT_EQ(p[1], (Piece{0, 250, 400, true}));
}

// The prefetch beyond a recorded working set (ReadPriority::hold_for_working_set) starts nothing
// before the container's first read, nor within kQuiet of its last read of a working-set chunk;
// a read outside the working set lets it go at once; without a working set only reads that
// wait on the registry hold it.
TEST(LazyReadPriority, HeldForTheWorkingSetUntilTheContainerPausesOrLeavesIt) {
    using namespace std::chrono;
    ReadPriority plain;
    auto t0 = steady_clock::now();
    plain.wait_idle();
    EXPECT_LT(steady_clock::now() - t0, ReadPriority::kQuiet);
    plain.container_read(true); // not held: no effect
    plain.wait_idle();

    ReadPriority p;
    p.hold_for_working_set();
    auto waiter = std::async(std::launch::async, [&] { p.wait_idle(); });
    // no read yet: still waiting after several kQuiet
    EXPECT_EQ(waiter.wait_for(3 * ReadPriority::kQuiet), std::future_status::timeout);
    auto read_at = steady_clock::now();
    p.container_read(true);
    ASSERT_EQ(waiter.wait_for(seconds(10)), std::future_status::ready);
    EXPECT_GE(steady_clock::now() - read_at, ReadPriority::kQuiet);

    ReadPriority q; // a first read outside the working set: the prefetch goes on at once
    q.hold_for_working_set();
    auto gate = std::async(std::launch::async, [&] { q.wait_idle(); });
    EXPECT_EQ(gate.wait_for(3 * ReadPriority::kQuiet), std::future_status::timeout);
    q.container_read(false);
    EXPECT_EQ(gate.wait_for(seconds(10)), std::future_status::ready);
}

} // namespace lazy_local_map_test
