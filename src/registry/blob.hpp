// A layer blob streamed from a registry for the one-pass import (store::Importer).
//
// A thread downloads the blob into ROOT/tmp/pull-<hex>.partial; the importer reads the same file
// behind it (so decompression overlaps the transfer), from byte 0: bytes kept from an earlier,
// interrupted pull are re-read and re-hashed before the download continues with an HTTP Range
// request (a server that ignores Range has the known prefix of its answer skipped). Dropped
// connections and timeouts resume the same way. Only after the importer verified the digest is
// the file renamed into blobs/ (adopt); a network failure keeps the partial file for the next
// pull, any other failure (digest mismatch, bad data) deletes it. A download abandoned for the
// rate (registry/transfer_bounds.hpp: a registry that drips) keeps it only when it holds at
// least what one window at the minimum rate moves (30 KiB by default): a drip leaves nothing.
#pragma once

#include "layer/stream.hpp"
#include "oci/image.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "util/fd.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

namespace gantry::registry {

class BlobDownload final : public layer::Reader {
  public:
    BlobDownload(Client& client, std::string repo, oci::Descriptor desc,
                 const std::filesystem::path& tmp_dir, Progress* progress, Progress::Bar* bar);
    ~BlobDownload() override;
    std::size_t read(void* buf, std::size_t n) override;
    // Renames the (verified) download to `dst`.
    void adopt(const std::filesystem::path& dst);
    // The verified download is not kept (the store keeps the layer unpacked only): removed
    void discard();

  private:
    void run();
    void transfer();
    std::uint64_t worth_keeping() const; // the partial bytes a rate failure keeps, at least
    Client& client_;
    std::string repo_;
    oci::Descriptor desc_;
    Progress* progress_;
    Progress::Bar* bar_;
    std::filesystem::path path_;
    Fd fd_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t written_ = 0; // bytes in the file
    std::uint64_t served_ = 0;  // bytes handed to the reader
    bool done_ = false;
    bool adopted_ = false;
    std::exception_ptr error_;
    bool keep_partial_ = false; // failed for a network reason: resume next time
    bool rate_failed_ = false;  // the last attempt was abandoned by a Transport bound
    std::atomic<bool> stop_{false};
    std::thread th_;
};

} // namespace gantry::registry
