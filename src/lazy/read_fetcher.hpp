// lazy/read_fetcher: the container reads' fetches, made by worker threads of the serving process
// so that the FUSE thread verifies and serves while bytes arrive. A read that misses hands its
// window (lazy/read_ahead.hpp) over as urgent and waits only for its own chunk's segments
// (LocalMap::wait_fetching): the response is written to the local copy and marked segment by
// segment as it streams in (RemoteBlob::stream_into_copy), so the first chunk is verified and
// served before the whole window arrived. A sequential reader's next window is handed over as a
// read-ahead (behind urgent ones) and fetched while the reader works through this one.
//
// Nothing is served unverified: the workers only write the local copy; every chunk is checked
// against its digest when it is read (RemoteBlob::chunk). A worker's request is a container
// read for the prefetch (it holds a ReadPriority::Reader). A failed request gives its segments
// back (LocalMap::abandon) and the blob remembers the error, so the read waiting on it fails at
// once with it (EIO naming layer and registry), after the registry client's bounded retries.
// The threads start on the first submit(), in the serving process once it is confined (its
// seccomp list has clone3), are detached and end with the process.
#pragma once

#include "lazy/local_map.hpp"
#include "lazy/remote_blob.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace gantry::lazy {

class ReadFetcher {
  public:
    static constexpr unsigned kThreads = 2; // an urgent read next to a read-ahead in flight

    explicit ReadFetcher(std::shared_ptr<ReadPriority> priority, unsigned threads = kThreads);
    ~ReadFetcher(); // the threads stop after their request
    ReadFetcher(const ReadFetcher&) = delete;
    ReadFetcher& operator=(const ReadFetcher&) = delete;

    // Fetches what MAP says BLOB's copy lacks of [BEGIN, END) (claimed now: a read of it waits
    // for this fetch). URGENT: a read waits on it (ahead of read-aheads in the queue).
    void submit(std::shared_ptr<RemoteBlob> blob, std::shared_ptr<LocalMap> map,
                std::uint64_t begin, std::uint64_t end, bool urgent);

  private:
    struct Job {
        std::shared_ptr<RemoteBlob> blob;
        std::shared_ptr<LocalMap> map;
        std::uint64_t begin, end;
        bool urgent = false; // a read waits on it (else a read-ahead)
    };
    struct State {
        std::mutex mu;
        std::condition_variable ready;
        std::deque<Job> jobs;
        bool stop = false;
        unsigned started = 0;
        std::shared_ptr<ReadPriority> priority;
    };
    static void work(std::shared_ptr<State> s);
    std::shared_ptr<State> state_;
    unsigned threads_;
};

} // namespace gantry::lazy
