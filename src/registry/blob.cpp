#include "registry/blob.hpp"

#include "registry/transfer_bounds.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::registry {

BlobDownload::BlobDownload(Client& client, std::string repo, oci::Descriptor desc,
                           const std::filesystem::path& tmp_dir, Progress* progress,
                           Progress::Bar* bar)
    : client_(client), repo_(std::move(repo)), desc_(std::move(desc)), progress_(progress),
      bar_(bar) {
    path_ = tmp_dir / ("pull-" + desc_.digest.hex() + ".partial");
    fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd_) throw_errno("cannot create " + path_.string());
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        // another pull is downloading the same blob: download our own copy
        path_ = tmp_dir / ("pull-" + desc_.digest.hex() + "-" + fs::unique_name() + ".partial");
        fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd_) throw_errno("cannot create " + path_.string());
    }
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot stat " + path_.string());
    written_ = static_cast<std::uint64_t>(st.st_size);
    if (desc_.size > 0 && written_ > static_cast<std::uint64_t>(desc_.size)) {
        if (::ftruncate(fd_.get(), 0) != 0) throw_errno("cannot truncate " + path_.string());
        written_ = 0;
    }
    if (written_ > 0)
        log::debug("blob " + desc_.digest.str() + ": " + std::to_string(written_) +
                   " bytes kept from an interrupted pull; re-verifying them and resuming");
    if (progress_) progress_->start(bar_, static_cast<std::int64_t>(written_));
    th_ = std::thread([this] { run(); });
}

BlobDownload::~BlobDownload() {
    stop_ = true;
    cv_.notify_all();
    if (th_.joinable()) th_.join();
    if (!adopted_ && !keep_partial_) ::unlink(path_.c_str());
    if (progress_ && !adopted_)
        progress_->finish(bar_, Progress::State::failed,
                          keep_partial_ ? "interrupted; kept for resuming" : "");
}

void BlobDownload::adopt(const std::filesystem::path& dst) {
    fs::sync_file(fd_.get(), "blob " + desc_.digest.str()); // its data before its name
    if (::rename(path_.c_str(), dst.c_str()) != 0)
        throw_errno("cannot store blob " + desc_.digest.str());
    adopted_ = true;
    fs::sync_dir(dst.parent_path());
    if (progress_) progress_->finish(bar_, Progress::State::done);
}

void BlobDownload::discard() {
    // truncated first: its pages are dropped, not written back by the syncfs that makes the
    // layer durable (the download is open until this object goes, and syncfs writes every
    // dirty inode of the filesystem, unlinked or not)
    (void)::ftruncate(fd_.get(), 0);
    ::unlink(path_.c_str());
    adopted_ = true;
    if (progress_) progress_->finish(bar_, Progress::State::done);
}

std::size_t BlobDownload::read(void* buf, std::size_t n) {
    std::uint64_t off, k;
    {
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return served_ < written_ || done_ || error_; });
        if (served_ >= written_) {
            if (error_) std::rethrow_exception(error_);
            return 0;
        }
        off = served_;
        k = std::min<std::uint64_t>(n, written_ - served_);
    }
    for (;;) {
        ssize_t r = ::pread(fd_.get(), buf, k, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw_errno("cannot read back " + path_.string());
        std::lock_guard l(mu_);
        served_ += static_cast<std::uint64_t>(r);
        return static_cast<std::size_t>(r);
    }
}

void BlobDownload::run() {
    try {
        transfer();
        std::lock_guard l(mu_);
        done_ = true;
    } catch (const Error& e) {
        std::lock_guard l(mu_);
        error_ = std::current_exception();
        keep_partial_ = e.code() == Errc::network && written_ > 0 &&
                        (!rate_failed_ || written_ >= worth_keeping());
    } catch (...) {
        std::lock_guard l(mu_);
        error_ = std::current_exception();
    }
    cv_.notify_all();
}

std::uint64_t BlobDownload::worth_keeping() const {
    const Transport& t = client_.options().transport;
    TransferBounds b;
    if (t.min_rate <= 0 || t.stall_timeout <= 0) b = transfer_bounds();
    const long rate = t.min_rate > 0 ? t.min_rate : b.min_rate;
    const long window = t.stall_timeout > 0 ? t.stall_timeout : b.rate_window;
    return static_cast<std::uint64_t>(rate) * static_cast<std::uint64_t>(window);
}

void BlobDownload::transfer() {
    const std::uint64_t size = desc_.size > 0 ? static_cast<std::uint64_t>(desc_.size) : 0;
    const std::string what = "blob " + desc_.digest.str() + " of " + repo_;
    unsigned attempt = 0;
    bool restarted = false;
    std::string bound_hint; // the last attempt was abandoned by a Transport bound: its fix
    for (;;) {
        std::uint64_t offset;
        {
            std::lock_guard l(mu_);
            offset = written_;
        }
        if (size && offset == size) return; // all there (verified by the reader's hash)
        if (stop_) return;
        HttpRequest req;
        if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
        std::uint64_t skip = 0;
        req.on_headers = [&](const Response& r) {
            if (r.status == 206) {
                std::string cr = r.header("content-range"); // "bytes START-END/TOTAL"
                unsigned long long start = 0;
                if (std::sscanf(cr.c_str(), "bytes %llu-", &start) != 1 || start > offset)
                    throw Error(Errc::network,
                                what + ": the registry answered the range request with \"" + cr +
                                    "\"",
                                "retry the pull");
                skip = offset - start;
            } else if (r.status == 200 && offset > 0) {
                skip = offset; // Range ignored: skip what we already have
                log::debug(what + ": the server ignored the Range request; skipping " +
                           std::to_string(offset) + " bytes");
            }
        };
        req.sink = [&](const char* p, std::size_t n) {
            if (stop_) return false;
            if (skip) {
                std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(skip, n));
                skip -= k;
                p += k;
                n -= k;
                if (!n) return true;
            }
            std::uint64_t at;
            {
                std::lock_guard l(mu_);
                at = written_;
            }
            if (size && at + n > size)
                throw Error(Errc::invalid,
                            what + ": the registry sent more than the " + std::to_string(size) +
                                " bytes the manifest lists",
                            "the registry serves a different blob than the manifest names; report "
                            "it to its operator");
            std::size_t done = 0;
            while (done < n) {
                ssize_t w = ::pwrite(fd_.get(), p + done, n - done, static_cast<off_t>(at + done));
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) throw_errno("cannot write " + path_.string());
                done += static_cast<std::size_t>(w);
            }
            {
                std::lock_guard l(mu_);
                written_ += n;
            }
            if (bar_) bar_->bytes += static_cast<std::int64_t>(n);
            cv_.notify_all();
            return true;
        };
        req.cancelled = [this] { return stop_.load(); };
        Response r;
        std::string failure;
        bound_hint.clear();
        try {
            r = client_.call(req, "/v2/" + repo_ + "/blobs/" + desc_.digest.str(),
                             {"repository:" + repo_ + ":pull"}, Retry::status_only);
        } catch (const TransportError& e) {
            if (stop_) return;
            if (e.tls()) throw;
            failure = e.message();
            if (e.bound()) bound_hint = e.hint();
        }
        if (failure.empty()) {
            if (r.status == 416 && offset > 0 && !restarted) { // our partial file is wrong
                restarted = true;
                std::lock_guard l(mu_);
                if (served_ == 0) {
                    if (::ftruncate(fd_.get(), 0) != 0)
                        throw_errno("cannot truncate " + path_.string());
                    written_ = 0;
                    continue;
                }
            }
            if (r.status < 200 || r.status >= 300) client_.fail(r, what, repo_);
            std::lock_guard l(mu_);
            if (!size || written_ == size) return;
            failure = "the connection ended after " + std::to_string(written_) + " of " +
                      std::to_string(size) + " bytes";
        }
        if (attempt >= client_.options().retries) {
            std::uint64_t have;
            {
                std::lock_guard l(mu_);
                have = written_;
            }
            rate_failed_ = !bound_hint.empty();
            std::string kept = have && (!rate_failed_ || have >= worth_keeping())
                                   ? "the " + human_bytes(static_cast<std::int64_t>(have)) +
                                         " received are kept: pull again to resume"
                                   : "";
            throw Error(Errc::network,
                        "download of " + what + " from " + client_.domain() + " failed after " +
                            std::to_string(attempt + 1) + " attempt(s): " + failure,
                        !bound_hint.empty() ? bound_hint + (kept.empty() ? "" : "; " + kept)
                        : have              ? kept
                               : "check that the registry is running and reachable, then pull "
                                 "again");
        }
        log::debug(what + ": " + failure + "; resuming");
        client_.sleep_before_retry(attempt++, nullptr);
    }
}

} // namespace gantry::registry
