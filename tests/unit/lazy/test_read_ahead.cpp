// lazy/read_ahead: a read no stream expects fetches the initial window and nothing ahead; a
// reader going on through the blob continues its stream with a doubling window (up to the
// maximum) and from then on gets its next window asked for as soon as it reaches the last one;
// several streams at once, the least recently used replaced; and LocalMap's claim()/mark_whole()
// that the read fetcher's streamed requests use.
#include "lazy/local_map.hpp"
#include "lazy/read_ahead.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

namespace lazy_read_ahead_test {

using namespace gantry::lazy;
using Range = std::pair<std::uint64_t, std::uint64_t>;
constexpr std::uint64_t KiB = 1024, MiB = 1024 * KiB;

TEST(LazyReadAhead, ARandomReadFetchesTheInitialWindowAndNothingAhead) {
    ReadAhead ra;
    EXPECT_EQ(ra.on_miss(100 * MiB), 512 * KiB);
    ra.fetched(100 * MiB, 100 * MiB + 512 * KiB);
    EXPECT_EQ(ra.on_read(100 * MiB, 100 * MiB + 64 * KiB), std::nullopt);
    EXPECT_EQ(ra.on_read(100 * MiB + 448 * KiB, 100 * MiB + 512 * KiB), std::nullopt);
    // another read far away: a new stream, the same small window
    EXPECT_EQ(ra.on_miss(10 * MiB), 512 * KiB);
}

TEST(LazyReadAhead, ASequentialReaderGetsADoublingWindowAndItsNextOneAhead) {
    ReadAhead ra;
    EXPECT_EQ(ra.on_miss(0), 512 * KiB);
    ra.fetched(0, 512 * KiB);
    EXPECT_EQ(ra.on_read(0, 256 * KiB), std::nullopt); // not yet known to be sequential
    // the reader reaches the window's end: the stream continues, twice the window
    EXPECT_EQ(ra.on_miss(512 * KiB), 1 * MiB);
    ra.fetched(512 * KiB, 1536 * KiB);
    // its first read there asks for the next window, doubled
    EXPECT_EQ(ra.on_read(512 * KiB, 768 * KiB), (Range{1536 * KiB, 3584 * KiB}));
    EXPECT_EQ(ra.on_read(768 * KiB, 1 * MiB), std::nullopt); // asked once
    // reaching that window asks for the next, up to the maximum
    EXPECT_EQ(ra.on_read(1536 * KiB, 2 * MiB), (Range{3584 * KiB, 7680 * KiB}));
    EXPECT_EQ(ra.on_read(3584 * KiB, 4 * MiB), (Range{7680 * KiB, 11776 * KiB}));
    EXPECT_EQ(ra.on_read(7680 * KiB, 8 * MiB), (Range{11776 * KiB, 15872 * KiB}));
}

TEST(LazyReadAhead, AMissJustPastAStreamContinuesIt) {
    ReadAhead ra;
    ra.on_miss(0);
    ra.fetched(0, 512 * KiB);
    // a tar header between two files: a few bytes past the window's end
    EXPECT_EQ(ra.on_miss(512 * KiB + 1024), 1 * MiB);
    ra.fetched(512 * KiB + 1024, 1536 * KiB);
    // too far past it: a new stream
    EXPECT_EQ(ra.on_miss(1536 * KiB + ReadAhead::kGap + 1), 512 * KiB);
}

TEST(LazyReadAhead, TheWindowStopsAtTheMaximum) {
    ReadAhead ra(1 * MiB, 2 * MiB);
    std::uint64_t at = 0;
    std::vector<std::uint64_t> windows;
    for (int i = 0; i < 4; ++i) {
        std::uint64_t w = ra.on_miss(at);
        windows.push_back(w);
        ra.fetched(at, at + w);
        at += w;
    }
    EXPECT_EQ(windows, (std::vector<std::uint64_t>{1 * MiB, 2 * MiB, 2 * MiB, 2 * MiB}));
}

TEST(LazyReadAhead, StreamsOfFilesReadInTurnAreKeptApart) {
    ReadAhead ra;
    const std::uint64_t a = 0, b = 100 * MiB;
    ra.on_miss(a);
    ra.fetched(a, a + 512 * KiB);
    ra.on_miss(b);
    ra.fetched(b, b + 512 * KiB);
    EXPECT_EQ(ra.on_miss(a + 512 * KiB), 1 * MiB); // a's stream, not reset by b's read
    ra.fetched(a + 512 * KiB, a + 1536 * KiB);
    EXPECT_EQ(ra.on_miss(b + 512 * KiB), 1 * MiB);
    ra.fetched(b + 512 * KiB, b + 1536 * KiB);
    // three more streams fill the slots: the least recently used (a's) goes
    for (std::uint64_t i = 1; i <= ReadAhead::kStreams - 1; ++i) {
        ra.on_miss(1000 * MiB * i);
        ra.fetched(1000 * MiB * i, 1000 * MiB * i + 512 * KiB);
    }
    EXPECT_EQ(ra.on_miss(a + 1536 * KiB), 512 * KiB);
}

TEST(LazyReadAhead, AWindowCutShortEndsTheStreamThere) {
    ReadAhead ra;
    ra.on_miss(0);
    ra.fetched(0, 100 * KiB); // the rest was local already
    EXPECT_EQ(ra.on_miss(100 * KiB), 1 * MiB);
}

TEST(LazyReadAhead, AStreamThroughABigFileStopsAtItsEnd) {
    ReadAhead ra;
    const std::uint64_t end = 6 * MiB; // where the file ends in the blob
    EXPECT_EQ(ra.on_miss(0, end), 512 * KiB);
    ra.fetched(0, 512 * KiB);
    EXPECT_EQ(ra.on_miss(512 * KiB, end), 1 * MiB);
    ra.fetched(512 * KiB, 1536 * KiB);
    EXPECT_EQ(ra.on_read(512 * KiB, 768 * KiB, end), (Range{1536 * KiB, 3584 * KiB}));
    // the next window would run to 7.5 MiB: it stops at the file's end, and none comes after
    EXPECT_EQ(ra.on_read(1536 * KiB, 2 * MiB, end), (Range{3584 * KiB, end}));
    EXPECT_EQ(ra.on_read(3584 * KiB, 4 * MiB, end), std::nullopt);
    EXPECT_EQ(ra.on_read(5 * MiB, end, end), std::nullopt);
    // the reader goes on into the next file: a miss there continues the stream, whole window
    EXPECT_EQ(ra.on_miss(end + 1024), 4 * MiB);
    // a miss near a big file's end fetches only up to it
    ReadAhead other;
    EXPECT_EQ(other.on_miss(end - 100 * KiB, end), 100 * KiB);
}

namespace {
gantry::Fd memfd() {
    return gantry::Fd(::memfd_create("map", MFD_CLOEXEC));
}
} // namespace

TEST(LazyLocalMap, ClaimTakesWhatIsMissingOnce) {
    LocalMap m({0, 10, 20, 30, 40, 50}, memfd());
    m.mark(20, 30);
    EXPECT_EQ(m.claim(0, 50), (std::vector<Range>{{0, 20}, {30, 50}}));
    EXPECT_TRUE(m.claim(0, 50).empty()); // being fetched: nobody else takes it
    EXPECT_TRUE(m.missing(0, 50).empty());
    m.abandon(30, 50);
    EXPECT_EQ(m.claim(0, 50), (std::vector<Range>{{30, 50}}));
}

TEST(LazyLocalMap, MarkWholeMarksOnlyTheSegmentsThatArrivedWhole) {
    LocalMap m({0, 10, 20, 30, 40, 50}, memfd());
    m.claim(0, 50);
    EXPECT_EQ(m.mark_whole(0, 5), 0u); // half of the first segment: nothing yet
    EXPECT_EQ(m.mark_whole(0, 25), 20u);
    EXPECT_EQ(m.local_bytes(), 20u);
    EXPECT_EQ(m.mark_whole(20, 50), 50u);
    EXPECT_TRUE(m.complete());
    // a start inside a segment leaves that segment alone
    LocalMap n({0, 10, 20, 30}, memfd());
    EXPECT_EQ(n.mark_whole(5, 30), 30u);
    EXPECT_EQ(n.missing(0, 30), (std::vector<Range>{{0, 10}}));
}

} // namespace lazy_read_ahead_test
