// lazy/remote_blob: one layer blob in a registry, read by HTTP Range requests into a local sparse
// copy (ROOT/lazy/blobs/<hex>, the blob's bytes at their own offsets), and the chunks of its
// table of contents served from there only after their sha256 matched.
//
// A chunk is looked for in the local copy first (a hole reads as zeros, which never match its
// digest), then fetched with one Range request for its compressed bytes and written to the copy.
// Network failures are retried with backoff by the registry client (ClientOptions::retries) and
// then fail with Error(network) naming the layer and the registry; a chunk whose bytes do not
// match is Error(invalid) and none of it is served. chunk() is used by one thread (the FUSE
// server's loop); fetch_range() by any (the prefetch's, lazy/prefetch.hpp).
#pragma once

#include "lazy/toc.hpp"
#include "oci/digest.hpp"
#include "registry/client.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace gantry::lazy {

// The container's reads before the prefetch: a read that goes to the registry holds a Reader
// for as long as it waits; the prefetch starts no request while one is held, nor until kQuiet
// has passed since the last one ended (a container reading file after file sends its requests
// back to back: the prefetch would take the link between them).
// With a recorded working set (hold_for_working_set()), the prefetch beyond it also waits for
// kQuiet after any container read, local or not (and until its first), until the container
// reads a chunk outside the working set: a start that reads what the set holds gets the link and
// the CPU to itself (the rest of the image fetched meanwhile doubled such a start on a loaded
// machine).
class ReadPriority {
  public:
    static constexpr std::chrono::milliseconds kQuiet{50};
    class Reader {
      public:
        explicit Reader(ReadPriority* p) : p_(p) {
            if (p_) p_->reads_.fetch_add(1);
        }
        ~Reader() {
            if (!p_) return;
            std::lock_guard hold(p_->mu_);
            p_->last_ = std::chrono::steady_clock::now();
            if (p_->reads_.fetch_sub(1) == 1) p_->idle_.notify_all();
        }
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

      private:
        ReadPriority* p_;
    };
    void hold_for_working_set() { held_.store(true); }
    // A container read of a chunk (IN_WORKING_SET: one the recorded working set names).
    void container_read(bool in_working_set) {
        if (!held_.load(std::memory_order_relaxed)) return;
        if (!in_working_set) {
            held_.store(false);
            idle_.notify_all();
            return;
        }
        last_read_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                         std::memory_order_relaxed);
    }
    // Returns once no container read waits on the registry and none ended in the last kQuiet
    // (and, while held for a working set, no container read at all in the last kQuiet).
    void wait_idle() {
        std::unique_lock hold(mu_);
        for (;;) {
            idle_.wait(hold, [this] { return reads_.load() == 0; });
            auto quiet_at = last_ + kQuiet;
            if (held_.load()) {
                if (last_read_.load() == 0) { // the container has not read yet
                    idle_.wait_for(hold, kQuiet);
                    continue;
                }
                auto read_at = std::chrono::steady_clock::time_point(
                    std::chrono::steady_clock::duration(last_read_.load()));
                quiet_at = std::max(quiet_at, read_at + kQuiet);
            }
            if (std::chrono::steady_clock::now() >= quiet_at) return;
            idle_.wait_until(hold, quiet_at);
        }
    }

  private:
    std::atomic<int> reads_{0};
    std::atomic<bool> held_{false};
    std::atomic<std::chrono::steady_clock::rep> last_read_{0};
    std::mutex mu_;
    std::condition_variable idle_;
    std::chrono::steady_clock::time_point last_{};
};

class RemoteBlob {
  public:
    // CLIENT: the registry serving REPO (null: only the local copy is read); CACHE: the local
    // copy (opened read-write);
    // WHAT: "layer sha256:… of IMAGE" in messages.
    RemoteBlob(std::shared_ptr<registry::Client> client, std::string repo, oci::Digest digest,
               std::uint64_t size, Fd cache, std::string what);

    // Bytes [offset, offset + length) from the registry (Range request); not verified.
    std::string fetch(std::uint64_t offset, std::size_t length);
    // The same, from any thread (no fail-fast memory, not counted in fetched_bytes()).
    std::string fetch_range(std::uint64_t offset, std::size_t length) const;
    // Bytes [begin, end) fetched into the local copy, unverified (a container read's
    // read-ahead: the chunks there are verified when read), as a container read (priority).
    void fill(std::uint64_t begin, std::uint64_t end);
    // Bytes [offset, offset + length) written to the local copy as they arrive (unverified, as
    // fill()): ARRIVED(end) after each piece, the bytes [offset, end) being in the copy (a
    // retry starts over from offset). From any thread; a failure is remembered as fetch()'s is
    // (the reads right after it fail at once) and thrown.
    void stream_into_copy(std::uint64_t offset, std::size_t length,
                          const std::function<void(std::uint64_t)>& arrived);
    // CHUNK's bytes, verified (from the local copy, else fetched and kept there).
    std::shared_ptr<const std::string> chunk(const Chunk& chunk);

    int cache_fd() const { return cache_.get(); }
    std::uint64_t size() const { return size_; }
    const oci::Digest& digest() const { return digest_; }
    // Container reads that go to the registry hold PRIORITY while they wait.
    void set_priority(std::shared_ptr<ReadPriority> priority) { priority_ = std::move(priority); }
    void close_connections() { client_->close_idle(); }
    const std::string& what() const { return what_; }
    std::uint64_t fetched_bytes() const { return fetched_.load(); }

  private:
    std::shared_ptr<registry::Client> client_;
    std::string repo_;
    oci::Digest digest_;
    std::uint64_t size_;
    Fd cache_;
    std::string what_;
    std::atomic<std::uint64_t> fetched_{0};
    std::shared_ptr<ReadPriority> priority_;
    // a failed fetch (after its retries): the reads right after it fail at once with the same
    // error, so a registry gone costs one bounded wait, not one per read the kernel sends
    // (fetch() on the FUSE thread, stream_into_copy() on the read fetcher's: under failed_mu_)
    void check_failed() const;
    // E (a failed request) as what_ names it, and the registry, with the fix
    Error unanswered(const Error& e) const;
    // Error(invalid) when R is a 206 whose Content-Range (when given) is not the range asked,
    // [OFFSET, OFFSET + LENGTH): refused before a byte of it is written
    void check_content_range(const registry::Response& r, std::uint64_t offset,
                             std::size_t length) const;
    void remember(const Error& e);
    void succeeded(std::uint64_t length); // a fetch of LENGTH bytes: counted, failed_ forgotten
    mutable std::mutex failed_mu_;
    std::optional<Error> failed_;
    std::chrono::steady_clock::time_point failed_at_;
    // the last chunks inflated (a 4 MiB chunk is read by the kernel in 128 KiB requests), each
    // verified against DIGEST: a hit must be a chunk naming the same one
    struct Inflated {
        std::uint64_t offset, inner_offset;
        Codec codec;
        std::string digest;
        std::shared_ptr<const std::string> data;
    };
    std::list<Inflated> recent_;
};

} // namespace gantry::lazy
