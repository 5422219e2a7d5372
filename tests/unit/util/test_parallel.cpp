// util/parallel: parallel_for's first failure and BackgroundQueue's order, failures and drain.
#include "util/parallel.hpp"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace util_parallel_test {

using gantry::BackgroundQueue;
using gantry::parallel_for;

TEST(ParallelFor, RunsEveryIndexAndRethrowsTheFirstFailure) {
    std::vector<std::atomic<int>> seen(64);
    parallel_for(seen.size(), 4, [&](std::size_t i) { seen[i]++; });
    for (auto& s : seen) EXPECT_EQ(s.load(), 1);
    EXPECT_THROW(parallel_for(8, 2,
                              [](std::size_t i) {
                                  if (i == 3) throw std::runtime_error("three");
                              }),
                 std::runtime_error);
}

TEST(BackgroundQueue, RunsStepsInOrderOffTheCallersThread) {
    std::vector<int> order;
    std::thread::id caller = std::this_thread::get_id(), ran;
    BackgroundQueue q;
    for (int i = 0; i < 50; ++i)
        q.post([&, i] {
            if (i == 0) {
                ran = std::this_thread::get_id();
                // a slow first step: post() must not wait for it
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            order.push_back(i);
        });
    q.finish();
    ASSERT_EQ(order.size(), 50u);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
    EXPECT_NE(ran, caller);
}

TEST(BackgroundQueue, AFailureDropsTheRestAndFinishRethrowsIt) {
    int ran = 0;
    auto dropped = std::make_shared<int>(0); // a dropped step is destroyed: its captures freed
    std::weak_ptr<int> watch = dropped;
    BackgroundQueue q;
    q.post([&] {
        ++ran;
        throw std::runtime_error("disk full");
    });
    q.post([&ran, dropped] { ++ran; });
    dropped.reset();
    try {
        q.finish();
        FAIL() << "finish() did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "disk full");
    }
    EXPECT_EQ(ran, 1);
    EXPECT_TRUE(watch.expired());
}

TEST(BackgroundQueue, DestroyedWithoutFinishStillRunsWhatWasPosted) {
    std::atomic<int> ran{0};
    {
        BackgroundQueue q;
        for (int i = 0; i < 10; ++i) q.post([&] { ++ran; });
        q.post([] { throw std::runtime_error("dropped with the queue"); });
    }
    EXPECT_EQ(ran.load(), 10);
}

} // namespace util_parallel_test
